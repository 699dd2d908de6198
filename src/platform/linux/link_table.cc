#include "platform/linux/link_table.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

namespace vnetd::platform::lnx {

void LinkTable::reset(const std::vector<LinkInfo>& links) {
  links_.clear();
  for (const auto& l : links) links_.emplace(l.index, l);
  resync_ = false;
}

void LinkTable::apply(std::span<const std::byte> datagram) {
  auto split = forEachMessage(datagram, [&](std::span<const std::byte> msg) {
    uint16_t type = messageType(msg);
    if (type != RTM_NEWLINK && type != RTM_DELLINK) return;
    // The bridge's port notifications share the link group with ifi_family AF_BRIDGE
    // (net/bridge/br_netlink.c br_ifinfo_notify): they describe the port, not the whole
    // link (no alias, no link kind), and an RTM_DELLINK among them means "left the bridge",
    // not "destroyed". Only AF_UNSPEC messages (rtnl_fill_ifinfo) carry the link's state.
    if (msg.size() >= NLMSG_HDRLEN + sizeof(ifinfomsg) &&
        static_cast<uint8_t>(msg[NLMSG_HDRLEN]) != AF_UNSPEC)
      return;
    auto m = decodeLinkMessage(msg);
    if (!m) {
      resync_ = true;
      return;
    }
    if (m->deleted) links_.erase(m->info.index);
    else links_.insert_or_assign(m->info.index, std::move(m->info));
  });
  if (!split) resync_ = true;
}

std::optional<LinkInfo> LinkTable::find(const std::string& name) const {
  for (const auto& [index, l] : links_)
    if (l.name == name) return l;
  return std::nullopt;
}

std::vector<LinkInfo> LinkTable::links() const {
  std::vector<LinkInfo> out;
  out.reserve(links_.size());
  for (const auto& [index, l] : links_) out.push_back(l);
  return out;
}

std::optional<std::vector<LinkInfo>> LinkTable::withCounters(const std::vector<StatsMessage>& counters) const {
  if (resync_ || counters.size() != links_.size()) return std::nullopt;
  std::vector<LinkInfo> out;
  out.reserve(links_.size());
  // Both in index order (the kernel dumps by index too, but do not rely on it).
  std::vector<const StatsMessage*> sorted;
  sorted.reserve(counters.size());
  for (const auto& c : counters) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->index < b->index; });
  auto it = links_.begin();
  for (const StatsMessage* c : sorted) {
    if (it->first != c->index) return std::nullopt;  // same count, different links
    out.push_back(it->second);
    out.back().counters = c->counters;
    ++it;
  }
  return out;
}

}  // namespace vnetd::platform::lnx
