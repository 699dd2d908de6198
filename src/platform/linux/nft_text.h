// Text vnetd exchanges with nft(8) for a bridge's NAT on Linux: the scripts it feeds
// `nft -f -` and the reader of `nft -j list table ip vnetd`. Pure (no syscalls), so the
// exact scripts are unit-tested and the reader is fuzzed (tests/fuzz/fuzz_linux_nft.cc);
// nft_nat.cc runs nft with them.
//
// Everything lives in vnetd's own table, "ip vnetd": one base chain per bridge, named
// "nat_<hex of the bridge name>" (nft 1.0.6 takes no quoted chain names, and interface
// names may hold '-', which an nft identifier may not; hex is unambiguous), of type nat
// at the postrouting hook with priority srcnat, holding one rule per subnet:
//   ip saddr <network>/<prefix> oifname "<egress>" masquerade comment "vnetd:bridge:<bridge>"
// masquerade follows the egress address when it changes (DHCP), as pf's "-> (<egress>)"
// does on FreeBSD. No script here names another table, and none flushes a ruleset.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/policy.h"

namespace vnetd::platform::lnx {

inline constexpr const char* kNftFamily = "ip";
inline constexpr const char* kNftTable = "vnetd";
inline constexpr size_t kMaxNftListing = size_t{1} << 20;

// "nat_" + lower-case hex of the bridge name; errors for a name vnetd would not accept.
Result<std::string> nftNatChain(std::string_view bridge);

// Replaces the bridge's chain contents in one nft transaction (declare the table and the
// chain, flush the chain, add the rules): idempotent, and a failure changes nothing.
// IPv4 subnets only (jails' IPv6 is routed, not translated).
Result<std::string> nftNatLoadScript(std::string_view bridge, std::string_view egress,
                                     const std::vector<Cidr>& subnets);

// Deletes the bridge's chain (declared first, so deleting one that is not there is no
// error); the table stays.
Result<std::string> nftNatRemoveScript(std::string_view bridge);

// Reads `nft -j list table ip vnetd` (JSON, nft's libnftables schema version 1): for each
// bridge chain (nat_<hex>) holding rules, what they translate. Chains without rules are
// absent. Rules that are not exactly what nftNatLoadScript writes, or disagree on the
// egress, make the entry `recognised = false`. Objects of other tables or families, and
// chains not named by nftNatChain, are ignored. Errors (errno 0) for text that is not
// such a listing.
Result<std::map<std::string, BridgeNat>> decodeNftNatListing(std::string_view json);

}  // namespace vnetd::platform::lnx
