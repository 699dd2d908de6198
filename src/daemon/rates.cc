#include "daemon/rates.h"

namespace vnetd::daemon {

void RateSampler::sample(Clock::time_point when, const std::map<std::string, platform::LinkCounters>& counters) {
  std::map<std::string, History> next;
  for (const auto& [name, c] : counters) {
    History h{Sample{when, c}, std::nullopt};
    if (auto it = history_.find(name); it != history_.end()) h.previous = it->second.last;
    next.emplace(name, std::move(h));
  }
  history_ = std::move(next);
}

std::optional<LinkRates> RateSampler::rates(const std::string& name) const {
  auto it = history_.find(name);
  if (it == history_.end() || !it->second.previous) return std::nullopt;
  const Sample& a = *it->second.previous;
  const Sample& b = it->second.last;
  double seconds = std::chrono::duration<double>(b.when - a.when).count();
  if (seconds <= 0) return std::nullopt;
  const auto& x = a.counters;
  const auto& y = b.counters;
  if (y.rx_bytes < x.rx_bytes || y.tx_bytes < x.tx_bytes || y.rx_packets < x.rx_packets ||
      y.tx_packets < x.tx_packets)
    return std::nullopt;
  LinkRates r;
  r.seconds = seconds;
  // Host side transmit = jail receive.
  r.rx_bps = static_cast<double>(y.tx_bytes - x.tx_bytes) * 8 / seconds;
  r.tx_bps = static_cast<double>(y.rx_bytes - x.rx_bytes) * 8 / seconds;
  r.rx_pps = static_cast<double>(y.tx_packets - x.tx_packets) / seconds;
  r.tx_pps = static_cast<double>(y.rx_packets - x.rx_packets) / seconds;
  return r;
}

}  // namespace vnetd::daemon
