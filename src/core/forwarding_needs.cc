#include "core/forwarding_needs.h"

#include <set>

namespace vnetd {

ForwardingNeeds forwardingNeeds(const Config& config, const std::vector<IpAddress>& more_gateways) {
  ForwardingNeeds out;
  for (const auto& [key, b] : config.bridges)
    if (natWanted(b)) out.ipv4.nat.push_back(key);

  std::set<std::string> seen4, seen6;
  auto routesVia = [&](const std::optional<IpAddress>& g) {
    if (!g) return;
    bool v4 = g->family == IpFamily::V4;
    auto& need = v4 ? out.ipv4 : out.ipv6;
    auto& seen = v4 ? seen4 : seen6;
    for (const auto& [key, b] : config.bridges) {
      const auto& a = v4 ? b.address : b.address6;
      if (a && a->address == *g && seen.insert(key).second) need.gateways.emplace_back(key, *g);
    }
  };
  auto fromJail = [&](const JailConfig& jc) {
    for (const auto& ic : jc.interfaces) {
      routesVia(ic.gateway);
      routesVia(ic.gateway6);
    }
  };
  // A bridge that sends router advertisements is the default router of every jail that
  // configures itself from them (address6 = "slaac", issue 19): it routes for them.
  for (const auto& [key, b] : config.bridges)
    if (b.router_advertisements && b.address6) routesVia(b.address6->address);
  for (const auto& [name, jc] : config.jails) fromJail(jc);
  if (config.jail_defaults) fromJail(*config.jail_defaults);
  for (const auto& g : more_gateways) routesVia(g);
  return out;
}

}  // namespace vnetd
