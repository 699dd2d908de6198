#include "platform/policy.h"

#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/rctl.h"

namespace vnetd::platform {
namespace {

class FreebsdPolicy final : public Policy {
 public:
  Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits) override {
    return fbsd::applyJailLimits(jail, limits);
  }
  Result<void> removeJailLimits(const std::string& jail, const RctlLimits& limits) override {
    return fbsd::removeJailLimits(jail, limits);
  }
  Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) override {
    return fbsd::loadNatAnchor(bridge, egress, {subnet});
  }
  Result<void> removeBridgeNat(const std::string& bridge) override { return fbsd::clearNatAnchor(bridge); }
  Result<std::optional<BridgeNat>> bridgeNat(const std::string& bridge) override {
    return fbsd::natAnchorRules(bridge);
  }
  Result<bool> natHooked() override { return fbsd::natAnchorHooked(); }
};

}  // namespace

std::unique_ptr<Policy> openPolicy() { return std::make_unique<FreebsdPolicy>(); }

}  // namespace vnetd::platform
