// The daemon's own metrics (prometheus-cpp core Registry) plus the collectors registered
// with it, rendered as one text exposition per scrape.
//
//   vnetd_build_info{version,revision,platform} 1
//   vnetd_hook_duration_seconds{phase}          histogram of hooks the daemon ran
//   vnetd_hook_failures_total{phase,reason}     reason: kernel (an OS call failed) | refused
//   vnetd_interface_events_total{source,type}   interface events received
//   vnetd_reconcile_actions_total{action}       reconciler actions taken
//   vnetd_scrape_duration_seconds               how long the previous scrape took
//   vnetd_bridge_nat_active{bridge}             1 when a NAT bridge's rules are in place as
//                                               vnetd expects (reconciler.h natInPlace)
//   vnetd_expose_active{jail,expose}            1 when a forward's rules are loaded as vnetd
//                                               writes them (issue 19), 0 otherwise
//
// Threading: the recording methods may be called from any thread (prometheus-cpp metrics
// are atomic, families lock); render() runs on the loop thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/jail_network.h"
#include "core/result.h"

namespace vnetd::daemon {

class DaemonMetrics {
 public:
  DaemonMetrics();
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  void hookDone(HookPhase phase, double seconds);
  void hookFailed(HookPhase phase, const Error& error);
  void event(const char* source, const char* type);
  void action(const char* action);
  // The NAT bridges' states after a reconcile pass (bridge interface → active); series of
  // bridges not in `active` go (no longer configured with NAT, or not read this pass).
  void setBridgeNat(const std::map<std::string, bool>& active);
  // Issue 19: the running jails' forwards after a reconcile pass, (jail, forward) → in
  // place; series not in `active` go (stopped jails, forwards taken out, not read).
  void setExposeActive(const std::map<std::pair<std::string, std::string>, bool>& active);

  // Collected at every scrape, after the daemon's own families. Loop thread.
  void add(std::shared_ptr<prometheus::Collectable> collectable) { extra_.push_back(std::move(collectable)); }

  // One scrape. Loop thread.
  std::string render();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& hook_duration_;
  prometheus::Family<prometheus::Counter>& hook_failures_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Gauge& scrape_duration_;
  prometheus::Family<prometheus::Gauge>& bridge_nat_;
  std::map<std::string, prometheus::Gauge*> bridge_nat_series_;  // guarded by bridge_nat_mutex_
  std::mutex bridge_nat_mutex_;
  prometheus::Family<prometheus::Gauge>& expose_active_;  // issue 19
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> expose_series_;  // guarded by bridge_nat_mutex_
  size_t last_size_ = 0;  // of the previous page: the next one is about as large
  std::vector<std::shared_ptr<prometheus::Collectable>> extra_;
};

}  // namespace vnetd::daemon
