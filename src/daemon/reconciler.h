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
//  - ReaddMember: a recorded host side that exists with its recorded MAC but is not a
//    member of its recorded bridge (which exists) joins it again.
//  - CollectOrphan: a record whose jail has not been running for `orphan_grace` (its
//    namespace is gone, or a prestart whose jail never appeared) is torn down like poststop.
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
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/state_store.h"
#include "platform/netif.h"

namespace vnetd::daemon {

struct ReconcileAction {
  enum class Kind { Adopt, EnsureBridge, ReaddMember, CollectOrphan, DestroyLeftover, ReportForeign };
  Kind kind = Kind::Adopt;
  std::string jail;       // Adopt, CollectOrphan, DestroyLeftover, ReaddMember
  std::string bridge;     // EnsureBridge: the [bridge.X] key; ReaddMember: the bridge's interface name
  std::string interface;  // ReaddMember, DestroyLeftover, ReportForeign
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
  std::string host_id;
  int64_t now_ms = 0;              // monotonic is fine: only differences matter
  int64_t orphan_grace_ms = 60000;
};

// When each candidate was first seen orphaned ("jail:<name>" / "link:<name>"). The plan
// adds new candidates and forgets those that are no longer candidates.
using OrphanClock = std::map<std::string, int64_t>;

// Actions in execution order: adoptions, bridges, members, orphans, leftovers, reports.
std::vector<ReconcileAction> planReconcile(const ReconcileInput& in, OrphanClock& clock);

}  // namespace vnetd::daemon
