#include "platform/policy.h"

#include <vector>

#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/rctl.h"

namespace vnetd::platform {

Result<void> applyJailLimits(const std::string& jail, const std::map<std::string, std::string>& limits) {
  if (limits.empty()) return success();
  std::vector<fbsd::RctlLimit> rules;
  for (const auto& [resource, amount] : limits) rules.push_back({resource, amount});
  return fbsd::applyJailLimits(jail, rules);
}

Result<void> removeJailLimits(const std::string& jail, const std::map<std::string, std::string>& limits) {
  std::vector<std::string> resources;
  for (const auto& [resource, amount] : limits) resources.push_back(resource);
  return fbsd::removeJailLimits(jail, resources);
}

Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) {
  return fbsd::loadNatAnchor(bridge, egress, {subnet});
}

Result<void> removeBridgeNat(const std::string& bridge) { return fbsd::clearNatAnchor(bridge); }

}  // namespace vnetd::platform
