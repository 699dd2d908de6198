#include "platform/forward_firewall.h"

namespace vnetd::platform {

// Not applicable: on FreeBSD the packet filter (pf, ipfw) is configured by the
// administrator's own rule files, which vnetd neither reads nor writes (its NAT lives in
// the pf anchor vnetd/<bridge>, checked by doctor's nat:<bridge>).
Result<ForwardFirewallFacts> readForwardFirewall() { return ForwardFirewallFacts{}; }

}  // namespace vnetd::platform
