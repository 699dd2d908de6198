// A host firewall that drops forwarded traffic, as doctor's firewall:forward:<bridge>
// check sees it: the packet-filter rules that sit on the forwarding path, reduced to what
// decides whether a bridge's forwarded traffic gets through, and the pure evaluation of
// that question.
//
// Linux: the nftables ruleset (libnftables' JSON listing, decoded by
// platform/linux/forward_firewall.h), which includes what iptables-nft (Docker's
// default) and firewalld write. Rules of legacy iptables (x_tables) are not in it: only
// their presence is reported (/proc/net/ip_tables_names).
// FreeBSD: not applicable — pf's filter rules are the administrator's own configuration
// (pf.conf), and vnetd only adds a NAT anchor; nothing is read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"

namespace vnetd::platform {

// One condition of a rule. Anything the evaluation does not model is Key::Other, which
// "may or may not" match.
struct FwMatch {
  enum class Key { Iifname, Oifname, Saddr, Daddr, CtState, NfProto, Other };
  Key key = Key::Other;
  bool negate = false;             // "!=": the rule matches when the value is NOT among these
  std::vector<std::string> words;  // Iifname/Oifname: names ("eth*" wildcards); CtState: states;
                                   // NfProto: "ipv4"/"ipv6"
  std::vector<Cidr> nets;          // Saddr/Daddr
  IpFamily family = IpFamily::V4;  // Saddr/Daddr: an ip or ip6 header field
  // CtState only: an iptables conntrack match (iptables-nft "xt" expression) whose
  // states the listing does not show; taken to mean "established,related".
  bool opaque_conntrack = false;
  friend bool operator==(const FwMatch&, const FwMatch&) = default;
};

struct FwRule {
  enum class Verdict { None, Accept, Drop, Reject, Jump, Goto, Return };
  std::vector<FwMatch> matches;
  Verdict verdict = Verdict::None;
  std::string target;  // Jump/Goto
  friend bool operator==(const FwRule&, const FwRule&) = default;
};

struct FwChain {
  std::string name;
  std::string hook;    // "forward", "input", ...; "" for a regular chain
  std::string policy;  // base chains: "accept" / "drop"
  std::vector<FwRule> rules;
  friend bool operator==(const FwChain&, const FwChain&) = default;
};

struct FwTable {
  std::string family;  // "ip", "ip6", "inet", ...
  std::string name;
  std::vector<FwChain> chains;
  const FwChain* chain(const std::string& name) const;
  friend bool operator==(const FwTable&, const FwTable&) = default;
};

struct FwRuleset {
  std::vector<FwTable> tables;
  friend bool operator==(const FwRuleset&, const FwRuleset&) = default;
};

// What doctor reads (readForwardFirewall).
struct ForwardFirewallFacts {
  bool applicable = false;         // false on FreeBSD: nothing was read
  FwRuleset ruleset;
  bool legacy_iptables = false;    // /proc/net/ip_tables_names lists "filter"
};

// Linux: lists the ruleset of the calling thread's network namespace through
// libnftables and reads /proc/net/ip_tables_names. FreeBSD: {applicable = false}.
Result<ForwardFirewallFacts> readForwardFirewall();

// Who wrote a blocking chain, which decides the fix doctor prints.
enum class FwOwner {
  Nftables,   // a plain nftables chain (the administrator's, a distribution's)
  Docker,     // table ip filter with a DOCKER-USER chain (Docker through iptables-nft)
  Firewalld,  // table inet firewalld
};

// A base chain at hook forward that drops what no rule accepts (policy drop, or a last
// rule that drops/rejects unconditionally — firewalld's style), and that does not let
// one or both directions of a bridge's forwarded traffic through.
struct ForwardBlock {
  std::string family, table, chain;
  bool policy_drop = false;  // else: ends in an unconditional drop/reject
  FwOwner owner = FwOwner::Nftables;
  bool outbound = false;     // drops what the jails send out (in on the bridge, new connections)
  bool inbound = false;      // drops the replies (out on the bridge, established connections)
  friend bool operator==(const ForwardBlock&, const ForwardBlock&) = default;
};

// The chains of `ruleset` that drop forwarded traffic of the bridge named `ifname` with
// `subnet` (its IPv4 or IPv6 subnet; chains of the other family are not consulted).
// A direction counts as let through only when a rule that surely matches it accepts it
// (following jump/goto); rules whose conditions cannot be decided (ports, marks, named
// sets, ...) are passed over, so a rule that only lets some of the traffic through does
// not hide the block.
std::vector<ForwardBlock> forwardBlocks(const FwRuleset& ruleset, const std::string& ifname, const Cidr& subnet);

}  // namespace vnetd::platform
