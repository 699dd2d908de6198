// Pure readers of pfctl(8) -s output, for `vnetctl doctor`'s NAT check on FreeBSD.
// Platform-neutral (no FreeBSD header) so they are unit-tested and fuzzed on Linux
// (tests/fuzz/fuzz_pf_show.cc). pfctl's output is outside bytes: any text is fine.
#pragma once

#include <optional>
#include <string_view>

#include "core/ip.h"
#include "platform/policy.h"

namespace vnetd::platform::fbsd {

// `pfctl -s info`: true when its "Status:" line says Enabled.
bool pfInfoEnabled(std::string_view info);

// `pfctl -a vnetd/<bridge> -s nat`: true when a rule translates `subnet` (its network
// and prefix, as pfNatRules writes it) on `egress`, e.g.
//   nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin
bool pfNatRulesCover(std::string_view rules, std::string_view egress, const Cidr& subnet);

// `pfctl -a vnetd/<bridge> -s nat`: what the anchor translates, for the reconciler.
// nullopt when it holds no rule (pfctl's own warnings, e.g. "DIOCGETRULES: Invalid
// argument" for an anchor that does not exist, are not rules). A rule is recognised when
// it is what pfNatRules loads, as pfctl prints it back (sbin/pfctl/pfctl_parser.c
// print_rule: "nat on <if> inet from <net>[/<len>] to any -> (<if>)" and pool options
// after it, e.g. "round-robin"); anything else, or rules that disagree on the egress,
// make `recognised` false.
std::optional<BridgeNat> pfNatLoaded(std::string_view rules);

}  // namespace vnetd::platform::fbsd
