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

#include "core/expose.h"
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

// --- issue 19, port forwarding (core/expose.h) ---
// A jail's forwards live in an anchor of their own, "vnetd/expose.<jail>", loaded and
// emptied as a whole with pfctl -a ... -f - like a bridge's NAT anchor (a bridge's anchor
// cannot hold them: loading one replaces everything in it). pf evaluates its rdr rules
// through `rdr-anchor "vnetd/*"` in the main ruleset (pfConfHasVnetdRdrAnchor).
Result<std::string> pfExposeAnchorName(std::string_view jail);

// The anchor's ruleset: one `rdr pass` rule per forward and family with a jail address,
//   rdr pass on <egress> inet proto tcp from any to (<egress>) port 8080 -> 198.18.0.10 port 80
//   rdr pass inet6 proto udp from any to (self) port 53 -> 2001:db8::10 port 53
//   rdr pass inet proto tcp from any to 198.51.100.7 port 8000:8010 -> 198.18.0.10 port 8000:*
// pf.conf(5) facts, read in freebsd-src at 8a8af942 (sbin/pfctl/parse.y) and in sys/netpfil/pf:
//  - `on <if>` is optional (parse.y: interface : empty | ON if_item_not | ...);
//  - "(<if>)" is a dynamic address, re-read when the interface's addresses change, and
//    "(self)" is every address of the host: pf_if.c pfi_dynaddr_setup attaches the kif
//    IFG_ALL for the name "self";
//  - `pass` on an rdr rule skips the filter rules for the translated packet: pf.c
//    pf_test_rule sets r = NULL when nr->natpass (parse.y: RDR natpass), so a pf.conf
//    that blocks by default needs no rule of its own for a forward;
//  - `port a:b -> addr port c:*` keeps the offset: pf_lb.c pf_get_translation, case PF_RDR,
//    nport = (dport - dst.port[0]) % (proxy_port[1] - proxy_port[0] + 1) + proxy_port[0]
//    (pfctl's regression pair sbin/pfctl/tests/files/pf1032.in/.ok: "port 3004:*" is
//    printed "port 3004:4004"); a range goes to the same ports (core/expose.h), so c = a.
// IPv6 goes to the jail's own address: destination rewritten, no NAT66 of the source.
// Errors (errno 0) for a jail or egress name vnetd would not accept.
Result<std::string> pfRdrRules(const std::vector<ExposeTarget>& forwards);

// How many rules pfRdrRules writes for `forwards`: what the anchor must list.
size_t pfRdrRuleCount(const std::vector<ExposeTarget>& forwards);

// Lines of `pfctl -a <anchor> -s nat` that are rdr rules ("rdr ..." as pfctl's
// print_rule prints them, one per line).
size_t pfRdrRulesListed(std::string_view pfctl_show_nat);

// Whether text (pf.conf, or `pfctl -s nat` of the main ruleset) holds an active
// `rdr-anchor "vnetd/*"`; same reading as pfConfHasVnetdNatAnchor.
bool pfConfHasVnetdRdrAnchor(std::string_view pf_conf);
// --- end port forwarding ---

}  // namespace vnetd::platform::fbsd
