#include "platform/policy.h"

#include <vector>

#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/rctl.h"

namespace vnetd::platform {
namespace {

class FreebsdPolicy final : public Policy {
 public:
  Result<void> applyJailLimits(const std::string& jail, const std::map<std::string, std::string>& limits) override {
    if (limits.empty()) return success();
    std::vector<fbsd::RctlLimit> rules;
    for (const auto& [resource, amount] : limits) rules.push_back({resource, amount});
    return fbsd::applyJailLimits(jail, rules);
  }
  Result<void> removeJailLimits(const std::string& jail, const std::map<std::string, std::string>& limits) override {
    std::vector<std::string> resources;
    for (const auto& [resource, amount] : limits) resources.push_back(resource);
    return fbsd::removeJailLimits(jail, resources);
  }
  Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) override {
    return fbsd::loadNatAnchor(bridge, egress, {subnet});
  }
  Result<void> removeBridgeNat(const std::string& bridge) override { return fbsd::clearNatAnchor(bridge); }
};

}  // namespace

std::unique_ptr<Policy> openPolicy() { return std::make_unique<FreebsdPolicy>(); }

}  // namespace vnetd::platform
