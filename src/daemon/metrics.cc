#include "daemon/metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <future>
#include <ostream>
#include <streambuf>
#include <system_error>
#include <thread>

#include "vnetd/build_config.h"

namespace vnetd::daemon {

DaemonMetrics::DaemonMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      hook_duration_(prometheus::BuildHistogram()
                         .Name("vnetd_hook_duration_seconds")
                         .Help("Time the daemon took to run a jail hook phase.")
                         .Register(*registry_)),
      hook_failures_(prometheus::BuildCounter()
                         .Name("vnetd_hook_failures_total")
                         .Help("Hook phases that failed; reason kernel = an OS call failed, refused = vnetd "
                               "declined (configuration, identity, state).")
                         .Register(*registry_)),
      events_(prometheus::BuildCounter()
                  .Name("vnetd_interface_events_total")
                  .Help("Interface events received from the kernel, by source and type.")
                  .Register(*registry_)),
      actions_(prometheus::BuildCounter()
                   .Name("vnetd_reconcile_actions_total")
                   .Help("Actions the reconciler took (adopt, ensure_bridge, ensure_nat, remove_nat, readd_member, "
                         "repair_jail_pairs, collect_orphan, destroy_leftover, report_foreign).")
                   .Register(*registry_)),
      scrape_duration_(prometheus::BuildGauge()
                           .Name("vnetd_scrape_duration_seconds")
                           .Help("Time the previous scrape of this endpoint took to produce.")
                           .Register(*registry_)
                           .Add({})),
      bridge_nat_(prometheus::BuildGauge()
                      .Name("vnetd_bridge_nat_active")
                      .Help("1 when the NAT of a bridge configured with nat is in place as vnetd expects (its rules "
                            "loaded exactly, its egress interface present, the packet filter evaluating them), 0 "
                            "otherwise.")
                      .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("vnetd_build_info")
      .Help("vnetd's version, revision and platform; always 1.")
      .Register(*registry_)
      .Add({{"version", build::kVersion}, {"revision", build::kRevision}, {"platform", build::kPlatform}})
      .Set(1);
}

namespace {

// An ostream sink that appends to one pre-sized string. TextSerializer writes label
// values a character at a time through the stream, so at 1000 jails (a megabyte, 11000
// series) the stream's per-write overhead is most of a scrape; std::ostringstream adds
// its own buffer management and a final copy on top (this sink: ~20% less time).
class AppendBuf final : public std::streambuf {
 public:
  explicit AppendBuf(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string& out_;
};

// Hooks take milliseconds; a slow kernel or a busy host can take seconds.
const prometheus::Histogram::BucketBoundaries kHookBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,   0.25,   0.5,   1,    2.5,   5};
}  // namespace

void DaemonMetrics::setBridgeNat(const std::map<std::string, bool>& active) {
  std::lock_guard<std::mutex> guard(bridge_nat_mutex_);
  for (auto it = bridge_nat_series_.begin(); it != bridge_nat_series_.end();) {
    if (active.count(it->first)) {
      ++it;
      continue;
    }
    bridge_nat_.Remove(it->second);
    it = bridge_nat_series_.erase(it);
  }
  for (const auto& [bridge, on] : active) {
    prometheus::Gauge*& g = bridge_nat_series_[bridge];
    if (!g) g = &bridge_nat_.Add({{"bridge", bridge}});
    g->Set(on ? 1 : 0);
  }
}

void DaemonMetrics::hookDone(HookPhase phase, double seconds) {
  hook_duration_.Add({{"phase", hookPhaseName(phase)}}, kHookBuckets).Observe(seconds);
}

void DaemonMetrics::hookFailed(HookPhase phase, const Error& error) {
  hook_failures_.Add({{"phase", hookPhaseName(phase)}, {"reason", error.code != 0 ? "kernel" : "refused"}})
      .Increment();
}

void DaemonMetrics::event(const char* source, const char* type) {
  events_.Add({{"source", source}, {"type", type}}).Increment();
}

void DaemonMetrics::action(const char* action) { actions_.Add({{"action", action}}).Increment(); }

namespace {

// Below this many series one thread serializes: a thread costs more than it saves.
constexpr size_t kParallelSeries = 4000;

void serializeInto(std::string& text, const std::vector<prometheus::MetricFamily>& families) {
  AppendBuf sink(text);
  std::ostream out(&sink);
  prometheus::TextSerializer().Serialize(out, families);
}

}  // namespace

std::string DaemonMetrics::render() {
  auto began = std::chrono::steady_clock::now();
  auto families = registry_->Collect();
  for (const auto& c : extra_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  std::string text;
  text.reserve(last_size_ + last_size_ / 8 + 4096);
  size_t series = 0;
  for (const auto& f : families) series += f.metric.size();
  // TextSerializer is half of a big scrape (1000 jails: ~25 of ~50 ms; it formats through
  // an ostream a character at a time). Families are independent in the text: a second
  // thread serializes the later half while this one does the first, and the two texts
  // are joined in order — byte for byte what one thread writes.
  std::vector<prometheus::MetricFamily> later;
  std::future<std::string> tail;  // after `later`: destroyed (joined) before it
  if (series >= kParallelSeries && std::thread::hardware_concurrency() > 1) {
    size_t half = 0, split = 0;
    while (split < families.size() && half < series / 2) half += families[split++].metric.size();
    later.assign(std::make_move_iterator(families.begin() + static_cast<std::ptrdiff_t>(split)),
                 std::make_move_iterator(families.end()));
    families.resize(split);
    try {
      tail = std::async(std::launch::async, [&later, hint = last_size_ / 2] {
        std::string t;
        t.reserve(hint + hint / 8 + 4096);
        serializeInto(t, later);
        return t;
      });
    } catch (const std::system_error&) {
      // No thread to be had: this one does all of it.
      families.insert(families.end(), std::make_move_iterator(later.begin()), std::make_move_iterator(later.end()));
      later.clear();
    }
  }
  serializeInto(text, families);
  if (tail.valid()) text += tail.get();
  last_size_ = text.size();
  scrape_duration_.Set(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return text;
}

}  // namespace vnetd::daemon
