// Text vnetd exchanges with libnftables (platform/linux/nftables.h) for a bridge's NAT on
// Linux: the commands of one transaction, the reader of the JSON listing of vnetd's table,
// and the one-line error made from libnftables' error buffer. Pure (no syscalls), so the
// exact commands are unit-tested and the reader is fuzzed (tests/fuzz/fuzz_linux_nft.cc);
// nft_nat.cc runs them.
//
// Layout: vnetd's own table "ip vnetd" holds ONE base chain, "postrouting" (type nat, hook
// postrouting, priority srcnat, policy accept), with one rule per subnet of a NAT bridge:
//   ip saddr <network>/<prefix> oifname "<egress>" masquerade comment "vnetd:bridge:<bridge>"
// The comment names the bridge: a bridge's rules are found by it in the listing and deleted
// exactly by their handles, so one bridge's change never touches another bridge's rules, nor
// rules without such a comment (someone else's, kept and only counted). masquerade follows
// the egress address when it changes (DHCP), as pf's "-> (<egress>)" does on FreeBSD.
// No command here names another table, and none flushes a table or the ruleset.
//
// Issue 15's layout (a base chain per bridge, "nat_<hex of the bridge name>") is still read,
// only to delete it: a bridge whose old chain is listed is reported not recognised, and the
// next load or remove of that bridge deletes the old chain in the same transaction.
#pragma once

#include <cstdint>
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
inline constexpr const char* kNftChain = "postrouting";
inline constexpr std::string_view kNftCommentPrefix = "vnetd:bridge:";
inline constexpr size_t kMaxNftListing = size_t{1} << 20;

// Issue 15's per-bridge chain: "nat_" + lower-case hex of the bridge name (nft 1.0.6 takes
// no quoted chain names, and interface names may hold '-'); errors for a name vnetd would
// not accept. Only ever deleted now.
Result<std::string> nftLegacyNatChain(std::string_view bridge);

// One bridge's rules in vnetd's table, as listed.
struct NftBridgeRules {
  // What they translate. recognised = false when any rule carrying the bridge's comment is
  // not exactly what nftNatLoadCommands writes, the rules disagree on the egress, the
  // bridge's legacy chain is listed, or vnetd's chain is not declared as vnetd declares it.
  BridgeNat nat;
  std::vector<uint64_t> handles;  // every rule in vnetd's chain carrying the bridge's comment
  bool legacy_chain = false;      // nftLegacyNatChain(bridge) is listed
};

struct NftNatListing {
  // Bridges with at least one rule carrying their comment, or a legacy chain.
  std::map<std::string, NftBridgeRules> bridges;
  // Rules in vnetd's table that carry no vnetd:bridge: comment (or sit in another chain):
  // never touched, counted so that a test can say "exactly these rules".
  size_t foreign_rules = 0;
  bool chain_listed = false;  // vnetd's postrouting chain exists
  // The chain is type nat, hook postrouting, priority srcnat (100), policy accept. A
  // changed policy is put back by the next load ("add chain" updates it); a changed type,
  // hook or priority makes the kernel refuse the load (delete the chain by hand).
  bool chain_as_declared = false;
};

// Reads libnftables' JSON listing of `list table ip vnetd` (json_schema_version 1, as
// libnftables 1.0.6 prints it with NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE). Objects of
// other tables or families are ignored. Errors (errno 0) for text that is not such a
// listing.
Result<NftNatListing> decodeNftNatListing(std::string_view json);

// One transaction for libnftables: declare the table and the chain, delete the rules of
// `bridge` listed in `old` (by handle) and its legacy chain if listed, add one rule per
// subnet. IPv4 subnets only (jails' IPv6 is routed, not translated). Errors (errno 0) for a
// bridge or egress name vnetd would not accept.
Result<std::string> nftNatLoadCommands(std::string_view bridge, std::string_view egress,
                                       const std::vector<Cidr>& subnets, const NftBridgeRules& old);

// One transaction deleting exactly the bridge's listed rules (by handle) and its legacy
// chain; "" when `old` holds nothing (nothing to run).
Result<std::string> nftNatRemoveCommands(std::string_view bridge, const NftBridgeRules& old);

// The Error for a failed libnftables run, from its error buffer: context "<what>: <first
// non-empty line, trimmed>". libnftables ends a kernel error's line with strerror(errno)
// (src/libnftables.c nft_netlink: "Could not process rule: %s"; cache errors likewise):
// when that text is strerror(ENOENT), strerror(EPERM) or strerror(EACCES), `code` is that
// errno and the text is taken off the context, so that Error::message() is exactly
// "<what>: <line>". Any other failure has code EIO, context "<what>: <line>" (message()
// then appends strerror(EIO), as for every Error).
Error nftError(const std::string& what, std::string_view error_buffer);

}  // namespace vnetd::platform::lnx
