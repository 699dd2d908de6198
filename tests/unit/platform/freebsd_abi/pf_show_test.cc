// doctor's readers of pfctl -s output (FreeBSD), on text as pfctl prints it.
#include "platform/freebsd/pf_show.h"

#include <gtest/gtest.h>

namespace vnetd::platform::fbsd {
namespace {

TEST(PfShow, InfoEnabled) {
  EXPECT_TRUE(pfInfoEnabled("Status: Enabled for 0 days 00:12:34           Debug: Urgent\n\nState Table\n"));
  EXPECT_FALSE(pfInfoEnabled("Status: Disabled for 0 days 00:00:05         Debug: Urgent\n"));
  EXPECT_FALSE(pfInfoEnabled("No ALTQ support in kernel\n"));
  EXPECT_FALSE(pfInfoEnabled(""));
}

TEST(PfShow, NatRulesCoverTheSubnetOnTheEgress) {
  Cidr subnet = *Cidr::parse("198.18.0.1/24");
  const char* rules = "nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin\n";
  EXPECT_TRUE(pfNatRulesCover(rules, "em0", subnet));
  EXPECT_FALSE(pfNatRulesCover(rules, "em1", subnet));
  EXPECT_FALSE(pfNatRulesCover(rules, "em0", *Cidr::parse("198.18.1.1/24")));
  EXPECT_FALSE(pfNatRulesCover("nat on em1 inet from 198.18.0.0/24 to any -> (em0)\n", "em0", subnet))
      << "the translation target is not the interface the rule is on";
  EXPECT_FALSE(pfNatRulesCover("", "em0", subnet));
  EXPECT_FALSE(pfNatRulesCover("rdr on em0 inet from 198.18.0.0/24 to any -> 1.2.3.4\n", "em0", subnet));
}

// The reconciler's reading of an anchor: what pfNatRules loads, as pfctl prints it back.
TEST(PfShow, NatLoadedReadsBackWhatVnetdLoads) {
  auto nat = pfNatLoaded("nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin\n");
  ASSERT_TRUE(nat);
  EXPECT_EQ(*nat, (BridgeNat{"em0", {*Cidr::parse("198.18.0.0/24")}, true}));
  // pfctl prints a /32 without its length.
  nat = pfNatLoaded("nat on em0 inet from 198.18.0.9 to any -> (em0) round-robin\n");
  ASSERT_TRUE(nat);
  EXPECT_EQ(nat->subnets, std::vector<Cidr>{*Cidr::parse("198.18.0.9/32")});
  // Two subnets, one egress.
  nat = pfNatLoaded("nat on em0 inet from 198.18.0.0/24 to any -> (em0)\nnat on em0 inet from 198.18.1.0/24 to any -> (em0)\n");
  ASSERT_TRUE(nat);
  EXPECT_TRUE(nat->recognised);
  EXPECT_EQ(nat->subnets.size(), 2u);
}

TEST(PfShow, NatLoadedIsEmptyForAnAnchorWithoutRules) {
  EXPECT_FALSE(pfNatLoaded(""));
  // pfctl_show_nat() warns (sbin/pfctl/pfctl.c) when the anchor does not exist.
  EXPECT_FALSE(pfNatLoaded("pfctl: DIOCGETRULES: Invalid argument\n"));
  EXPECT_FALSE(pfNatLoaded("No ALTQ support in kernel\nALTQ related functions disabled\n"));
}

TEST(PfShow, NatLoadedMarksRulesVnetdDoesNotWrite) {
  for (const char* text : {
           "nat on em0 inet from 198.18.0.0/24 to any -> 203.0.113.1\n",          // static target
           "nat on em0 inet from 198.18.0.0/24 to any -> (em1)\n",                // another target
           "nat on em0 inet from 198.18.0.1/24 to any -> (em0)\n",                // host bits
           "nat on em0 inet6 from 2001:db8::/64 to any -> (em0)\n",               // IPv6
           "rdr on em0 inet proto tcp from any to any port 80 -> 198.18.0.2\n",   // not nat
           "no nat on em0 inet from 198.18.0.0/24 to any\n",
           "nat on em0 inet from 198.18.0.0/24 to any -> (em0)\nnat on em1 inet from 198.18.1.0/24 to any -> (em1)\n",
       }) {
    auto nat = pfNatLoaded(text);
    ASSERT_TRUE(nat) << text;
    EXPECT_FALSE(nat->recognised) << text;
  }
}

}  // namespace
}  // namespace vnetd::platform::fbsd
