// The nft(8) scripts for a bridge's NAT and the reader of `nft -j list table ip vnetd`,
// on listings as nft 1.0.6 (Debian 12) prints them.
#include "platform/linux/nft_text.h"

#include <gtest/gtest.h>

namespace vnetd::platform::lnx {
namespace {

// `nft -j list table ip vnetd` after nftNatLoadScript("br-0", "eth0", {198.18.85.0/24}),
// as printed by nft 1.0.6.
constexpr const char* kListing =
    R"({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, )"
    R"({"table": {"family": "ip", "name": "vnetd", "handle": 1}}, )"
    R"({"chain": {"family": "ip", "table": "vnetd", "name": "nat_62722d30", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, )"
    R"({"rule": {"family": "ip", "table": "vnetd", "chain": "nat_62722d30", "handle": 2, "comment": "vnetd:bridge:br-0", "expr": [)"
    R"({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "198.18.85.0", "len": 24}}}}, )"
    R"({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth0"}}, {"masquerade": null}]}}]})";

// The same after `nft flush table ip vnetd`: the chain stays, its rules are gone.
constexpr const char* kFlushed =
    R"({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, )"
    R"({"table": {"family": "ip", "name": "vnetd", "handle": 1}}, )"
    R"({"chain": {"family": "ip", "table": "vnetd", "name": "nat_62722d30", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}]})";

TEST(NftText, ChainNamesAreHexOfTheBridgeName) {
  EXPECT_EQ(*nftNatChain("br-0"), "nat_62722d30");
  EXPECT_EQ(*nftNatChain("vnetd0"), "nat_766e65746430");
  EXPECT_FALSE(nftNatChain("bad name"));
  EXPECT_FALSE(nftNatChain(""));
  EXPECT_FALSE(nftNatChain("x;flush ruleset"));
}

TEST(NftText, LoadScriptReplacesTheBridgeChainOnly) {
  auto script = nftNatLoadScript("br-0", "eth0", {*Cidr::parse("198.18.85.1/24")});
  ASSERT_TRUE(script) << script.error().message();
  EXPECT_EQ(*script,
            "table ip vnetd {\n  chain nat_62722d30 {\n    type nat hook postrouting priority srcnat; policy accept;\n"
            "  }\n}\n"
            "flush chain ip vnetd nat_62722d30\n"
            "table ip vnetd {\n  chain nat_62722d30 {\n"
            "    ip saddr 198.18.85.0/24 oifname \"eth0\" masquerade comment \"vnetd:bridge:br-0\"\n  }\n}\n");
  EXPECT_FALSE(nftNatLoadScript("br-0", "eth0\" accept", {*Cidr::parse("198.18.85.1/24")}));
  EXPECT_FALSE(nftNatLoadScript("br-0", "eth0", {*Cidr::parse("2001:db8::1/64")}));
}

TEST(NftText, RemoveScriptDeclaresThenDeletesTheChain) {
  EXPECT_EQ(*nftNatRemoveScript("br-0"),
            "table ip vnetd {\n  chain nat_62722d30 {\n    type nat hook postrouting priority srcnat; policy accept;\n"
            "  }\n}\ndelete chain ip vnetd nat_62722d30\n");
}

TEST(NftText, ListingReadsBackWhatTheLoadScriptWrites) {
  auto nat = decodeNftNatListing(kListing);
  ASSERT_TRUE(nat) << nat.error().message();
  ASSERT_EQ(nat->size(), 1u);
  EXPECT_EQ(nat->at("br-0"), (BridgeNat{"eth0", {*Cidr::parse("198.18.85.0/24")}, true}));
}

TEST(NftText, AFlushedChainHoldsNoNat) {
  auto nat = decodeNftNatListing(kFlushed);
  ASSERT_TRUE(nat) << nat.error().message();
  EXPECT_TRUE(nat->empty());
}

TEST(NftText, RulesVnetdDoesNotWriteAreMarked) {
  std::string other_target = kListing;
  other_target.replace(other_target.find(R"({"masquerade": null})"), 20, R"({"snat": {"addr": "203.0.113.1"}})");
  auto nat = decodeNftNatListing(other_target);
  ASSERT_TRUE(nat);
  ASSERT_TRUE(nat->count("br-0"));
  EXPECT_FALSE(nat->at("br-0").recognised);

  std::string daddr = kListing;
  daddr.replace(daddr.find(R"("field": "saddr")"), 16, R"("field": "daddr")");
  nat = decodeNftNatListing(daddr);
  ASSERT_TRUE(nat);
  EXPECT_FALSE(nat->at("br-0").recognised);
}

TEST(NftText, OtherTablesAndChainsAreIgnored) {
  std::string other_table = kListing;
  for (size_t at; (at = other_table.find(R"("table": "vnetd")")) != std::string::npos;)
    other_table.replace(at, 16, R"("table": "filter")");
  auto nat = decodeNftNatListing(other_table);
  ASSERT_TRUE(nat);
  EXPECT_TRUE(nat->empty());
  std::string other_chain = kListing;
  for (size_t at; (at = other_chain.find("nat_62722d30")) != std::string::npos;) other_chain.replace(at, 12, "postrouting");
  nat = decodeNftNatListing(other_chain);
  ASSERT_TRUE(nat);
  EXPECT_TRUE(nat->empty());
}

TEST(NftText, NotAListingIsAnError) {
  EXPECT_FALSE(decodeNftNatListing(""));
  EXPECT_FALSE(decodeNftNatListing("Error: No such file or directory"));
  EXPECT_FALSE(decodeNftNatListing("[]"));
  EXPECT_FALSE(decodeNftNatListing(R"({"nftables": 3})"));
  EXPECT_TRUE(decodeNftNatListing(R"({"nftables": [1, "x", {"rule": 5}, {"rule": {"expr": 3}}]})"));
}

}  // namespace
}  // namespace vnetd::platform::lnx
