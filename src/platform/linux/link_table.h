// The host's link table kept current from the kernel's link notifications, so that a
// caller asking for every link's counters over and over (each /metrics scrape, each
// status rate sample) has the kernel dump only the counters.
//
// Why: an RTM_GETLINK dump fills, for every veth, the id of its peer's namespace, and the
// kernel finds that id by walking the host's namespace-id table — quadratic in the number
// of jails (about 45 ms per dump at 1000 jails, most of a scrape). RTM_GETSTATS with only
// IFLA_STATS_LINK_64 walks the same links without it. What the counters do not carry —
// names, MACs, bridge membership, carrier — comes from this table, which applies every
// RTM_NEWLINK / RTM_DELLINK the kernel sends (each carries the link's full state, so the
// last one applied is current). Lost notifications (ENOBUFS) or anything undecodable
// ask for a full dump instead of a guess.
//
// Pure: bytes in, links out; the sockets are the caller's (LinuxNetStack). One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/linux/rtnl_decode.h"
#include "platform/netif.h"

namespace vnetd::platform::lnx {

class LinkTable {
 public:
  // Starts empty and wanting a full dump.
  LinkTable() = default;

  // Replaces the table with a full RTM_GETLINK dump; clears the resync request.
  void reset(const std::vector<LinkInfo>& links);
  // Applies one datagram of link notifications (possibly several messages). Other message
  // types, and the bridge's port messages (ifi_family AF_BRIDGE), are ignored; a
  // malformed one asks for a resync.
  void apply(std::span<const std::byte> datagram);
  void requestResync() { resync_ = true; }
  bool needsResync() const { return resync_; }

  // The links, in index order, with `counters` (from a counters-only dump) as their
  // counters. nullopt when the two disagree on which links exist — a link came or went
  // between the notifications read and the counter dump — so the caller dumps in full.
  std::optional<std::vector<LinkInfo>> withCounters(const std::vector<StatsMessage>& counters) const;

  // The links as the notifications left them, in index order; their counters are those
  // of the last message about each (stale): for callers that want no counters.
  std::vector<LinkInfo> links() const;

  // The link named `name` as the notifications left it (stale counters), nullopt when
  // the table has none of that name. Meaningful only while !needsResync().
  std::optional<LinkInfo> find(const std::string& name) const;

  size_t size() const { return links_.size(); }

 private:
  std::map<uint32_t, LinkInfo> links_;
  bool resync_ = true;
};

}  // namespace vnetd::platform::lnx
