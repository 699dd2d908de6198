// Text vnetd hands to FreeBSD's policy subsystems: rctl(8) rules for per-jail resource
// limits and pf(4) NAT rules for a bridge's anchor. Pure and platform-neutral (no
// FreeBSD header), so the exact strings are unit-tested on Linux; rctl.cc and pf_nat.cc
// pass them to the kernel / pfctl(8).
//
// Everything here refuses input that could change the meaning of the text it is spliced
// into (':' or '=' in an rctl rule, whitespace or quotes in a pf rule): the callers pass
// validated names, and a rule must never be able to say more than it was asked to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"
#include "core/result.h"

namespace vnetd::platform::fbsd {

// "2G" → 2147483648. Digits with an optional binary suffix K, M, G, T, P or E
// (case-insensitive, powers of 1024, as rctl(8) accepts them). The kernel's
// rctl_add_rule(2) only takes plain numbers, so vnetd expands the suffix itself.
// nullopt for anything else: empty, signs, spaces, fractions, unknown suffixes, overflow.
std::optional<uint64_t> expandRctlAmount(std::string_view text);

// True for the resource names rctl(8) documents (memoryuse, maxproc, pcpu, ...).
bool isRctlResource(std::string_view resource);

// "jail:<jail>:<resource>:deny=<amount expanded>", e.g. jail:web:memoryuse:deny=2147483648.
// Errors (errno 0) name the offending part: a jail name vnetd would not accept, an unknown
// resource, an amount expandRctlAmount() rejects.
Result<std::string> rctlDenyRule(std::string_view jail, std::string_view resource,
                                 std::string_view amount);

// "jail:<jail>": the rctl_remove_rule(2) filter matching every rule of that jail.
Result<std::string> rctlJailFilter(std::string_view jail);

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
