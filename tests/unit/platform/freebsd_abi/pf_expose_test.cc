// FreeBSD port forwards (issue 19): the exact rdr text (policy_text.h pfRdrRules), the
// rdr-anchor check, and the Policy calls' pfctl command lines and readback (pf_nat.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "platform/freebsd/pf_nat.h"
#include "platform/freebsd/policy_text.h"

namespace vnetd::platform::fbsd {
namespace {

IpAddress ip(const char* t) { return IpAddress::parse(t).value(); }

ExposeTarget target(const char* text, bool v4, bool v6, std::string egress = "") {
  ExposeParse p = parseExpose(text);
  EXPECT_TRUE(p.rule) << text;
  ExposeTarget t;
  t.rule = *p.rule;
  t.egress = std::move(egress);
  if (v4) t.jail_v4 = ip("198.18.172.10");
  if (v6) t.jail_v6 = ip("2001:db8:172::10");
  return t;
}

TEST(PfRdr, RulesForEachKindOfForward) {
  auto rules = pfRdrRules({target("tcp/8080:80", true, true, "em0"), target("udp/53", true, false),
                           target("tcp/198.51.100.7:8000-8010", true, true),
                           target("tcp/[2001:db8::7]:443", true, true)});
  ASSERT_TRUE(rules) << rules.error().message();
  EXPECT_EQ(*rules,
            "rdr pass on em0 inet proto tcp from any to (em0) port 8080 -> 198.18.172.10 port 80\n"
            "rdr pass on em0 inet6 proto tcp from any to (em0) port 8080 -> 2001:db8:172::10 port 80\n"
            "rdr pass inet proto udp from any to (self) port 53 -> 198.18.172.10 port 53\n"
            "rdr pass inet proto tcp from any to 198.51.100.7 port 8000:8010 -> 198.18.172.10 port 8000:*\n"
            "rdr pass inet6 proto tcp from any to 2001:db8::7 port 443 -> 2001:db8:172::10 port 443\n");
  EXPECT_EQ(pfRdrRuleCount({target("tcp/8080:80", true, true, "em0"), target("tcp/[2001:db8::7]:443", true, true)}),
            3u);
  EXPECT_FALSE(pfRdrRules({target("tcp/80", true, false, "em0 pass")}));
  EXPECT_EQ(*pfExposeAnchorName("web"), "vnetd/expose.web");
  EXPECT_FALSE(pfExposeAnchorName("a/b"));
}

TEST(PfRdr, RdrAnchorAndListedRules) {
  EXPECT_TRUE(pfConfHasVnetdRdrAnchor("nat-anchor \"vnetd/*\"\nrdr-anchor \"vnetd/*\"\n"));
  EXPECT_TRUE(pfConfHasVnetdRdrAnchor("rdr-anchor \"vnetd/*\" all\n"));  // pfctl -s nat
  EXPECT_FALSE(pfConfHasVnetdRdrAnchor("nat-anchor \"vnetd/*\"\n"));
  EXPECT_FALSE(pfConfHasVnetdRdrAnchor("# rdr-anchor \"vnetd/*\"\n"));
  EXPECT_FALSE(pfConfHasVnetdNatAnchor("rdr-anchor \"vnetd/*\"\n"));
  EXPECT_EQ(pfRdrRulesListed("rdr pass on em0 inet proto tcp from any to (em0) port = 8080 -> 198.18.172.10 port 80\n"
                             "rdr pass inet6 proto tcp from any to 2001:db8::7 port = 443 -> 2001:db8:172::10 port 443\n"
                             "nat on em0 inet from 198.18.172.0/24 to any -> (em0) round-robin\n"),
            2u);
  EXPECT_EQ(pfRdrRulesListed("pfctl: DIOCGETRULES: Invalid argument\n"), 0u);
}

// Answers every pfctl call from what a test sets; records them.
class ScriptedPfctl final : public PfctlRunner {
 public:
  Result<ChildExit> run(const std::vector<std::string>& argv, const std::string& input, size_t) const override {
    calls.push_back({argv, input});
    ChildExit e;
    e.exited = true;
    e.status = 0;
    if (argv.size() >= 3 && argv[1] == "-s") e.output = main_nat;
    else if (argv.size() >= 5 && argv[3] == "-s") e.output = anchor_nat;
    return e;
  }
  struct Call {
    std::vector<std::string> argv;
    std::string input;
  };
  mutable std::vector<Call> calls;
  std::string main_nat, anchor_nat;
};

class ExposeOnlyPolicy final : public PfNatPolicy {
 public:
  using PfNatPolicy::PfNatPolicy;
  Result<void> applyJailLimits(const std::string&, const RctlLimits&) override { return success(); }
  Result<void> removeJailLimits(const std::string&, const RctlLimits&) override { return success(); }
};

TEST(PfRdr, PolicyLoadsRemovesAndReadsTheJailsAnchor) {
  ScriptedPfctl pf;
  ExposeOnlyPolicy policy(pf);
  std::vector<ExposeTarget> forwards{target("tcp/8080:80", true, true, "em0")};
  ASSERT_TRUE(policy.applyJailExpose("web", forwards));
  ASSERT_EQ(pf.calls.size(), 1u);
  EXPECT_EQ(pf.calls[0].argv, (std::vector<std::string>{"pfctl", "-a", "vnetd/expose.web", "-f", "-"}));
  EXPECT_EQ(pf.calls[0].input, *pfRdrRules(forwards));
  ASSERT_TRUE(policy.removeJailExpose("web"));
  EXPECT_EQ(pf.calls[1].argv, pf.calls[0].argv);
  EXPECT_EQ(pf.calls[1].input, "") << "an empty ruleset empties the anchor";

  pf.main_nat = "nat-anchor \"vnetd/*\" all\nrdr-anchor \"vnetd/*\" all\n";
  pf.anchor_nat = "rdr pass on em0 inet proto tcp from any to (em0) port = 8080 -> 198.18.172.10 port 80\n"
                  "rdr pass on em0 inet6 proto tcp from any to (em0) port = 8080 -> 2001:db8:172::10 port 80\n";
  auto read = policy.jailExpose("web", forwards);
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->hooked);
  EXPECT_TRUE(read->active.at("tcp/8080:80"));
  pf.anchor_nat = "rdr pass on em0 inet proto tcp from any to (em0) port = 8080 -> 198.18.172.10 port 80\n";
  EXPECT_FALSE(policy.jailExpose("web", forwards)->active.at("tcp/8080:80")) << "one rule flushed";
  pf.main_nat = "nat-anchor \"vnetd/*\" all\n";
  EXPECT_FALSE(policy.jailExpose("web", forwards)->hooked);
}

}  // namespace
}  // namespace vnetd::platform::fbsd
