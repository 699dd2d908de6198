#include "platform/freebsd/policy_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config.h"

namespace vnetd::platform::fbsd {
namespace {

RctlLimit limit(const char* action, uint64_t amount) { return RctlLimit{action, amount}; }

TEST(RctlRule, UsesTheLimitsAction) {
  auto memory = rctlRule("web", "memoryuse", limit("deny", 2ull << 30));
  ASSERT_TRUE(memory) << memory.error().message();
  EXPECT_EQ(*memory, "jail:web:memoryuse:deny=2147483648");
  auto reads = rctlRule("web", "readbps", limit("throttle", 100ull << 20));
  ASSERT_TRUE(reads) << reads.error().message();
  EXPECT_EQ(*reads, "jail:web:readbps:throttle=104857600");
  auto cpu = rctlRule("db.prod", "cputime", limit("sigkill", 3600));
  ASSERT_TRUE(cpu) << cpu.error().message();
  EXPECT_EQ(*cpu, "jail:db.prod:cputime:sigkill=3600");
  auto wall = rctlRule("db.prod", "wallclock", limit("log", 86400));
  ASSERT_TRUE(wall);
  EXPECT_EQ(*wall, "jail:db.prod:wallclock:log=86400");
}

// The regression of issue 14: a readbps limit in the config became a deny rule, which
// rctl_rule_add() refuses with EOPNOTSUPP for the RACCT_DECAYING-only resources, so every
// prestart of that jail failed. The loader must turn the plain amount into throttle, and
// the writer must never produce deny for these resources.
TEST(RctlRule, ConfigReadbpsBecomesAThrottleRule) {
  ConfigLoadResult loaded = parseConfig(R"([bridge.lan]
[[jail.web.interface]]
bridge = "lan"
[jail.web.limits]
readbps = "100M"
writebps = "10M"
readiops = 1000
writeiops = "1k"
)",
                                        "vnetd.toml");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].toString());
  std::vector<std::string> rules;
  for (const auto& [resource, l] : loaded.config->jails.at("web").limits) {
    auto rule = rctlRule("web", resource, l);
    ASSERT_TRUE(rule) << resource << ": " << rule.error().message();
    rules.push_back(*rule);
  }
  EXPECT_THAT(rules, ::testing::ElementsAre("jail:web:readbps:throttle=104857600",
                                            "jail:web:readiops:throttle=1000",
                                            "jail:web:writebps:throttle=10485760",
                                            "jail:web:writeiops:throttle=1024"));
}

// The sample's limits (readbps = "100M" among them) all become rules the kernel takes.
TEST(RctlRule, SampleConfigLimitsAreAcceptedRules) {
  ConfigLoadResult loaded = loadConfigFile(VNETD_SOURCE_DIR "/config/vnetd.toml.sample");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::string> rules;
  std::vector<JailConfig> jails;
  for (const auto& [name, jail] : loaded.config->jails) jails.push_back(jail);
  jails.push_back(*loaded.config->jailFor("mail-01"));  // from [jail_defaults]
  for (const JailConfig& jail : jails) {
    for (const auto& [resource, l] : jail.limits) {
      auto rule = rctlRule(jail.name, resource, l);
      ASSERT_TRUE(rule) << jail.name << " " << resource << ": " << rule.error().message();
      rules.push_back(*rule);
    }
  }
  EXPECT_THAT(rules, ::testing::Contains("jail:db:readbps:throttle=104857600"));
  EXPECT_THAT(rules, ::testing::Contains("jail:db:writebps:throttle=104857600"));
  EXPECT_THAT(rules, ::testing::Contains("jail:webserver:memoryuse:deny=2147483648"));
  EXPECT_THAT(rules, ::testing::Contains("jail:mail-01:memoryuse:deny=1073741824"));
}

TEST(RctlRule, NeverDeniesADecayingResource) {
  for (const char* rate : {"readbps", "writebps", "readiops", "writeiops"}) {
    auto rule = rctlRule("web", rate, limit("deny", 1));
    ASSERT_FALSE(rule) << rate << " gave " << *rule;
    EXPECT_NE(rule.error().message().find("use throttle"), std::string::npos)
        << rule.error().message();
    EXPECT_FALSE(rctlRuleFilter("web", rate, "deny")) << rate;
  }
}

TEST(RctlRule, CputimeAndWallclockTakeOnlyLogDevctlOrSignals) {
  for (const char* clock : {"cputime", "wallclock"}) {
    EXPECT_FALSE(rctlRule("web", clock, limit("deny", 60))) << clock;
    EXPECT_FALSE(rctlRule("web", clock, limit("throttle", 60))) << clock;
    for (const char* action : {"log", "devctl", "sigterm", "sigkill", "sigxcpu"})
      EXPECT_TRUE(rctlRule("web", clock, limit(action, 60))) << clock << " " << action;
  }
  // And throttle is refused for what does not decay, and for pcpu (rctl_rule_add).
  EXPECT_FALSE(rctlRule("web", "memoryuse", limit("throttle", 1)));
  EXPECT_FALSE(rctlRule("web", "pcpu", limit("throttle", 50)));
  EXPECT_TRUE(rctlRule("web", "pcpu", limit("deny", 50)));
}

// rctl_string_to_rule(): str2int64 refuses more than INT64_MAX (ERANGE); resources kept in
// millionths (RACCT_IN_MILLIONS: cputime, wallclock, pcpu) more than INT64_MAX / 10^6.
TEST(RctlRule, AmountsWithinTheKernelsRange) {
  constexpr uint64_t kInt64Max = 9223372036854775807ull;
  EXPECT_TRUE(rctlRule("web", "memoryuse", limit("deny", kInt64Max)));
  EXPECT_FALSE(rctlRule("web", "memoryuse", limit("deny", kInt64Max + 1)));
  EXPECT_TRUE(rctlRule("web", "cputime", limit("sigkill", kInt64Max / 1000000)));
  EXPECT_FALSE(rctlRule("web", "cputime", limit("sigkill", kInt64Max / 1000000 + 1)));
  EXPECT_FALSE(rctlRule("web", "pcpu", limit("deny", kInt64Max / 1000000 + 1)));
  EXPECT_TRUE(rctlRule("web", "readbps", limit("throttle", kInt64Max)));
}

TEST(RctlRule, RefusesInjectionAndUnknowns) {
  EXPECT_FALSE(rctlRule("web:x", "memoryuse", limit("deny", 1)));
  EXPECT_FALSE(rctlRule("", "memoryuse", limit("deny", 1)));
  EXPECT_FALSE(rctlRule("web", "memoryuse:deny=1,", limit("deny", 1)));
  EXPECT_FALSE(rctlRule("web", "memory", limit("deny", 1)));
  EXPECT_FALSE(rctlRule("web", "MEMORYUSE", limit("deny", 1)));
  EXPECT_FALSE(rctlRule("web", "memoryuse", limit("deny=1/process", 1)));
  EXPECT_FALSE(rctlRule("web", "memoryuse", limit("", 1)));
  EXPECT_FALSE(rctlRule("web", "memoryuse", limit("DENY", 1)));
  EXPECT_FALSE(rctlRuleFilter("a b", "memoryuse", "deny"));
  EXPECT_FALSE(rctlRuleFilter("web", "memoryuse", ""));
}

// Removal takes back exactly what was added: the filter names the jail, the resource and
// the action vnetd used, and leaves the amount open so that it matches the rule whatever
// amount it was added with (rctl_rule_matches compares only the fields a filter sets).
TEST(RctlRuleFilter, MatchesTheRuleVnetdAddedAndNoOther) {
  auto filter = rctlRuleFilter("web", "readbps", "throttle");
  ASSERT_TRUE(filter) << filter.error().message();
  EXPECT_EQ(*filter, "jail:web:readbps:throttle");
  auto cpu = rctlRuleFilter("web", "cputime", "sigkill");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(*cpu, "jail:web:cputime:sigkill");
  for (const RctlResource& r : rctlResources()) {
    for (std::string_view action : rctlActionNames()) {
      auto rule = rctlRule("web", r.name, RctlLimit{std::string(action), 7});
      auto f = rctlRuleFilter("web", r.name, action);
      ASSERT_EQ(rule.ok(), f.ok()) << r.name << " " << action;
      if (!rule) continue;
      EXPECT_EQ(*rule, *f + "=7") << r.name << " " << action;
      EXPECT_EQ(*f, "jail:web:" + std::string(r.name) + ":" + std::string(action));
    }
  }
}

// One table serves both sides: whatever the config loader accepts for a resource gives a
// rule the writer accepts (with the same action and amount), and whatever the loader
// refuses the writer refuses too. Iterates every resource and every rctl action.
TEST(RctlDrift, EveryLimitTheLoaderAcceptsIsARuleTheWriterAccepts) {
  auto load = [](std::string_view resource, std::string_view value) {
    return parseConfig(
        "[bridge.lan]\n[[jail.web.interface]]\nbridge = \"lan\"\n[jail.web.limits]\n" +
            std::string(resource) + " = \"" + std::string(value) + "\"\n",
        "vnetd.toml");
  };
  size_t accepted = 0;
  for (const RctlResource& r : rctlResources()) {
    // A plain amount: the resource's default action, if it has one.
    {
      ConfigLoadResult loaded = load(r.name, "5");
      ASSERT_EQ(loaded.ok(), !r.default_action.empty()) << r.name;
      if (loaded.ok()) {
        const RctlLimit& l = loaded.config->jails.at("web").limits.at(std::string(r.name));
        EXPECT_EQ(l, (RctlLimit{std::string(r.default_action), 5})) << r.name;
        auto rule = rctlRule("web", r.name, l);
        ASSERT_TRUE(rule) << r.name << ": " << rule.error().message();
        EXPECT_EQ(*rule, "jail:web:" + std::string(r.name) + ":" + std::string(r.default_action) +
                             "=5");
      } else {
        EXPECT_NE(loaded.errors.at(0).toString().find(std::string(r.name)), std::string::npos);
      }
    }
    for (std::string_view action : rctlActionNames()) {
      ConfigLoadResult loaded = load(r.name, std::string(action) + "=5");
      auto written = rctlRule("web", r.name, RctlLimit{std::string(action), 5});
      ASSERT_EQ(loaded.ok(), written.ok()) << r.name << " " << action;
      if (!loaded.ok()) {
        // Refused: the one error names the resource and, where rctl throttles it, says so.
        ASSERT_EQ(loaded.errors.size(), 1u);
        std::string e = loaded.errors[0].toString();
        EXPECT_NE(e.find(std::string(r.name)), std::string::npos) << e;
        if (r.actions & kRctlThrottle) {
          EXPECT_NE(e.find("throttle"), std::string::npos) << e;
        }
        continue;
      }
      ++accepted;
      const RctlLimit& l = loaded.config->jails.at("web").limits.at(std::string(r.name));
      EXPECT_EQ(l, (RctlLimit{std::string(action), 5}));
      EXPECT_EQ(*written, "jail:web:" + std::string(r.name) + ":" + std::string(action) + "=5");
    }
  }
  // Every resource takes log, devctl and the 31 signals; 19 deny, 4 throttle.
  EXPECT_EQ(accepted, 25u * 33u + 19u + 4u);

  // The same amount range on both sides: the largest amount the kernel takes, and one more.
  for (const RctlResource& r : rctlResources()) {
    for (uint64_t amount : {r.max_amount, r.max_amount + 1}) {
      ConfigLoadResult loaded = load(r.name, "log=" + std::to_string(amount));
      auto written = rctlRule("web", r.name, RctlLimit{"log", amount});
      EXPECT_EQ(loaded.ok(), written.ok()) << r.name << " " << amount;
      EXPECT_EQ(loaded.ok(), amount == r.max_amount) << r.name << " " << amount;
    }
  }
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

// `pfctl -s nat` of the main ruleset, as the daemon (natAnchorHooked) and doctor read it:
// pfctl prints the anchor call back with "all" (sbin/pfctl/pfctl_parser.c print_rule).
TEST(PfConf, FindsTheHookInPfctlShowNatOfTheMainRuleset) {
  const char* loaded =
      "nat on em0 inet from 10.0.0.0/8 to any -> (em0) round-robin\n"
      "nat-anchor \"vnetd/*\" all\n"
      "rdr-anchor \"other/*\" all\n";
  EXPECT_TRUE(pfConfHasVnetdNatAnchor(loaded));
  // After `pfctl -F all`: nothing, or only pfctl's own messages on stderr.
  EXPECT_FALSE(pfConfHasVnetdNatAnchor(""));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("No ALTQ support in kernel\nALTQ related functions disabled\n"));
  // A ruleset reloaded without the hook, or with only the filter anchor.
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("nat on em0 inet from 10.0.0.0/8 to any -> (em0) round-robin\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("anchor \"vnetd/*\" all\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("nat-anchor \"vnetd/bridge0\" all\n"));
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
