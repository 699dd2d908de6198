// FreeBSD facts for `vnetctl doctor` (platform/host.h): modules and sysctls from
// host_checks.h, NAT from what pf has loaded (pfctl -s, read-only).
#include "platform/freebsd/host_checks.h"
#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/pf_show.h"
#include "platform/freebsd/policy_text.h"
#include "platform/host.h"

namespace vnetd::platform {
namespace {

KernelFeature feature(const char* name, bool present, const char* yes, const char* no) {
  return {name, present ? Support::Yes : Support::No, present ? yes : no};
}

}  // namespace

Result<HostSupport> readHostSupport() {
  auto f = fbsd::readHostFacts();
  if (!f) return f.error();
  HostSupport out;
  out.features.push_back(feature("vimage", f->vimage, "kern.features.vimage=1",
                                 "kernel built without options VIMAGE (kern.features.vimage missing)"));
  out.features.push_back(feature("if_epair", f->epair_loaded, "if_epair loaded", "if_epair not loaded"));
  out.features.push_back(feature("if_bridge", f->bridge_loaded, "if_bridge loaded", "if_bridge not loaded"));
  out.features.push_back(feature("pf", f->pf_loaded, "pf loaded", "pf not loaded"));
  if (f->racct_enable)
    out.features.push_back(feature("racct", *f->racct_enable == 1, "kern.racct.enable=1", "kern.racct.enable=0"));
  else
    out.features.push_back({"racct", Support::No, "kernel without options RACCT (kern.racct.enable missing)"});
  if (f->ip_forwarding) out.ipv4_forwarding = *f->ip_forwarding != 0;
  if (f->ip6_forwarding) out.ipv6_forwarding = *f->ip6_forwarding != 0;
  return out;
}

Result<NatFacts> readBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) {
  auto pf = fbsd::moduleLoaded("pf");
  if (!pf) return pf.error();
  if (!*pf) return NatFacts{NatState::Absent, NatMissing::Module, "pf is not loaded"};
  auto info = fbsd::pfctlShow("", "info");
  if (!info) return info.error();
  if (!fbsd::pfInfoEnabled(*info)) return NatFacts{NatState::Absent, NatMissing::Disabled, "pf is loaded but disabled"};
  // The live main ruleset, not pf.conf: what pf evaluates now.
  auto main = fbsd::pfctlShow("", "nat");
  if (!main) return main.error();
  if (!fbsd::pfConfHasVnetdNatAnchor(*main))
    return NatFacts{NatState::Absent, NatMissing::Hook, "the loaded pf ruleset has no nat-anchor \"vnetd/*\""};
  auto anchor = fbsd::pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto rules = fbsd::pfctlShow(*anchor, "nat");
  if (!rules) return rules.error();
  if (!fbsd::pfNatRulesCover(*rules, egress, subnet))
    return NatFacts{NatState::Absent, NatMissing::Rules, "anchor " + *anchor + " has no nat rule for " +
                                          Cidr{subnet.network(), subnet.prefix}.toString() + " on " + egress};
  return NatFacts{NatState::Present, NatMissing::None, "anchor " + *anchor + " translates " +
                                         Cidr{subnet.network(), subnet.prefix}.toString() + " on " + egress};
}

}  // namespace vnetd::platform
