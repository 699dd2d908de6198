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

}  // namespace
}  // namespace vnetd::platform::fbsd
