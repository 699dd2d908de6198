// Per-jail kernel interface counters, read at scrape time: one dump of all host
// interfaces' counters per scrape (NetStack::pollLinks: the counters are never cached; on
// Linux the names, MACs and carrier come from a table the kernel's link notifications keep
// current, because the full link dump is quadratic in jails), attributed to jails through the state
// store (host-side name and MAC), turned around to the jail's point of view (what the jail
// receives is what its host-side interface transmits).
//
// Families (see docs/metrics.md):
//   vnetd_jail_network_{receive,transmit}_{bytes,packets,errors,dropped_packets}_total{jail,interface,bridge}
//   vnetd_jail_info{jail,jid} 1, vnetd_jail_up{jail}, vnetd_interface_up{jail,interface},
//   vnetd_bridge_members{bridge}
// A jail that is no longer recorded (poststop ran) has no series in the next scrape.
//
// Threading: Collect() runs on the caller's thread (the daemon loop) and uses the
// NetStack and Jails given at construction, which must not be used by another thread
// meanwhile.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <functional>
#include <string>
#include <vector>

#include "core/state_store.h"
#include "platform/jails.h"
#include "platform/netif.h"

namespace vnetd::collectors {

class JailCounters final : public prometheus::Collectable {
 public:
  // `bridges`: the configured bridges' interface names (for vnetd_bridge_members).
  using Bridges = std::function<std::vector<std::string>()>;
  JailCounters(const StateStore& store, platform::NetStack& host, platform::Jails& jails, Bridges bridges)
      : store_(store), host_(host), jails_(jails), bridges_(std::move(bridges)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const StateStore& store_;
  platform::NetStack& host_;
  platform::Jails& jails_;
  Bridges bridges_;
};

// The pure part, for tests: families from a state, a link dump and the running jails.
std::vector<prometheus::MetricFamily> jailCounterFamilies(const State& state,
                                                          const std::vector<platform::LinkInfo>& links,
                                                          const std::vector<platform::JailInfo>& running,
                                                          const std::vector<std::string>& bridges);

}  // namespace vnetd::collectors
