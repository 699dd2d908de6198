// Port forwards (issue 19, core/expose.h) on Linux: destination NAT in vnetd's own nftables
// table "inet vnetd", through libnftables in-process (nftables.h), like the NAT of bridges
// (nft_nat.h, table "ip vnetd"). Text and listing reader are pure (unit-tested, fuzzed by
// tests/fuzz/fuzz_linux_nft.cc); the lower half runs them.
//
// Why a table of its own, and family inet: one forward may be for IPv4 and IPv6, and the
// inet family takes both in one chain (nat chains of family inet: Linux 5.2, nftables 0.9.1;
// the kernel here, and Debian 12's, have them). `ip vnetd` stays as it is (its reader counts
// everything else in it as foreign), and the two are found and repaired separately.
//
// Layout: three base chains, each type nat, policy accept: "prerouting" (hook prerouting,
// priority dstnat -100), "output" (hook output, priority -100), "postrouting" (hook
// postrouting, priority srcnat 100). Per forward and family:
//   prerouting   meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 198.18.170.10:80
//                comment "vnetd:expose:web:0123456789abcdef"
//   output       the same rule, so that the host itself reaches the forward through its own
//                address (locally made packets pass output, not prerouting); not for a
//                forward on the NAT egress's addresses (`iifname` has no meaning there)
//   postrouting  meta nfproto ipv4 oifname "br0" ip saddr 198.18.170.0/24 ip daddr
//                198.18.170.10 tcp dport 80 ct status dnat masquerade
//                (hairpin: a jail of the same bridge reaching the forward through the host's
//                address gets the answer through the host, not straight from the other jail;
//                only with a bridge address of the family)
// The match on the external address is `ip daddr A` / `ip6 daddr A` when the forward names
// one; else, with NAT on the bridge, `iifname "<egress>" fib daddr . iif type local` (an
// address of the egress, arriving there: nft(8) "FIB EXPRESSIONS"), else `fib daddr type
// local` (any address of the host). A port range keeps its ports (dnat without port).
// The comment names the jail and a StableHash of the rule's text: a jail's rules are found
// by it and deleted by handle; a rule whose text would differ (another address, port or
// egress) has another comment, so "loaded as expected" is "every expected comment listed".
// No command names another table; none flushes.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/expose.h"
#include "core/result.h"
#include "platform/policy.h"

namespace vnetd::platform::lnx {

inline constexpr const char* kNftExposeFamily = "inet";
inline constexpr const char* kNftExposeTable = "vnetd";
inline constexpr const char* kNftExposeChain = "prerouting";
inline constexpr const char* kNftExposeOutputChain = "output";
inline constexpr const char* kNftExposePostroutingChain = "postrouting";
inline constexpr std::string_view kNftExposeCommentPrefix = "vnetd:expose:";

struct NftExposeRule {
  std::string forward;  // ExposeTarget::name()
  std::string chain;    // kNftExposeChain, kNftExposeOutputChain or kNftExposePostroutingChain
  std::string body;     // the rule after "add rule inet vnetd <chain>", without comment
  std::string comment;  // "vnetd:expose:<jail>:<16 hex digits of StableHash(chain, body)>"
};

// The rules of the jail's forwards, one per forward and family with a jail address. Errors
// (errno 0) for a jail or egress name vnetd would not accept.
Result<std::vector<NftExposeRule>> nftExposeRules(std::string_view jail, const std::vector<ExposeTarget>& forwards);

struct NftExposeListing {
  // jail → comment → (chain, handle) of the rules carrying it (in vnetd's chains).
  std::map<std::string, std::map<std::string, std::vector<std::pair<std::string, uint64_t>>>> jails;
  size_t foreign_rules = 0;        // rules without a vnetd:expose: comment, or in another chain
  bool chain_listed = false;       // the prerouting chain exists
  bool chain_as_declared = false;  // all three chains listed, each as declared
};

// Reads libnftables' JSON listing of `list table inet vnetd` (json_schema_version 1, with
// handles). Objects of other tables or families are ignored. Errors (errno 0) for text that
// is not such a listing.
Result<NftExposeListing> decodeNftExposeListing(std::string_view json);

// One transaction: declare table and chain, delete every listed rule of the jail (by handle),
// add `rules`.
std::string nftExposeLoadCommands(std::string_view jail, const std::vector<NftExposeRule>& rules,
                                  const NftExposeListing& old);
// Deletes every listed rule of the jail; "" when there is none.
std::string nftExposeRemoveCommands(std::string_view jail, const NftExposeListing& old);
// Per forward: every one of its rules listed, in a chain as declared; and whether the jail
// has rules listed that `rules` does not hold.
ExposeLoaded nftExposeLoaded(std::string_view jail, const std::vector<NftExposeRule>& rules,
                             const NftExposeListing& listing);

// --- running them (libnftables) ---
Result<NftExposeListing> listNftExpose();
Result<void> loadNftExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards);
Result<void> removeNftExpose(const std::string& jail);
Result<ExposeLoaded> nftExposeLoadedNow(const std::string& jail, const std::vector<ExposeTarget>& forwards);
Result<std::set<std::string>> nftExposeJails();

}  // namespace vnetd::platform::lnx
