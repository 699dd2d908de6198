#include "daemon/metrics.h"

#include <chrono>
#include <iterator>

#include "exporters/text_exposition.h"
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
                         "repair_jail_pairs, collect_orphan, destroy_leftover, report_foreign, ensure_expose, "
                         "remove_expose).")
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
                      .Register(*registry_)),
      expose_active_(prometheus::BuildGauge()
                         .Name("vnetd_expose_active")
                         .Help("1 when every rule of a running jail's port forward (expose) is loaded as vnetd writes "
                               "it, 0 otherwise (flushed, deleted, not loadable).")
                         .Register(*registry_)) {
  // Failures are what alerts watch: every (phase, reason) is there from 0, so that
  // increase() sees the first failure (a series born at 1 hides it). Both sets are closed.
  for (HookPhase phase : {HookPhase::Prestart, HookPhase::Created, HookPhase::Poststart, HookPhase::Prestop,
                          HookPhase::Poststop})
    for (const char* reason : {"kernel", "refused"})
      hook_failures_.Add({{"phase", hookPhaseName(phase)}, {"reason", reason}});
  prometheus::BuildGauge()
      .Name("vnetd_build_info")
      .Help("vnetd's version, revision and platform; always 1.")
      .Register(*registry_)
      .Add({{"version", build::kVersion}, {"revision", build::kRevision}, {"platform", build::kPlatform}})
      .Set(1);
}

namespace {

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

void DaemonMetrics::setExposeActive(const std::map<std::pair<std::string, std::string>, bool>& active) {
  std::lock_guard<std::mutex> guard(bridge_nat_mutex_);
  for (auto it = expose_series_.begin(); it != expose_series_.end();) {
    if (active.count(it->first)) {
      ++it;
      continue;
    }
    expose_active_.Remove(it->second);
    it = expose_series_.erase(it);
  }
  for (const auto& [key, on] : active) {
    prometheus::Gauge*& g = expose_series_[key];
    if (!g) g = &expose_active_.Add({{"jail", key.first}, {"expose", key.second}});
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

std::string DaemonMetrics::render() {
  auto began = std::chrono::steady_clock::now();
  auto families = registry_->Collect();
  for (const auto& c : extra_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  // The text is written by exporters/text_exposition.h, not prometheus::TextSerializer:
  // the same bytes, ~6x faster (1000 jails: ~60 000 series, a few ms instead of ~30).
  std::string text;
  text.reserve(last_size_ + last_size_ / 8 + 4096);
  exporters::appendExposition(text, families);
  last_size_ = text.size();
  scrape_duration_.Set(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return text;
}

}  // namespace vnetd::daemon
