#include "core/log.h"
#include "platform/policy.h"
#include "platform/linux/nft_expose.h"
#include "platform/linux/nft_nat.h"

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
  Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) override {
    return lnx::loadNftNat(bridge, egress, {subnet});
  }
  Result<void> removeBridgeNat(const std::string& bridge) override { return lnx::removeNftNat(bridge); }
  Result<std::optional<BridgeNat>> bridgeNat(const std::string& bridge) override { return lnx::nftNatOf(bridge); }
  // vnetd's table carries its own base chain hooked at postrouting: nothing outside it (like
  // FreeBSD's nat-anchor line in pf.conf) can be lost while the rules stay. A chain that lost
  // its shape is not "unhooked" either: nft_text.h reports every bridge's rules as not
  // recognised then, and the reconciler's load declares the chain again (putting back policy
  // accept; a changed type, hook or priority is refused by the kernel and reported).
  Result<bool> natHooked() override { return true; }

  // Issue 19: forwards in table inet vnetd (linux/nft_expose.h).
  Result<void> applyJailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) override {
    return lnx::loadNftExpose(jail, forwards);
  }
  Result<void> removeJailExpose(const std::string& jail) override { return lnx::removeNftExpose(jail); }
  Result<ExposeLoaded> jailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) override {
    return lnx::nftExposeLoadedNow(jail, forwards);
  }
  Result<std::set<std::string>> exposeJails() override { return lnx::nftExposeJails(); }
};

}  // namespace

std::unique_ptr<Policy> openPolicy() { return std::make_unique<LinuxPolicy>(); }

}  // namespace vnetd::platform
