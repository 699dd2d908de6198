#include "core/expose_targets.h"

namespace vnetd {

std::vector<ExposeTarget> exposeTargets(const Config& config, const JailConfig& jail, const JailRecord& record) {
  std::vector<ExposeTarget> out;
  for (const InterfaceConfig& ic : jail.interfaces) {
    if (ic.expose.empty()) continue;
    const InterfaceRecord* ir = nullptr;
    for (const InterfaceRecord& r : record.interfaces)
      if (r.index == ic.index) ir = &r;
    if (!ir) continue;
    std::optional<IpAddress> v4, v6;
    for (const std::string& a : ir->addresses) {
      auto c = Cidr::parse(a);
      if (!c) continue;
      auto& slot = c->address.family == IpFamily::V4 ? v4 : v6;
      if (!slot) slot = c->address;
    }
    std::string egress, bridge;
    std::optional<Cidr> subnet_v4, subnet_v6;
    if (auto br = config.bridges.find(ic.bridge); br != config.bridges.end()) {
      if (natWanted(br->second)) egress = br->second.nat;
      bridge = br->second.interface;
      if (br->second.address) subnet_v4 = Cidr{br->second.address->network(), br->second.address->prefix};
      if (br->second.address6) subnet_v6 = Cidr{br->second.address6->network(), br->second.address6->prefix};
    }
    for (const ExposeRule& rule : ic.expose) {
      ExposeTarget t{rule, ic.index, egress, rule.v4 ? v4 : std::nullopt, rule.v6 ? v6 : std::nullopt,
                     bridge, subnet_v4, subnet_v6};
      if (t.jail_v4 || t.jail_v6) out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace vnetd
