#include "core/log.h"
#include "platform/policy.h"

namespace vnetd::platform {

Result<void> applyJailLimits(const std::string& jail, const std::map<std::string, std::string>& limits) {
  // A FreeBSD-only feature must not stop a jail's network from coming up on Linux.
  if (!limits.empty())
    VNETD_LOG_WARN("jail %s: [jail.%s.limits] are applied with rctl on FreeBSD only; ignored on Linux",
                   jail.c_str(), jail.c_str());
  return success();
}

Result<void> removeJailLimits(const std::string&, const std::map<std::string, std::string>&) { return success(); }

Result<void> removeBridgeNat(const std::string&) { return success(); }

Result<void> applyBridgeNat(const std::string& bridge, const Cidr&, const std::string&) {
  return Error{ENOTSUP, "bridge " + bridge +
                            ": NAT is implemented with pf on FreeBSD; the Linux (nftables) backend does "
                            "not have it yet (remove 'nat' from the bridge, or set up NAT yourself)"};
}

}  // namespace vnetd::platform
