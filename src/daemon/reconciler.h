// The reconciler's decisions, as a pure function of what the daemon sees: the
// configuration, the state store, the host's links and addresses, and the running jails.
// The daemon executes the plan (daemon.cc); keeping the decisions pure makes every rule
// unit-testable without a kernel, and keeps "what would vnetd do" explainable.
//
// Rules (the kernel is the truth for what exists, the store for what vnetd made):
//  - Adopt: a jail record the daemon had not seen (made by a standalone hook while the
//    daemon was down) is taken over as it is — nothing is recreated.
//  - EnsureBridge: a configured bridge that is missing, down, or lacks its configured
//    address is (re)created / brought up / re-addressed.
//  - EnsureNat: a configured bridge with `nat` (and an IPv4 address) whose NAT, as the
//    platform's Policy reads it back (nat_loaded), is missing — never loaded (the bridge
//    existed before vnetd started, or `nat` came with a reload), flushed by hand
//    (pfctl -a vnetd/<bridge> -F nat, nft flush ...; NOT `pfctl -F all`, which keeps the
//    anchors and drops only main's nat-anchor: see NatHookWatch) — or differs from the configuration (another egress or
//    subnet, rules vnetd does not write) is loaded again. Not for a bridge that is being
//    (re)created this pass (creating it loads its NAT) or an interface under its name that
//    is not a bridge, and only for bridges whose NAT was read (a bridge missing from
//    nat_loaded is not judged: the read failed, or was not asked for), nor while its egress
//    interface does not exist (see natEgressesMissing).
//  - RemoveNat: NAT read back for a bridge interface that no configured bridge gives
//    `nat` (nat removed from the bridge, or the bridge from the config) is removed, and so
//    is NAT that differs from the configuration while the configured egress does not exist
//    (a reload named a new egress not there yet: the old rules must not translate). Which
//    bridges are read is the caller's choice: the daemon asks for configured bridges and
//    those it saw configured with nat before, never for names it has no reason to think
//    are vnetd's.
//  - ReaddMember: a recorded host side that exists with its recorded MAC but is not a
//    member of its recorded bridge (which exists) joins it again.
//  - RepairJailPairs: a record in phase "created" whose jail runs with its own stack, with
//    a recorded interface (created_by_vnetd) whose host side is gone from the host — no
//    link under its name, none with its MAC (renamed by hand: the pair exists, hands off).
//    Deleting either end destroys both (Linux veth; FreeBSD sys/net/if_epair.c
//    epair_clone_destroy destroys the other side in its own vnet), so the jail has lost
//    that network: the pair is made anew from the record (JailNetwork::repairRunning).
//    Waits while the pair's bridge is missing (the pass after its re-creation repairs).
//    No grace and no minimum age of the record, because planning needs no guess about
//    hooks in flight: every JailNetwork phase (daemon or standalone) holds the state lock
//    for its whole duration and the pass plans under that lock from a state, links and
//    jail list read under it, so no phase is half done while it plans; daemon hooks are
//    serialised with the pass anyway. Between phases a record says where jail(8) is:
//    "prestart" until `created` has moved the jail sides in (never repaired: `created`
//    does that); "created" once the jail is set up — a missing pair then is a loss, not
//    work in progress (a prestart adding interfaces to a running jail keeps "created" but
//    creates and records under one lock hold; killed in between, its recorded interface
//    is made here, which is what it was making). prestop takes jail sides back to the
//    host, where the host sides stay, so a stopping jail is not repaired unless its pair
//    is deleted by hand during the stop; then the new pair goes with the jail (Linux: with
//    its namespace; FreeBSD: back to the host vnet when the jail's vnet is destroyed,
//    where poststop or orphan collection destroys it by its recorded name and MAC).
//    Between plan and execution the lock is released; repairRunning re-checks everything
//    (record unchanged, phase, jail running, host and jail side missing) under the lock.
//    Backoff: repairRunning is all or nothing, so a repair that fails destroys the pair it
//    made; that host side departing triggers another pass at once, which would repair
//    (and fail) again many times a second. After a failed repair of jail J (noted with
//    noteRepairFailed), J is not planned before now + delay, the delay starting at
//    kRepairBackoffFirstMs and doubling per consecutive failure up to
//    repair_backoff_max_ms (the reconcile interval). A repair that succeeds, or a jail that
//    no longer needs one (its pair is back, it stopped, its record went), forgets J's
//    backoff, so the next loss starts at the first delay again.
//  - CollectOrphan: a record whose jail has not been running for `orphan_grace` (its
//    namespace is gone, or a prestart whose jail never appeared) is torn down like poststop.
//    The grace counts from the later of two moments: when this daemon first saw the jail
//    not running (OrphanClock, monotonic), and the record's last phase change (its
//    updated_at, wall clock). So a record in phase "prestart" whose chain is still running
//    (its updated_at is recent) is never collected, however long ago the daemon first saw
//    a record of that name (an earlier start, a standalone poststop + prestart between
//    two passes). An updated_at in the future (the wall clock was stepped back since it
//    was written) says nothing about its age: the monotonic clock alone counts then.
//  - DestroyLeftover: an unrecorded interface carrying both marks vnetd gives a pair it
//    creates (description vnetd:<jail>:<i> and the MAC derived from this host's id) —
//    left by a prestart that was killed before it saved — whose jail has no record and
//    is not running, after the same grace.
//    Also, for a jail that has a record and is not running: an interface still named as
//    the kernel names a new epair (epairNa/b), described vnetd:<jail>:<i> and carrying one
//    of the record's MACs (a creation that stopped before the rename), after the grace.
//  - ReportForeign: an interface whose description claims vnetd but that vnetd cannot
//    prove it made. Reported, never touched.
// Threading: pure; OrphanClock belongs to the caller (the daemon loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/state_store.h"
#include "platform/netif.h"
#include "platform/policy.h"

namespace vnetd::daemon {

struct ReconcileAction {
  enum class Kind { Adopt, EnsureBridge, EnsureNat, RemoveNat, ReaddMember, RepairJailPairs, CollectOrphan, DestroyLeftover, ReportForeign };
  Kind kind = Kind::Adopt;
  std::string jail;       // Adopt, CollectOrphan, DestroyLeftover, ReaddMember, RepairJailPairs
  std::string bridge;     // EnsureBridge, EnsureNat: the [bridge.X] key; ReaddMember, RemoveNat: the
                          // bridge's interface name
  std::string interface;  // ReaddMember, DestroyLeftover, ReportForeign; RepairJailPairs: the first lost
  bool private_member = false;  // ReaddMember
  unsigned index = 0;           // DestroyLeftover: the interface index its description names
  std::string reason;     // one line for the log
  friend bool operator==(const ReconcileAction&, const ReconcileAction&) = default;
};
const char* actionKindName(ReconcileAction::Kind kind);

struct ReconcileInput {
  const Config* config = nullptr;
  const State* state = nullptr;
  const std::vector<platform::LinkInfo>* host_links = nullptr;
  const std::vector<platform::AddressInfo>* host_addresses = nullptr;
  const std::set<std::string>* running_jails = nullptr;  // jails that exist with their own stack
  const std::set<std::string>* known_jails = nullptr;    // records the daemon already tracks
  // NAT as read back, by bridge interface name (nullopt: nothing loaded); null: not read.
  const std::map<std::string, std::optional<platform::BridgeNat>>* nat_loaded = nullptr;
  std::string host_id;
  int64_t now_ms = 0;              // monotonic is fine: only differences matter
  int64_t now_unix_s = 0;          // wall clock, compared with records' updated_at
  int64_t orphan_grace_ms = 60000;
  int64_t repair_backoff_max_ms = 10000;  // the longest wait between failed repairs
};

// Failed repairs, by jail: when the next may be planned and the delay that led there.
struct RepairBackoff {
  int64_t not_before_ms = 0;
  int64_t delay_ms = 0;
  friend bool operator==(const RepairBackoff&, const RepairBackoff&) = default;
};
using RepairBackoffs = std::map<std::string, RepairBackoff>;
constexpr int64_t kRepairBackoffFirstMs = 1000;

// Notes that the repair of `jail` failed at `now_ms`; returns the delay before it is
// planned again (first kRepairBackoffFirstMs, then doubled, at most max_ms, at least
// the first delay).
int64_t noteRepairFailed(RepairBackoffs& backoffs, const std::string& jail, int64_t now_ms, int64_t max_ms);

// When each candidate was first seen orphaned ("jail:<name>" / "link:<name>"). The plan
// adds new candidates and forgets those that are no longer candidates.
using OrphanClock = std::map<std::string, int64_t>;

// The NAT a configured bridge asks for; nullopt when it asks for none (no `nat`, or no
// IPv4 address to translate from).
std::optional<platform::BridgeNat> wantedNat(const BridgeConfig& bridge);

// Bridges configured with NAT whose egress interface does not exist (bridge interface →
// egress): nothing to translate to yet, so EnsureNat is not planned for them, on both
// platforms alike (rules already loaded stay: a NIC that comes back needs nothing). The
// bridge itself works meanwhile (JailNetwork::ensureBridge skips the NAT the same way).
// The daemon watches these names and runs a pass as soon as one appears.
std::map<std::string, std::string> natEgressesMissing(const Config& config, const std::vector<platform::LinkInfo>& links);

// Reported once per change, like NatHookWatch: a bridge whose egress is newly missing (or
// missing under a new name after a reload), and one whose egress is back (or that no
// longer asks for NAT: `present` then means "no longer waiting").
struct NatEgressWatch {
  std::map<std::string, std::string> missing_reported;  // bridge interface → egress
};
struct NatEgressNews {
  std::string bridge, egress;
  bool missing = false;
  friend bool operator==(const NatEgressNews&, const NatEgressNews&) = default;
};
std::vector<NatEgressNews> noteNatEgresses(NatEgressWatch& watch, const std::map<std::string, std::string>& missing);

// vnetd_bridge_nat_active: per configured NAT bridge whose NAT was read (others are
// unknown and absent), true when its rules read back exactly as configured, its egress
// exists and the packet filter evaluates them (`hooked`; nullopt = could not be read).
std::map<std::string, bool> natInPlace(const Config& config, const std::vector<platform::LinkInfo>& links,
                                      const std::map<std::string, std::optional<platform::BridgeNat>>& loaded,
                                      std::optional<bool> hooked);

// Whether the NAT hook (Policy::natHooked: FreeBSD's `nat-anchor "vnetd/*"` in the main
// ruleset, which vnetd cannot restore itself) is missing, reported once per change: the
// first pass that reads it missing warns; later passes stay quiet until it was read
// present again, which rearms the warning.
struct NatHookWatch {
  bool missing_reported = false;
};
enum class NatHookNews { None, Missing, Back };
NatHookNews noteNatHook(NatHookWatch& watch, bool hooked);

// Actions in execution order: adoptions, bridges, NAT (ensure, then remove), members,
// repairs, orphans, leftovers, reports (repairs and orphans run after the pass released
// the state lock: they take it themselves).
// `backoffs` (optional): repairs waiting after a failure are not planned; entries of
// jails that need no repair any more are forgotten.
std::vector<ReconcileAction> planReconcile(const ReconcileInput& in, OrphanClock& clock,
                                           RepairBackoffs* backoffs = nullptr);

// --- issue 19, port forwarding ---
// The forwards each running jail should have loaded: jails running with their own stack
// whose record got past `created`, with the targets core/expose_targets.h makes of the
// configuration and the record (only jails with at least one).
std::map<std::string, std::vector<ExposeTarget>> wantedExposes(const Config& config, const State& state,
                                                               const std::set<std::string>& running);

struct ExposeAction {
  enum class Kind { Ensure, Remove };
  Kind kind = Kind::Ensure;
  std::string jail;
  std::string reason;  // one line for the log
  friend bool operator==(const ExposeAction&, const ExposeAction&) = default;
};

// Ensure: a jail whose forwards were read back (`loaded`; others are not judged) with one
// not in place (never loaded, flushed, table deleted) or with rules no forward needs now;
// not for a jail whose rules the packet filter does not evaluate (ExposeLoaded::hooked).
// Remove: a jail with rules loaded (`loaded_jails`, null when not read) that should have
// none (stopped, or its forwards taken out of the configuration) — only a jail this daemon
// knows (`known`: in its configuration or its state). Rules of other jails are another
// vnetd's (a second daemon with its own configuration and state, as tests and the demo
// run beside each other on one host) and are left alone, as the NAT of bridges a daemon
// does not configure is. Jail order.
std::vector<ExposeAction> planExpose(const std::map<std::string, std::vector<ExposeTarget>>& wanted,
                                     const std::map<std::string, platform::ExposeLoaded>& loaded,
                                     const std::set<std::string>* loaded_jails, const std::set<std::string>& known);
// --- end port forwarding ---

}  // namespace vnetd::daemon
