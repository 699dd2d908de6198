#include "collectors/jail_counters.h"

#include <string_view>
#include <unordered_map>

#include "collectors/metric_family.h"
#include "core/log.h"

namespace vnetd::collectors {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using exposition::add;
using exposition::family;

// One counter of LinkCounters, seen from the jail: its receive is the host side's transmit.
struct Direction {
  const char* name;
  const char* help;
  uint64_t platform::LinkCounters::*field;
};

constexpr Direction kCounters[] = {
    {"vnetd_jail_network_receive_bytes_total",
     "Bytes received by the jail on this interface (host side transmitted), broadcasts and multicasts flooded to "
     "it included.",
     &platform::LinkCounters::tx_bytes},
    {"vnetd_jail_network_receive_packets_total",
     "Packets (frames as the host counts them: an offloaded super-frame is one) received by the jail on this "
     "interface, broadcasts and multicasts flooded to it included.",
     &platform::LinkCounters::tx_packets},
    {"vnetd_jail_network_receive_errors_total", "Receive errors of the jail on this interface.",
     &platform::LinkCounters::tx_errors},
    {"vnetd_jail_network_receive_dropped_packets_total",
     "Packets dropped on their way into the jail on this interface.",
     &platform::LinkCounters::tx_dropped},
    {"vnetd_jail_network_transmit_bytes_total", "Bytes transmitted by the jail on this interface (host side received).",
     &platform::LinkCounters::rx_bytes},
    {"vnetd_jail_network_transmit_packets_total",
     "Packets (frames as the host counts them: an offloaded super-frame is one) transmitted by the jail on this "
     "interface.",
     &platform::LinkCounters::rx_packets},
    {"vnetd_jail_network_transmit_errors_total", "Transmit errors of the jail on this interface.",
     &platform::LinkCounters::rx_errors},
    {"vnetd_jail_network_transmit_dropped_packets_total", "Packets from the jail dropped on this interface.",
     &platform::LinkCounters::rx_dropped},
};

}  // namespace

std::vector<MetricFamily> jailCounterFamilies(const State& state, const std::vector<platform::LinkInfo>& links,
                                              const std::vector<platform::JailInfo>& running,
                                              const std::vector<std::string>& bridges) {
  // Views into `links` and `running`, hashed: at 1000 jails these are built per scrape.
  std::unordered_map<std::string_view, const platform::LinkInfo*> by_name;
  by_name.reserve(links.size());
  for (const auto& l : links) by_name[l.name] = &l;
  std::unordered_map<std::string_view, const platform::JailInfo*> jail_by_name;
  jail_by_name.reserve(running.size());
  for (const auto& j : running) jail_by_name[j.name] = &j;

  std::vector<MetricFamily> counters;
  for (const auto& c : kCounters) counters.push_back(family(c.name, c.help, MetricType::Counter));
  MetricFamily info = family("vnetd_jail_info", "Jails vnetd manages that are running; jid as a label.",
                             MetricType::Gauge);
  MetricFamily up = family("vnetd_jail_up", "1 when the jail vnetd recorded is running, 0 when it is not.",
                           MetricType::Gauge);
  MetricFamily iface_up = family("vnetd_interface_up",
                                 "1 when the jail's interface has carrier (its host side is running), else 0.",
                                 MetricType::Gauge);
  MetricFamily members = family("vnetd_bridge_members", "Interfaces that are members of the bridge.",
                                MetricType::Gauge);

  // Reserved up front: a ClientMetric is large, and growing 12 vectors of a thousand
  // of them by doubling was a visible share of a scrape at 1000 jails.
  size_t interfaces = 0;
  for (const auto& [name, rec] : state.jails) interfaces += rec.interfaces.size();
  for (auto& f : counters) f.metric.reserve(interfaces);
  iface_up.metric.reserve(interfaces);
  info.metric.reserve(state.jails.size());
  up.metric.reserve(state.jails.size());
  for (const auto& [name, rec] : state.jails) {
    auto j = jail_by_name.find(name);
    bool is_up = j != jail_by_name.end();
    add(up, {{"jail", name}}, is_up ? 1 : 0);
    if (is_up) add(info, {{"jail", name}, {"jid", std::to_string(j->second->id)}}, 1);
    for (const auto& ir : rec.interfaces) {
      auto l = by_name.find(ir.host_name);
      // Identity first: a link that took the name but not the MAC is not this jail's.
      if (l == by_name.end() || MacAddress::parse(ir.host_mac) != l->second->mac) continue;
      std::vector<ClientMetric::Label> labels = {{"jail", name}, {"interface", ir.jail_name}, {"bridge", ir.bridge}};
      for (size_t i = 0; i < std::size(kCounters); ++i)
        add(counters[i], i + 1 < std::size(kCounters) ? labels : std::move(labels),
            static_cast<double>(l->second->counters.*kCounters[i].field));
      add(iface_up, {{"jail", name}, {"interface", ir.jail_name}}, l->second->running ? 1 : 0);
    }
  }
  for (const auto& b : bridges) {
    auto l = by_name.find(b);
    if (l == by_name.end()) continue;
    size_t n = 0;
    for (const auto& m : links) n += m.master_index == l->second->index;
    add(members, {{"bridge", b}}, static_cast<double>(n));
  }
  std::vector<MetricFamily> out = std::move(counters);
  for (auto* f : {&info, &up, &iface_up, &members}) out.push_back(std::move(*f));
  return out;
}

std::vector<MetricFamily> JailCounters::Collect() const {
  // Lock-free read of the last committed state: a scrape never waits behind a hook.
  auto state = store_.snapshot();
  auto links = host_.pollLinks();
  auto running = jails_.list();
  if (!state || !links || !running) {
    const Error& e = !state ? state.error() : !links ? links.error() : running.error();
    VNETD_LOG_WARN("metrics: jail counters unavailable for this scrape: %s", e.message().c_str());
    return {};
  }
  std::vector<platform::JailInfo> own;
  for (auto& j : *running)
    if (j.own_stack) own.push_back(std::move(j));
  return jailCounterFamilies(**state, *links, own, bridges_());
}

}  // namespace vnetd::collectors
