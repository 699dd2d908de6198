#include "core/log.h"
#include "platform/policy.h"

namespace vnetd::platform {
namespace {

class LinuxPolicy final : public Policy {
 public:
  Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits) override {
    // A FreeBSD-only feature must not stop a jail's network from coming up on Linux.
    if (!limits.empty())
      VNETD_LOG_WARN("jail %s: [jail.%s.limits] are applied with rctl on FreeBSD only; ignored on Linux",
                     jail.c_str(), jail.c_str());
    return success();
  }
  Result<void> removeJailLimits(const std::string&, const RctlLimits&) override {
    return success();
  }
  Result<void> applyBridgeNat(const std::string& bridge, const Cidr&, const std::string&) override {
    return Error{ENOTSUP, "bridge " + bridge +
                              ": NAT is implemented with pf on FreeBSD; the Linux (nftables) backend does "
                              "not have it yet (remove 'nat' from the bridge, or set up NAT yourself)"};
  }
  Result<void> removeBridgeNat(const std::string&) override { return success(); }
};

}  // namespace

std::unique_ptr<Policy> openPolicy() { return std::make_unique<LinuxPolicy>(); }

}  // namespace vnetd::platform
