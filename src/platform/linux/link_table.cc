#include "platform/linux/link_table.h"

#include <linux/rtnetlink.h>

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
