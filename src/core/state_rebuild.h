// Rebuilding jail records from the kernel after the state store lost them.
//
// A corrupt state.json is moved aside and the next load starts from an empty state
// (state_store.h); a state restored from an old backup misses the jails started since.
// The jails keep running with their pairs and addresses, but nothing in the store says
// so: "auto" allocation would hand a running jail's address to the next jail, and no
// poststop would ever find their pairs. The kernel still carries what vnetd made: the
// description "vnetd:<jail>:<i>" on both sides of every pair (pairDescription), the MACs,
// the bridge membership, and the addresses inside the jail's own stack.
//
// Rules (rebuildRecords):
//  - Only jails that are running with their own stack and have NO record are rebuilt;
//    a record that exists is never second-guessed here (the reconciler repairs drift).
//  - Interface i of jail J is rebuilt from the host link described "vnetd:J:i" that is a
//    pair and a member of one of the configured bridges (every pair vnetd makes joins
//    one; the jail side is never a member) and the link inside J's stack with the same
//    description: names, MACs and bridge as found, addresses = the addresses of
//    that inside link, IPv6 link-local ones left out (the kernel makes those itself).
//    Without its inside end it is not rebuilt (the jail never got it configured), nor
//    when two bridge members claim the same index, or its host name is in another record.
//    Pairs on bridges this configuration does not name are someone else's (another vnetd
//    instance, another test run on the same kernel): never looked at.
//  - created_by_vnetd only when the host side carries the MAC vnetd derives for (J, i)
//    from this host's id — the same proof the reconciler asks before it destroys
//    (reconciler.h DestroyLeftover/ReportForeign); otherwise the pair is recorded as
//    adopted and poststop will never destroy it.
//  - phase "created" (the jail runs: what created does is done); updated_at = now; limits
//    "not recorded" (nullopt: poststop then removes the configuration's limits); any other
//    JailRecord field keeps its default.
//
// Where it runs: prestart, before it allocates an "auto" address (both the daemon's and
// the standalone hook's prestart go through JailNetwork), and the daemon's reconcile pass
// (so status shows the jails again without waiting for a start). Both hold the state
// lock and save what was rebuilt.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/state_store.h"
#include "platform/jails.h"
#include "platform/netif.h"

namespace vnetd {

// What one running jail's own stack shows.
struct JailStackView {
  std::string jail;
  std::vector<platform::LinkInfo> links;
  std::vector<platform::AddressInfo> addresses;
};

struct RebuildInput {
  const State* state = nullptr;
  const std::vector<platform::LinkInfo>* host_links = nullptr;
  const std::vector<JailStackView>* jails = nullptr;  // running jails (own stack) that were read
  const std::set<std::string>* bridges = nullptr;     // interface names of the configured bridges
  std::string host_id;
  int64_t now = 0;  // unix seconds, for updated_at
};

// Jails named by the vnetd pair description of a member of one of `bridges` that have no
// record in `state`: the only ones whose stacks rebuildRecords needs. Pure.
std::set<std::string> rebuildCandidates(const State& state, const std::vector<platform::LinkInfo>& host_links,
                                        const std::set<std::string>& bridges);

// The records the rules above rebuild, by jail name order; jails with nothing to rebuild
// are left out. Pure: no kernel, no clock, no state store.
std::vector<JailRecord> rebuildRecords(const RebuildInput& in);

// Reads links and addresses of the running jails (own stack) among `names`. A jail that
// cannot be read (it stopped meanwhile, or its stack cannot be opened) is left out with a
// warning: its absence makes the caller rebuild less, never destroy more.
std::vector<JailStackView> readJailStacks(platform::Jails& jails, const std::vector<platform::JailInfo>& running,
                                          const std::set<std::string>& names);

// Inserts rebuilt records into `state`, logging one warning line per jail (what was found).
// Returns their names.
std::vector<std::string> adoptRebuiltRecords(State& state, std::vector<JailRecord> records);

// The daemon's step: finds the candidates among the running jails, reads
// their stacks, rebuilds and inserts the records into `state` (the caller holds the lock
// and saves when the result is not empty). Returns the names rebuilt; `except` is never
// rebuilt (the jail a prestart is about to record itself).
Result<std::vector<std::string>> rebuildMissingRecords(State& state, const std::vector<platform::LinkInfo>& host_links,
                                                       const std::set<std::string>& bridges, platform::Jails& jails,
                                                       const std::string& host_id, int64_t now,
                                                       const std::string& except = "");

}  // namespace vnetd
