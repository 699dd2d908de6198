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
// Layout: ONE base chain "prerouting" (type nat, hook prerouting, priority dstnat (-100),
// policy accept); per forward and family one rule, e.g.
//   meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 198.18.170.10:80
//     comment "vnetd:expose:web:0123456789abcdef"
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
inline constexpr std::string_view kNftExposeCommentPrefix = "vnetd:expose:";

struct NftExposeRule {
  std::string forward;  // ExposeTarget::name()
  std::string body;     // the rule after "add rule inet vnetd prerouting", without comment
  std::string comment;  // "vnetd:expose:<jail>:<16 hex digits of StableHash(body)>"
};

// The rules of the jail's forwards, one per forward and family with a jail address. Errors
// (errno 0) for a jail or egress name vnetd would not accept.
Result<std::vector<NftExposeRule>> nftExposeRules(std::string_view jail, const std::vector<ExposeTarget>& forwards);

struct NftExposeListing {
  // jail → comment → handles of the rules carrying it (in vnetd's chain).
  std::map<std::string, std::map<std::string, std::vector<uint64_t>>> jails;
  size_t foreign_rules = 0;       // rules without a vnetd:expose: comment, or in another chain
  bool chain_listed = false;
  bool chain_as_declared = false;  // type nat, hook prerouting, priority -100, policy accept
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
