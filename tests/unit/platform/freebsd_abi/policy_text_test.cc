#include "platform/freebsd/policy_text.h"

#include <gtest/gtest.h>

namespace vnetd::platform::fbsd {
namespace {

TEST(ExpandRctlAmount, PlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(expandRctlAmount("0"), 0u);
  EXPECT_EQ(expandRctlAmount("100"), 100u);
  EXPECT_EQ(expandRctlAmount("1k"), 1024u);
  EXPECT_EQ(expandRctlAmount("512M"), 512ull << 20);
  EXPECT_EQ(expandRctlAmount("2G"), 2147483648ull);
  EXPECT_EQ(expandRctlAmount("2g"), 2147483648ull);
  EXPECT_EQ(expandRctlAmount("3T"), 3ull << 40);
  EXPECT_EQ(expandRctlAmount("1P"), 1ull << 50);
  EXPECT_EQ(expandRctlAmount("15E"), 15ull << 60);
  EXPECT_EQ(expandRctlAmount("18446744073709551615"), UINT64_MAX);
}

TEST(ExpandRctlAmount, RejectsEverythingElse) {
  for (const char* bad : {"", "G", "-1", "+1", " 1", "1 ", "1.5G", "1GB", "1X", "0x10", "16E",
                          "18446744073709551616", "17179869184G"})
    EXPECT_FALSE(expandRctlAmount(bad)) << bad;
}

TEST(RctlRule, BuildsDenyRuleWithExpandedAmount) {
  auto rule = rctlDenyRule("web", "memoryuse", "2G");
  ASSERT_TRUE(rule) << rule.error().message();
  EXPECT_EQ(*rule, "jail:web:memoryuse:deny=2147483648");
  auto procs = rctlDenyRule("db.prod", "maxproc", "200");
  ASSERT_TRUE(procs);
  EXPECT_EQ(*procs, "jail:db.prod:maxproc:deny=200");
  auto filter = rctlJailFilter("web");
  ASSERT_TRUE(filter);
  EXPECT_EQ(*filter, "jail:web");
}

TEST(RctlRule, RefusesInjectionAndUnknowns) {
  EXPECT_FALSE(rctlDenyRule("web:x", "memoryuse", "1G"));
  EXPECT_FALSE(rctlDenyRule("", "memoryuse", "1G"));
  EXPECT_FALSE(rctlDenyRule("web", "memoryuse:deny=1,", "1G"));
  EXPECT_FALSE(rctlDenyRule("web", "memory", "1G"));
  EXPECT_FALSE(rctlDenyRule("web", "memoryuse", "1G/process"));
  EXPECT_FALSE(rctlDenyRule("web", "cputime", "100"));  // not deniable: the kernel says EOPNOTSUPP
  EXPECT_FALSE(rctlDenyRule("web", "wallclock", "100"));
  EXPECT_FALSE(rctlJailFilter("a b"));
  EXPECT_TRUE(isRctlResource("pcpu"));
  EXPECT_FALSE(isRctlResource("PCPU"));
}

TEST(PfNat, AnchorAndRules) {
  auto anchor = pfAnchorName("vnetbr0");
  ASSERT_TRUE(anchor);
  EXPECT_EQ(*anchor, "vnetd/vnetbr0");
  EXPECT_FALSE(pfAnchorName("br 0"));
  EXPECT_FALSE(pfAnchorName("br0\"; pass all"));

  auto rules = pfNatRules("em0", {*Cidr::parse("198.18.0.1/24"), *Cidr::parse("198.19.7.9/16")});
  ASSERT_TRUE(rules) << rules.error().message();
  EXPECT_EQ(*rules,
            "nat on em0 from 198.18.0.0/24 to any -> (em0)\n"
            "nat on em0 from 198.19.0.0/16 to any -> (em0)\n");
  EXPECT_FALSE(pfNatRules("em0", {*Cidr::parse("2001:db8::1/64")}));
  EXPECT_FALSE(pfNatRules("em0 ", {*Cidr::parse("198.18.0.1/24")}));
  auto none = pfNatRules("em0", {});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, "");
}

TEST(PfConf, FindsNatAnchor) {
  EXPECT_TRUE(pfConfHasVnetdNatAnchor("nat-anchor \"vnetd/*\"\n"));
  EXPECT_TRUE(pfConfHasVnetdNatAnchor("ext=em0\n  nat-anchor   'vnetd/*'  \npass all\n"));
  EXPECT_TRUE(
      pfConfHasVnetdNatAnchor("nat-anchor \\\n \"vnetd/*\""));  // continuation, no final newline
  EXPECT_TRUE(pfConfHasVnetdNatAnchor("scrub in all\r\nnat-anchor \"vnetd/*\"\r\n"));
}

TEST(PfConf, IgnoresCommentsAndOtherAnchors) {
  EXPECT_FALSE(pfConfHasVnetdNatAnchor(""));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("# nat-anchor \"vnetd/*\"\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("pass all # nat-anchor \"vnetd/*\"\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("anchor \"vnetd/*\"\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("nat-anchor \"vnetd\"\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("nat-anchor \"other/*\"\n"));
  EXPECT_FALSE(
      pfConfHasVnetdNatAnchor("# comment \\\nnat-anchor \"vnetd/*\"\n"));  // continued comment
  EXPECT_TRUE(pfConfHasVnetdNatAnchor("table <x> { \"#\" }\nnat-anchor \"vnetd/*\" # ok\n"));
}

}  // namespace
}  // namespace vnetd::platform::fbsd
