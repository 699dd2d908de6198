// Text vnetd hands to FreeBSD's policy subsystems: rctl(8) rules for per-jail resource
// limits and pf(4) NAT rules for a bridge's anchor. Pure and platform-neutral (no
// FreeBSD header), so the exact strings are unit-tested on Linux; rctl.cc and pf_nat.cc
// pass them to the kernel / pfctl(8).
//
// Everything here refuses input that could change the meaning of the text it is spliced
// into (':' or '=' in an rctl rule, whitespace or quotes in a pf rule): the callers pass
// validated names, and a rule must never be able to say more than it was asked to.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"
#include "core/rctl_resources.h"
#include "core/result.h"

namespace vnetd::platform::fbsd {

// "jail:<jail>:<resource>:<action>=<amount>", e.g. jail:web:readbps:throttle=104857600:
// one rctl_add_rule(2) rule. The resource, the action and the amount's range come from
// core/rctl_resources.h, the table the config loader checks against, so a limit the
// loader accepted always gives a rule here and one the kernel takes. Errors (errno 0)
// name the offending part: a jail name vnetd would not accept, an unknown resource, an
// action the kernel refuses for the resource (deny on a rate, throttle on memoryuse, ...),
// an amount above the kernel's range.
Result<std::string> rctlRule(std::string_view jail, std::string_view resource,
                             const RctlLimit& limit);

// "jail:<jail>:<resource>:<action>": the rctl_remove_rule(2) filter matching the rules
// rctlRule() makes for this resource and action, whatever their amount (the kernel's
// rctl_rule_matches() compares only the fields a filter sets) — and no other rule of the
// jail. Same checks as rctlRule().
Result<std::string> rctlRuleFilter(std::string_view jail, std::string_view resource,
                                   std::string_view action);

// pf anchor of one bridge: "vnetd/<bridge>" (the main ruleset evaluates it through
// `nat-anchor "vnetd/*"`).
Result<std::string> pfAnchorName(std::string_view bridge);

// The anchor's ruleset: one line per subnet,
//   nat on <egress> from <subnet network>/<prefix> to any -> (<egress>)
// "(<egress>)" makes pf follow the egress address when it changes (DHCP). IPv4 only:
// jails' IPv6 is routed, not translated.
Result<std::string> pfNatRules(std::string_view egress, const std::vector<Cidr>& subnets);

// Whether pf.conf text loads vnetd's anchors: an uncommented `nat-anchor "vnetd/*"`
// (single or double quotes). Comments (# to end of line) and backslash line
// continuations are handled as pfctl does; anything else is not interpreted.
bool pfConfHasVnetdNatAnchor(std::string_view pf_conf);

}  // namespace vnetd::platform::fbsd
