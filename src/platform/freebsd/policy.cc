#include "platform/policy.h"

#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/rctl.h"

namespace vnetd::platform {
namespace {

// NAT through pf anchors (PfNatPolicy, platform-neutral and tested on Linux against a
// model of pfctl), resource limits through rctl.
class FreebsdPolicy final : public fbsd::PfNatPolicy {
 public:
  FreebsdPolicy() : PfNatPolicy(fbsd::systemPfctl()) {}
  Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits) override {
    return fbsd::applyJailLimits(jail, limits);
  }
  Result<void> removeJailLimits(const std::string& jail, const RctlLimits& limits) override {
    return fbsd::removeJailLimits(jail, limits);
  }
};

}  // namespace

std::unique_ptr<Policy> openPolicy() { return std::make_unique<FreebsdPolicy>(); }

}  // namespace vnetd::platform
