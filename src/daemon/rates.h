// Per-interface traffic rates for `status` (vnetctl status): the daemon samples the
// counters of the host sides it manages every few seconds and keeps the last two
// samples; a rate is the difference over the time between them.
//
// Pure (no kernel access): the daemon feeds it, tests feed it by hand. Loop thread only.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "platform/netif.h"

namespace vnetd::daemon {

// From the jail's point of view (what the jail receives is what its host side sends).
struct LinkRates {
  double rx_bps = 0, tx_bps = 0;  // bits per second
  double rx_pps = 0, tx_pps = 0;  // packets per second
  double seconds = 0;             // the interval the rates are averaged over
};

class RateSampler {
 public:
  using Clock = std::chrono::steady_clock;

  // One reading of every managed host side. Names absent from `counters` are forgotten
  // (their jail stopped); a name seen for the first time has no rate until the next.
  void sample(Clock::time_point when, const std::map<std::string, platform::LinkCounters>& counters);

  // Rates of host side `name` between its last two samples; nullopt before two samples.
  // A counter that went backwards (the interface was re-created under the same name)
  // yields no rate for that interval rather than a negative or absurd one.
  std::optional<LinkRates> rates(const std::string& name) const;

 private:
  struct Sample {
    Clock::time_point when;
    platform::LinkCounters counters;
  };
  struct History {
    Sample last;
    std::optional<Sample> previous;
  };
  std::map<std::string, History> history_;
};

}  // namespace vnetd::daemon
