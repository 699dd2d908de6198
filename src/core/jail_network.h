// The jail lifecycle operations behind vnetd-hook and the daemon's hook requests, per
// jail(8)'s order (usr.sbin/jail/jail.c startcommands/stopcommands: exec.prestart,
// create, exec.created, vnet.interface, exec.start, command, exec.poststart; exec.prestop,
// exec.stop, remove, exec.poststop):
//
//   prestart  (host, before the jail exists): record the jail's pairs in the state store
//             (intent: names, MACs, addresses), then create each configured pair — stable
//             names, MACs and description, MTU of the bridge, host side joined to the bridge
//             before it is brought up — creating the bridge (address, up) if missing.
//             Returns the jail-side names.
//   created   (host, jail exists): move the jail sides in if still on the host, then
//             inside the jail: rename if configured, lo up, IPv6 on where an address6 is
//             configured, addresses, up, default routes. When the first `created` after a
//             prestart fails, it removes what prestart made: jail(8) unwinds a failed start
//             without running exec.poststop (usr.sbin/jail/command.c next_command).
//   poststart (host, after the jail's own rc ran): the in-jail part of `created` again —
//             rc.d/netif switches IPv6 off on every interface but lo0 unless
//             ipv6_activate_all_interfaces="YES" (libexec/rc/network.subr ifconfig_up).
//   prestop   (host, jail still running): take the jail sides back to the host, by their
//             recorded names and MACs, so that a dying jail cannot hold them. Absent ones
//             are fine; the hook never fails a stop for it (a failed exec.prestop makes
//             jail(8) skip the removal).
//   poststop  (host, jail gone): destroy the pairs vnetd recorded for the jail, and remove
//             the rctl limits its record says prestart applied (not the configuration's
//             limits of today: one dropped from the config while the jail ran would
//             survive into the next jail of that name). Refused (nothing changed) while a
//             jail of that name runs with its own stack.
//
// Every phase holds the state-store lock for its whole duration (concurrent hooks
// serialise), is idempotent, and checks identity before touching a kernel object: an
// interface is only destroyed when the state store says vnetd created it AND its MAC
// still matches the record. prestart rolls back everything it created (and its record)
// when any step fails. The platform objects are injected, so the same code serves the
// standalone hook and the daemon, on FreeBSD and Linux.
//
// Threading: one JailNetwork per thread; calls are synchronous.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/hook_phase.h"
#include "core/jail_inside.h"
#include "core/result.h"
#include "core/state_store.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"

namespace vnetd {

class UndoLog;  // jail_network.cc

struct HookOutcome {
  std::vector<std::string> jail_side_names;  // prestart: printed one per line
  bool changed = false;                      // false: nothing to do (idempotent repeat)
  // created, poststart: the jail's stack as the phase left it (read with the stack the
  // phase had open), for the daemon's status; nullopt for other phases, if unreadable, or
  // when the caller did not ask for it (JailNetwork::reportInside).
  std::optional<JailInside> inside;
};

class JailNetwork {
 public:
  JailNetwork(const Config& config, const StateStore& store, platform::NetStack& host,
              platform::Jails& jails, platform::Policy& policy, std::string host_id)
      : config_(config), store_(store), host_(host), jails_(jails), policy_(policy), host_id_(std::move(host_id)) {}

  // Whether created, poststart and repairRunning read the jail's stack once more when
  // done, to hand it to the daemon's status (HookOutcome::inside): two dumps inside the
  // jail that only a daemon has a use for. Off unless asked for.
  void reportInside(bool on) { report_inside_ = on; }

  Result<HookOutcome> run(HookPhase phase, const std::string& jail);

  Result<HookOutcome> prestart(const std::string& jail);
  Result<HookOutcome> created(const std::string& jail);
  Result<HookOutcome> poststart(const std::string& jail);
  Result<HookOutcome> prestop(const std::string& jail);
  Result<HookOutcome> poststop(const std::string& jail);

  // The daemon's orphan collection: poststop's teardown, but only if, under the state
  // lock, the jail is still not running and its record is still exactly `seen` (a hook
  // that ran in between wins). Nothing to do → changed == false.
  Result<HookOutcome> collectOrphan(const std::string& jail, const JailRecord& seen);

  // The daemon's repair of a running jail whose pair was destroyed by hand (deleting
  // either end destroys both: Linux veth; FreeBSD sys/net/if_epair.c epair_clone_destroy
  // destroys the other side in its own vnet): each recorded interface whose host side is
  // gone from the host and whose jail side is gone from the jail is made anew with the
  // record's names, MACs and description, the jail side directly inside the jail (as a
  // prestart on a running jail does), then the inside is configured as `created` does it
  // (addresses, IPv6, up, default routes). Only if, under the state lock, the record is
  // still exactly `seen` in phase "created" and the jail runs with its own stack; the
  // record is not changed (its identity is what is made again) and no limits are touched.
  // All or nothing: a failure takes the new pairs away again, so the next pass still sees
  // the loss. Nothing to do → changed == false; `inside` as created reports it.
  Result<HookOutcome> repairRunning(const std::string& jail, const JailRecord& seen);

  // Creates the bridge (vlans, uplinks, address, up, NAT) if missing; an existing one is
  // brought up and given its configured addresses. The daemon's start, reload and repair.
  Result<void> ensureBridgeReady(const BridgeConfig& br);

  // True when `link` carries the MAC vnetd derives for the host side of (jail, index)
  // from this host's id, and its description is vnetd's or still empty — i.e. it was
  // made by vnetd even though no record says so (a prestart killed before saving).
  bool isInterruptedPrestartLeftover(const platform::LinkInfo& link, const std::string& jail, unsigned index) const;

 private:
  // Issue 19: the jail's forwards (core/expose_targets.h) loaded at created, removed at
  // teardown (poststop, orphan collection, a failed first created).
  Result<void> applyExposes(const std::string& jail, const JailConfig& cfg, const JailRecord& rec);
  Result<void> removeExposes(const std::string& jail);
  Result<HookOutcome> teardown(const StateLock& lock, State& state, const std::string& jail);
  // Destroys the recorded pairs of `rec` that still exist (by name, MAC checked).
  Result<bool> destroyPairs(const std::string& jail, const JailRecord& rec);
  // Destroys unrenamed or half-made pairs of an interrupted creation of rec's interfaces.
  Result<void> destroyCreationLeftovers(const std::string& jail, const JailRecord& rec);
  // Removes the limits `recorded` names that `wanted` has not (same resource and action),
  // before prestart records and applies `wanted` for a new start.
  Result<void> removeStaleLimits(const std::string& jail, const std::optional<RctlLimits>& recorded,
                                 const RctlLimits& wanted);
  // The in-jail configuration of created and poststart; `move_in`: jail sides still on
  // the host are moved in (created), else their absence is an error (poststart).
  Result<void> configureInside(const JailConfig& cfg, JailRecord& rec, const platform::JailInfo& info,
                               bool move_in, HookOutcome& out);
  Result<HookOutcome> createdLocked(const StateLock& lock, State& state, const std::string& jail,
                                    const JailConfig& cfg, const platform::JailInfo& info);
  // The bridge as it is once ready (its index and MTU are what pairs need).
  Result<platform::LinkInfo> ensureBridge(const BridgeConfig& br, UndoLog& undo);
  Result<void> ensureBridgeAddresses(const BridgeConfig& br, uint32_t index);
  // What the kernel shows in use that "auto" must not hand out, read once per prestart
  // (and only when it allocates): the state may not know every running jail (lost or
  // restored from an old copy).
  struct KernelAddresses {
    std::vector<IpAddress> in_jails;                          // inside running jails without a record
    std::map<std::string, std::vector<IpAddress>> on_bridge;  // bridge ifname → its own addresses
    std::map<std::string, std::vector<platform::NeighbourInfo>> neighbours;  // bridge ifname → answered on it
  };
  // Before the first allocation: rebuilds the records of running jails the state lost
  // (state_rebuild.h; saved at once, so they survive a failing prestart) and reads the
  // addresses inside the running jails that still have no record. `jail` (the one being
  // started) is never rebuilt.
  Result<void> readKernelAddresses(const StateLock& lock, State& state, const std::string& jail,
                                   KernelAddresses& seen);
  Result<Cidr> allocateFor(const State& state, const JailRecord& pending, const std::string& jail,
                           const BridgeConfig& br, const MacAddress& jail_mac, KernelAddresses& seen);

  const Config& config_;
  const StateStore& store_;
  platform::NetStack& host_;
  platform::Jails& jails_;
  platform::Policy& policy_;
  std::string host_id_;
  bool report_inside_ = false;
};

// The description vnetd gives both sides of a jail's pair: "vnetd:<jail>:<index>".
std::string pairDescription(const std::string& jail, unsigned index);
// Its inverse; anything else (including the bridges' "vnetd:bridge:<key>") → false.
bool parsePairDescription(const std::string& text, std::string& jail, unsigned& index);

// A link left by an interrupted creation of interface `index` of `jail`: it still has the
// name the kernel gave it (FreeBSD "epair<unit>a|b", renamed by vnetd right after it set
// the description and MACs) and carries the description vnetd gives the pair
// ("vnetd:<jail>:<index>") and one of the record's MACs. The live pair never has such a
// name (an administrator's rename keeps the marks but not the kernel's name). Pure.
bool isKernelPairName(std::string_view name);
bool isPairCreationLeftover(const platform::LinkInfo& link, const std::string& jail, unsigned index,
                            const JailRecord& rec);

// "auto" address allocation: the lowest host address of `subnet` that is not the network
// or broadcast address, not the gateway and not in `taken`. Pure; nullopt when full.
// `taken` is everything known to be in use: the state's records, the configured static
// addresses, and what the kernel shows (the bridge's own addresses, its neighbour
// entries, addresses inside running jails without a record).
std::optional<Cidr> allocateAddress(const Cidr& subnet, const std::vector<IpAddress>& taken);

}  // namespace vnetd
