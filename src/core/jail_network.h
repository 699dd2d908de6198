// The jail lifecycle operations behind vnetd-hook (and, later, the daemon's hook
// requests): prestart, created, poststop, per jail(8)'s order.
//
//   prestart  (host, before the jail exists): create each configured pair — stable names,
//             MACs and description, MTU of the bridge, host side joined to the bridge
//             before it is brought up — creating the bridge (address, up) if missing.
//             Returns the jail-side names (for vnet.interface / the admin's eyes).
//   created   (host, jail exists): move the jail sides in if still on the host, then
//             inside the jail: rename if configured, lo up, addresses, up, default routes.
//   poststop  (host, jail gone): destroy the pairs vnetd recorded for the jail.
//
// Every phase holds the state-store lock for its whole duration (concurrent hooks
// serialise), is idempotent, and checks identity before touching a kernel object: an
// interface is only destroyed when the state store says vnetd created it AND its MAC
// still matches the record. prestart rolls back everything it created when any step
// fails. The platform objects are injected, so the same code serves the standalone hook
// and the daemon, on FreeBSD and Linux.
//
// Threading: one JailNetwork per thread; calls are synchronous.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "core/state_store.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"

namespace vnetd {

enum class HookPhase { Prestart, Created, Poststop };
const char* hookPhaseName(HookPhase phase);
std::optional<HookPhase> parseHookPhase(std::string_view text);

class UndoLog;  // jail_network.cc

struct HookOutcome {
  std::vector<std::string> jail_side_names;  // prestart: printed one per line
  bool changed = false;                      // false: nothing to do (idempotent repeat)
};

class JailNetwork {
 public:
  JailNetwork(const Config& config, const StateStore& store, platform::NetStack& host,
              platform::Jails& jails, platform::Policy& policy, std::string host_id)
      : config_(config), store_(store), host_(host), jails_(jails), policy_(policy), host_id_(std::move(host_id)) {}

  Result<HookOutcome> run(HookPhase phase, const std::string& jail);

  Result<HookOutcome> prestart(const std::string& jail);
  Result<HookOutcome> created(const std::string& jail);
  Result<HookOutcome> poststop(const std::string& jail);

  // The daemon's orphan collection: poststop's teardown, but only if, under the state
  // lock, the jail is still not running and its record is still exactly `seen` (a hook
  // that ran in between wins). Nothing to do → changed == false.
  Result<HookOutcome> collectOrphan(const std::string& jail, const JailRecord& seen);

  // Creates the bridge (vlans, uplinks, address, up, NAT) if missing; an existing one is
  // brought up and given its configured addresses. The daemon's start, reload and repair.
  Result<void> ensureBridgeReady(const BridgeConfig& br);

  // True when `link` carries the MAC vnetd derives for the host side of (jail, index)
  // from this host's id, and its description is vnetd's or still empty — i.e. it was
  // made by vnetd even though no record says so (a prestart killed before saving).
  bool isInterruptedPrestartLeftover(const platform::LinkInfo& link, const std::string& jail, unsigned index) const;

 private:
  Result<HookOutcome> teardown(const StateLock& lock, State& state, const std::string& jail);
  Result<void> ensureBridge(const BridgeConfig& br, UndoLog& undo);
  Result<void> ensureBridgeAddresses(const BridgeConfig& br, uint32_t index);
  Result<Cidr> allocateFor(const State& state, const JailRecord& pending, const std::string& jail,
                           const BridgeConfig& br);

  const Config& config_;
  const StateStore& store_;
  platform::NetStack& host_;
  platform::Jails& jails_;
  platform::Policy& policy_;
  std::string host_id_;
};

// "auto" address allocation: the lowest host address of `subnet` that is not the network
// or broadcast address, not the gateway and not in `taken`. Pure; nullopt when full.
std::optional<Cidr> allocateAddress(const Cidr& subnet, const std::vector<IpAddress>& taken);

}  // namespace vnetd
