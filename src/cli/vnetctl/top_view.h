// The pure half of `vnetctl top`: per-jail rates from the counters of two consecutive
// status replies, their order, and the screen layout for a terminal of W x H.
//
// vnetctl computes its own rates (instead of showing the daemon's averages) so the view
// follows the refresh interval the operator chose; the daemon's averages only fill the
// first screen, before there is a previous sample.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/vnetctl/status_view.h"

namespace vnetd::cli {

// One jail in one status reply, reduced to what top needs.
struct JailSample {
  std::string name;
  std::optional<int64_t> jid;
  bool running = false;
  std::optional<uint64_t> flows;
  std::optional<uint64_t> flows_sample;  // sampled capture: flows seen in ~1 frame in N
  // Host-side interface name → its counters (interfaces whose host side exists).
  std::vector<std::pair<std::string, Counters>> interfaces;
  std::optional<Rates> daemon_rates;  // sum over the interfaces, when every one has them
};

struct TopSample {
  double at = 0;  // seconds on a monotonic clock, when the reply arrived
  std::vector<JailSample> jails;
};

TopSample topSample(const StatusSnapshot& s, double at);

// How much a kernel counter grew. A counter smaller than before started again (the pair
// was destroyed and re-created, or a 32-bit counter wrapped): what it counts now is the
// best lower bound of the growth, and never negative.
uint64_t counterDelta(uint64_t prev, uint64_t cur);

struct JailRow {
  std::string name;
  bool running = false;
  std::optional<double> rx_bps, tx_bps;  // bits per second, jail's point of view
  std::optional<double> rx_pps, tx_pps;  // packets per second
  std::optional<double> drops_ps;        // rx_dropped + tx_dropped per second
  std::optional<uint64_t> flows;
  std::optional<uint64_t> flows_sample;  // sampled capture ([capture] sample = N)
  // rx_bps + tx_bps; nullopt when unknown.
  std::optional<double> total() const;
};

// Rates of every jail in `cur`, from its counters' growth since `prev` (same jail name
// and jid; an interface new since `prev` counts from zero). Without a usable previous
// sample (first screen, jail new, clock not advanced) the daemon's averages are shown
// and drops are unknown. Sorted by sortRows.
std::vector<JailRow> topRows(const TopSample* prev, const TopSample& cur);

// Busiest first (total rate, descending); unknown rates after known ones; ties by name.
void sortRows(std::vector<JailRow>& rows);

struct TopHeader {
  std::string clock;     // wall-clock time of the sample, e.g. "14:02:33"
  double interval = 2;   // seconds between refreshes
  std::string hint;      // e.g. "q quits" (interactive only), "" for none
};

// The screen: two header lines (time, jail count, interval; totals), a blank line, the
// column header and one line per jail. `width` 0 = no limit (columns as wide as their
// content, nothing cut: batch output to a file); otherwise no line is longer than
// `width`, the JAIL column shrinks (names cut with a trailing '~') and the less important
// columns (packets/s, then flows, then drops/s) go when the name column would get too
// narrow. `height` 0 = no limit; otherwise at most `height` lines, the last one saying
// how many jails did not fit.
std::vector<std::string> layoutTop(const std::vector<JailRow>& rows, const TopHeader& header, unsigned width,
                                   unsigned height);

}  // namespace vnetd::cli
