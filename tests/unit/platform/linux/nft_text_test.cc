// The commands vnetd gives libnftables for a bridge's NAT, the reader of libnftables' JSON
// listing of vnetd's table, and the one-line errors. The listings under
// tests/fixtures/nft/ are real libnftables 1.0.6 output (Debian 12), made by
// tests/fixtures/nft/generate.py in a private network namespace.
#include "platform/linux/nft_text.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "core/file_util.h"

namespace vnetd::platform::lnx {
namespace {

std::string fixture(const std::string& name) {
  auto text = readSmallFile(std::string(VNETD_SOURCE_DIR) + "/tests/fixtures/nft/" + name, kMaxNftListing);
  EXPECT_TRUE(text) << name << ": " << text.error().message();
  return text ? *text : std::string();
}

NftNatListing decoded(const std::string& name) {
  auto listing = decodeNftNatListing(fixture(name));
  EXPECT_TRUE(listing) << name << ": " << listing.error().message();
  return listing ? *listing : NftNatListing{};
}

Cidr cidr(const char* text) { return *Cidr::parse(text); }

constexpr const char* kDeclare =
    "add table ip vnetd\n"
    "add chain ip vnetd postrouting { type nat hook postrouting priority srcnat; policy accept; }\n";

TEST(NftText, LegacyChainNamesAreHexOfTheBridgeName) {
  EXPECT_EQ(*nftLegacyNatChain("br-0"), "nat_62722d30");
  EXPECT_EQ(*nftLegacyNatChain("vnetd0"), "nat_766e65746430");
  EXPECT_FALSE(nftLegacyNatChain("bad name"));
  EXPECT_FALSE(nftLegacyNatChain(""));
  EXPECT_FALSE(nftLegacyNatChain("x;flush ruleset"));
}

TEST(NftText, FirstLoadDeclaresTheChainAndAddsOneNamedRulePerSubnet) {
  auto commands = nftNatLoadCommands("br-0", "eth0", {cidr("198.18.85.1/24"), cidr("198.18.87.7/32")}, {});
  ASSERT_TRUE(commands) << commands.error().message();
  EXPECT_EQ(*commands, std::string(kDeclare) +
                           "add rule ip vnetd postrouting ip saddr 198.18.85.0/24 oifname \"eth0\" masquerade comment "
                           "\"vnetd:bridge:br-0\"\n"
                           "add rule ip vnetd postrouting ip saddr 198.18.87.7/32 oifname \"eth0\" masquerade comment "
                           "\"vnetd:bridge:br-0\"\n");
}

TEST(NftText, ReloadDeletesExactlyTheListedHandlesAndTheLegacyChain) {
  NftBridgeRules old;
  old.handles = {3, 5};
  old.legacy_chain = true;
  auto commands = nftNatLoadCommands("br-1", "eth9", {cidr("198.18.86.0/24")}, old);
  ASSERT_TRUE(commands) << commands.error().message();
  EXPECT_EQ(*commands, std::string(kDeclare) +
                           "delete rule ip vnetd postrouting handle 3\n"
                           "delete rule ip vnetd postrouting handle 5\n"
                           "delete chain ip vnetd nat_62722d31\n"
                           "add rule ip vnetd postrouting ip saddr 198.18.86.0/24 oifname \"eth9\" masquerade comment "
                           "\"vnetd:bridge:br-1\"\n");
}

TEST(NftText, BadNamesAndIpv6AreRefusedBeforeAnyCommand) {
  EXPECT_FALSE(nftNatLoadCommands("br-0", "eth0\" accept", {cidr("198.18.85.1/24")}, {}));
  EXPECT_FALSE(nftNatLoadCommands("br 0", "eth0", {cidr("198.18.85.1/24")}, {}));
  EXPECT_FALSE(nftNatLoadCommands("br-0", "eth0", {cidr("2001:db8::1/64")}, {}));
  EXPECT_FALSE(nftNatRemoveCommands("br\"0", {}));
}

TEST(NftText, RemoveDeletesOnlyWhatIsListedAndNothingWhenNothingIs) {
  EXPECT_EQ(*nftNatRemoveCommands("br-0", {}), "");
  NftBridgeRules old;
  old.handles = {2};
  EXPECT_EQ(*nftNatRemoveCommands("br-0", old), "delete rule ip vnetd postrouting handle 2\n");
  old.handles.clear();
  old.legacy_chain = true;
  EXPECT_EQ(*nftNatRemoveCommands("br-0", old), "delete chain ip vnetd nat_62722d30\n");
}

TEST(NftText, ListingReadsBackWhatTheLoadWrites) {
  NftNatListing listing = decoded("one_bridge.json");
  EXPECT_TRUE(listing.chain_listed);
  EXPECT_TRUE(listing.chain_as_declared);
  EXPECT_EQ(listing.foreign_rules, 0u);
  ASSERT_EQ(listing.bridges.size(), 1u);
  const NftBridgeRules& br = listing.bridges.at("br-0");
  EXPECT_EQ(br.nat, (BridgeNat{"eth0", {cidr("198.18.85.0/24")}, true}));
  EXPECT_EQ(br.handles, (std::vector<uint64_t>{2}));
  EXPECT_FALSE(br.legacy_chain);
}

TEST(NftText, AFlushedTableHoldsNoNat) {
  NftNatListing listing = decoded("flushed.json");
  EXPECT_TRUE(listing.chain_listed);
  EXPECT_TRUE(listing.bridges.empty());
  EXPECT_EQ(listing.foreign_rules, 0u);
}

TEST(NftText, BridgesAreSeparatedByCommentAndForeignRulesCounted) {
  NftNatListing listing = decoded("mixed.json");
  ASSERT_EQ(listing.bridges.size(), 3u);
  EXPECT_EQ(listing.bridges.at("br-0").nat, (BridgeNat{"eth0", {cidr("198.18.85.0/24")}, true}));
  EXPECT_EQ(listing.bridges.at("br-0").handles, (std::vector<uint64_t>{2}));
  // Two subnets, the /32 listed without a prefix; the foreign rule between them is not br-1's.
  EXPECT_EQ(listing.bridges.at("br-1").nat,
            (BridgeNat{"eth1", {cidr("198.18.86.0/24"), cidr("198.18.87.7/32")}, true}));
  EXPECT_EQ(listing.bridges.at("br-1").handles, (std::vector<uint64_t>{3, 5}));
  // A rule with br-2's comment that vnetd never writes (snat): not recognised, yet deletable.
  EXPECT_FALSE(listing.bridges.at("br-2").nat.recognised);
  EXPECT_EQ(listing.bridges.at("br-2").handles, (std::vector<uint64_t>{6}));
  // The comment-less rule in postrouting and the rule of chain "other".
  EXPECT_EQ(listing.foreign_rules, 2u);
  // br-1's two rules naming two egresses: not what one load writes.
  std::string two_egresses = fixture("mixed.json");
  size_t second = two_egresses.find(R"("right": "eth1")", two_egresses.find(R"("right": "eth1")") + 1);
  ASSERT_NE(second, std::string::npos);
  two_egresses.replace(second, 15, R"("right": "eth3")");
  auto split = decodeNftNatListing(two_egresses);
  ASSERT_TRUE(split);
  EXPECT_FALSE(split->bridges.at("br-1").nat.recognised);
  EXPECT_EQ(split->bridges.at("br-1").handles, (std::vector<uint64_t>{3, 5}));
  // Removing br-1 deletes its two rules and nothing else.
  EXPECT_EQ(*nftNatRemoveCommands("br-1", listing.bridges.at("br-1")),
            "delete rule ip vnetd postrouting handle 3\ndelete rule ip vnetd postrouting handle 5\n");
}

TEST(NftText, TheLegacyLayoutIsReportedForDeletionNotTakenForNat) {
  NftNatListing listing = decoded("legacy.json");
  EXPECT_FALSE(listing.chain_listed);
  EXPECT_EQ(listing.foreign_rules, 0u) << "the rules of a legacy chain go with it";
  ASSERT_EQ(listing.bridges.size(), 1u);
  const NftBridgeRules& br = listing.bridges.at("br-0");
  EXPECT_TRUE(br.legacy_chain);
  EXPECT_TRUE(br.handles.empty());
  EXPECT_FALSE(br.nat.recognised);
  EXPECT_EQ(*nftNatRemoveCommands("br-0", br), "delete chain ip vnetd nat_62722d30\n");

  listing = decoded("upgraded.json");
  EXPECT_EQ(listing.bridges.at("br-1").nat, (BridgeNat{"eth1", {cidr("198.18.86.0/24")}, true}));
  EXPECT_TRUE(listing.bridges.at("br-0").legacy_chain);
  EXPECT_FALSE(listing.bridges.at("br-0").nat.recognised);
  EXPECT_FALSE(listing.bridges.at("br-1").legacy_chain);
}

TEST(NftText, AChainWithAnotherPolicyMakesEveryBridgeUnrecognised) {
  NftNatListing listing = decoded("policy_drop.json");
  EXPECT_TRUE(listing.chain_listed);
  EXPECT_FALSE(listing.chain_as_declared);
  EXPECT_FALSE(listing.bridges.at("br-0").nat.recognised);
  EXPECT_EQ(listing.bridges.at("br-0").handles, (std::vector<uint64_t>{2}));
}

TEST(NftText, RulesOfOtherShapesAreNotRecognised) {
  const std::string one = fixture("one_bridge.json");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = one;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    auto listing = decodeNftNatListing(text);
    EXPECT_TRUE(listing) << listing.error().message();
    return listing ? *listing : NftNatListing{};
  };
  EXPECT_FALSE(replaced(R"("field": "saddr")", R"("field": "daddr")").bridges.at("br-0").nat.recognised);
  EXPECT_FALSE(replaced(R"({"masquerade": null})", R"({"accept": null})").bridges.at("br-0").nat.recognised);
  EXPECT_FALSE(replaced(R"("addr": "198.18.85.0")", R"("addr": "198.18.85.1")").bridges.at("br-0").nat.recognised);
  EXPECT_FALSE(replaced(R"("op": "==")", R"("op": "!=")").bridges.at("br-0").nat.recognised);
  // Without a handle the rule cannot be deleted exactly: reported, never deleted blindly.
  NftNatListing no_handle = replaced(R"("handle": 2, )", "");
  EXPECT_FALSE(no_handle.bridges.at("br-0").nat.recognised);
  EXPECT_TRUE(no_handle.bridges.at("br-0").handles.empty());
  // A comment that names no valid bridge is not vnetd's.
  EXPECT_TRUE(replaced("vnetd:bridge:br-0", "vnetd:bridge:br 0").bridges.empty());
  EXPECT_EQ(replaced("vnetd:bridge:br-0", "vnetd:bridge:br 0").foreign_rules, 1u);
  // A chain of that name in another family is not vnetd's chain: the rules are not taken for
  // correct (the next load declares vnetd's).
  NftNatListing inet_chain = replaced(R"("chain": {"family": "ip")", R"("chain": {"family": "inet")");
  EXPECT_FALSE(inet_chain.chain_listed);
  EXPECT_FALSE(inet_chain.bridges.at("br-0").nat.recognised);
  // Other tables are not read at all.
  std::string other_table = one;
  for (size_t at; (at = other_table.find(R"("table": "vnetd")")) != std::string::npos;)
    other_table.replace(at, 16, R"("table": "filter")");
  auto listing = decodeNftNatListing(other_table);
  ASSERT_TRUE(listing);
  EXPECT_TRUE(listing->bridges.empty());
  EXPECT_EQ(listing->foreign_rules, 0u);
  EXPECT_FALSE(listing->chain_listed);
}

TEST(NftText, NotAListingIsAnError) {
  EXPECT_FALSE(decodeNftNatListing(""));
  EXPECT_FALSE(decodeNftNatListing("Error: No such file or directory"));
  EXPECT_FALSE(decodeNftNatListing("[]"));
  EXPECT_FALSE(decodeNftNatListing(R"({"nftables": 3})"));
  EXPECT_FALSE(decodeNftNatListing(std::string(kMaxNftListing + 1, ' ')));
  EXPECT_TRUE(decodeNftNatListing(R"({"nftables": [1, "x", {"rule": 5}, {"rule": {"expr": 3}}, {"chain": []}]})"));
}

// Error buffers as libnftables 1.0.6 fills them (seen on this machine).
TEST(NftText, ErrorsAreOneLineWithTheKernelsErrno) {
  Error e = nftError("list it", "Error: No such file or directory\nlist table ip vnetd\n              ^^^^^\n");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message(), "list it: Error: No such file or directory");
  e = nftError("load", "\n  Error: Could not process rule: No such file or directory\n"
                       "delete rule ip vnetd postrouting handle 99\n                                        ^^\n");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message(), "load: Error: Could not process rule: No such file or directory");
  // libnftables' suggestion follows the errno text: the code still says ENOENT.
  e = nftError("list it", "Error: No such file or directory; did you mean table ‘vnetd’ in family inet?\nx\n");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.context, "list it: Error: No such file or directory; did you mean table ‘vnetd’ in family inet?");
  e = nftError("list it", "netlink: Error: cache initialization failed: Operation not permitted\n");
  EXPECT_EQ(e.code, EPERM);
  EXPECT_EQ(e.message(), "list it: netlink: Error: cache initialization failed: Operation not permitted");
  e = nftError("load", "Error: Could not process rule: Permission denied\n");
  EXPECT_EQ(e.code, EACCES);
  e = nftError("load", "Error: No symbol type information\nadd rule ip vnetd postrouting foo bar\n");
  EXPECT_EQ(e.code, EIO);
  EXPECT_EQ(e.context, "load: Error: No symbol type information");
  e = nftError("load", "Error: Could not process rule: File exists\n");
  EXPECT_EQ(e.code, EIO);
  EXPECT_EQ(e.context, "load: Error: Could not process rule: File exists");
  e = nftError("load", "");
  EXPECT_EQ(e.code, EIO);
  EXPECT_EQ(e.context, "load: libnftables failed without an error message");
  EXPECT_EQ(e.message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace vnetd::platform::lnx
