// The forward-firewall decoder and evaluation on rulesets listed by REAL libnftables
// (tests/fixtures/forward_firewall/generate.py): a plain policy-drop chain, Docker's
// iptables-nft layout, firewalld's, each before and after the fix doctor prints.
#include "platform/linux/forward_firewall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/file_util.h"
#include "vnetd/build_config.h"

namespace vnetd::platform::lnx {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The bridge the fixtures are about.
const std::string kBr = "br-fw";
Cidr net(const char* t) { return Cidr::parse(t).value(); }
const Cidr kNet = net("198.18.239.0/24");

FwRuleset fixture(const std::string& name) {
  auto text = readSmallFile(VNETD_SOURCE_DIR "/tests/fixtures/forward_firewall/" + name, 1 << 20);
  EXPECT_TRUE(text) << name;
  auto rs = decodeNftRuleset(text ? *text : "");
  EXPECT_TRUE(rs) << name << ": " << (rs ? "" : rs.error().message());
  return rs ? *rs : FwRuleset{};
}

ForwardBlock block(std::string family, std::string table, std::string chain, bool policy_drop, FwOwner owner,
                   bool out, bool in) {
  return {std::move(family), std::move(table), std::move(chain), policy_drop, owner, out, in};
}

TEST(DecodeNftRuleset, PlainChainAsListed) {
  FwRuleset rs = fixture("plain_drop.json");
  ASSERT_EQ(rs.tables.size(), 1u);
  const FwTable& t = rs.tables[0];
  EXPECT_EQ(t.family, "inet");
  EXPECT_EQ(t.name, "filter");
  ASSERT_EQ(t.chains.size(), 1u);
  const FwChain& c = t.chains[0];
  EXPECT_EQ(c.hook, "forward");
  EXPECT_EQ(c.policy, "drop");
  ASSERT_EQ(c.rules.size(), 3u);
  // ct state established,related accept
  ASSERT_EQ(c.rules[0].matches.size(), 1u);
  EXPECT_EQ(c.rules[0].matches[0].key, FwMatch::Key::CtState);
  EXPECT_THAT(c.rules[0].matches[0].words, ElementsAre("established", "related"));
  EXPECT_EQ(c.rules[0].verdict, FwRule::Verdict::Accept);
  // iifname "br-fw" tcp dport 80 accept: the port is a condition doctor cannot decide
  ASSERT_EQ(c.rules[2].matches.size(), 2u);
  EXPECT_EQ(c.rules[2].matches[0].key, FwMatch::Key::Iifname);
  EXPECT_THAT(c.rules[2].matches[0].words, ElementsAre(kBr));
  EXPECT_EQ(c.rules[2].matches[1].key, FwMatch::Key::Other);
}

TEST(DecodeNftRuleset, DockerLayoutJumpsAndCounters) {
  FwRuleset rs = fixture("docker.json");
  ASSERT_EQ(rs.tables.size(), 1u);
  const FwChain* fwd = rs.tables[0].chain("FORWARD");
  ASSERT_NE(fwd, nullptr);
  ASSERT_FALSE(fwd->rules.empty());
  EXPECT_THAT(fwd->rules[0].matches, IsEmpty()) << "a counter decides nothing";
  EXPECT_EQ(fwd->rules[0].verdict, FwRule::Verdict::Jump);
  EXPECT_EQ(fwd->rules[0].target, "DOCKER-USER");
  const FwChain* user = rs.tables[0].chain("DOCKER-USER");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->hook, "");
  ASSERT_EQ(user->rules.size(), 1u);
  EXPECT_EQ(user->rules[0].verdict, FwRule::Verdict::Return);
  // oifname != "docker0"
  const FwChain* s1 = rs.tables[0].chain("DOCKER-ISOLATION-STAGE-1");
  ASSERT_NE(s1, nullptr);
  ASSERT_EQ(s1->rules[0].matches.size(), 2u);
  EXPECT_TRUE(s1->rules[0].matches[1].negate);
}

TEST(DecodeNftRuleset, SubnetsAndSets) {
  FwRuleset rs = fixture("subnet_rules.json");
  const FwChain& c = rs.tables.at(0).chains.at(0);
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].matches.at(0).key, FwMatch::Key::Saddr);
  EXPECT_THAT(c.rules[0].matches[0].nets, ElementsAre(net("198.18.0.0/16")));
  rs = fixture("firewalld.json");
  const FwChain* f = rs.tables.at(0).chain("filter_FORWARD");
  ASSERT_NE(f, nullptr);
  // ip6 daddr { ::/96, ... } reject: a set of prefixes
  const FwRule& r = f->rules.at(4);
  ASSERT_EQ(r.matches.size(), 1u);
  EXPECT_EQ(r.matches[0].key, FwMatch::Key::Daddr);
  EXPECT_EQ(r.matches[0].family, IpFamily::V6);
  EXPECT_EQ(r.matches[0].nets.size(), 4u);
  EXPECT_EQ(r.verdict, FwRule::Verdict::Reject);
}

TEST(DecodeNftRuleset, BadInput) {
  auto r = decodeNftRuleset("not json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "nftables ruleset listing: not JSON");
  r = decodeNftRuleset("{\"other\": []}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "nftables ruleset listing: no \"nftables\" array");
  // Odd items are passed over, not trusted: a rule with an unreadable statement may or
  // may not match.
  r = decodeNftRuleset(R"({"nftables": [7, {"rule": {"family": "ip", "table": "t", "chain": "c",
      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": 5}}, {"accept": null}]}}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tables.at(0).chains.at(0).rules.at(0).matches.at(0).key, FwMatch::Key::Other);
}

// ---------------------------------------------------------------------- evaluation

TEST(ForwardBlocks, PlainPolicyDropDropsTheBridgeBothWaysUntilFixed) {
  // Replies pass (ct state established,related accept); new connections from the bridge
  // do not: only port 80 would, and that is not "its traffic".
  EXPECT_THAT(forwardBlocks(fixture("plain_drop.json"), kBr, kNet),
              ElementsAre(block("inet", "filter", "forward", true, FwOwner::Nftables, true, false)));
  EXPECT_THAT(forwardBlocks(fixture("plain_fixed.json"), kBr, kNet), IsEmpty());
  // IPv6 of the same bridge: the inet chain applies too.
  EXPECT_THAT(forwardBlocks(fixture("plain_drop.json"), kBr, net("2001:db8:239::/64")),
              ElementsAre(block("inet", "filter", "forward", true, FwOwner::Nftables, true, false)));
  // Another bridge whose name the rule does not name is dropped.
  EXPECT_EQ(forwardBlocks(fixture("plain_fixed.json"), "br-other", kNet).size(), 1u);
}

TEST(ForwardBlocks, SubnetRules) {
  // saddr 198.18.0.0/16 covers the bridge's /24; the daddr rule covers only half of it.
  EXPECT_THAT(forwardBlocks(fixture("subnet_rules.json"), kBr, kNet),
              ElementsAre(block("ip", "admin", "fwd_filter", true, FwOwner::Nftables, false, true)));
  // A bridge inside the daddr /25 gets its replies through as well.
  EXPECT_THAT(forwardBlocks(fixture("subnet_rules.json"), kBr, net("198.18.239.128/26")), IsEmpty());
  // A table of family ip says nothing about IPv6.
  EXPECT_THAT(forwardBlocks(fixture("subnet_rules.json"), kBr, net("2001:db8::/64")), IsEmpty());
}

TEST(ForwardBlocks, Docker) {
  EXPECT_THAT(forwardBlocks(fixture("docker.json"), kBr, kNet),
              ElementsAre(block("ip", "filter", "FORWARD", true, FwOwner::Docker, true, true)));
  EXPECT_THAT(forwardBlocks(fixture("docker_fixed.json"), kBr, kNet), IsEmpty());
  // docker0 itself is let through by Docker's own rules.
  EXPECT_THAT(forwardBlocks(fixture("docker.json"), "docker0", net("172.17.0.0/16")), IsEmpty());
}

TEST(ForwardBlocks, Firewalld) {
  // policy accept, but the chain ends in `reject with icmpx admin-prohibited`; replies
  // pass its ct state rule.
  EXPECT_THAT(forwardBlocks(fixture("firewalld.json"), kBr, kNet),
              ElementsAre(block("inet", "firewalld", "filter_FORWARD", false, FwOwner::Firewalld, true, false)));
  // In zone trusted: goto filter_FWD_trusted, which accepts.
  EXPECT_THAT(forwardBlocks(fixture("firewalld_fixed.json"), kBr, kNet), IsEmpty());
}

TEST(ForwardBlocks, AcceptingChainsAreNoBlock) {
  EXPECT_THAT(forwardBlocks(fixture("accepting.json"), kBr, kNet), IsEmpty());
}

// Hand-made: the semantics the fixtures do not tell apart.
FwRule rule(std::vector<FwMatch> m, FwRule::Verdict v, std::string target = "") {
  return FwRule{std::move(m), v, std::move(target)};
}
FwMatch iif(std::string name) {
  FwMatch m;
  m.key = FwMatch::Key::Iifname;
  m.words = {std::move(name)};
  return m;
}

TEST(ForwardBlocks, GotoNeverComesBackJumpDoes) {
  // fwd (policy drop): jump zones; zones: iifname br-fw goto/jump quiet; accept.
  // quiet decides nothing. After a jump, zones' accept is reached; after a goto, falling
  // off quiet ends zones too, and fwd's policy drops.
  auto build = [](FwRule::Verdict to_quiet) {
    FwTable t{"inet", "t", {}};
    t.chains.push_back({"fwd", "forward", "drop", {rule({}, FwRule::Verdict::Jump, "zones")}});
    t.chains.push_back({"zones", "", "", {rule({iif(kBr)}, to_quiet, "quiet"), rule({}, FwRule::Verdict::Accept)}});
    t.chains.push_back({"quiet", "", "", {}});
    return FwRuleset{{t}};
  };
  EXPECT_THAT(forwardBlocks(build(FwRule::Verdict::Jump), kBr, kNet), IsEmpty());
  EXPECT_EQ(forwardBlocks(build(FwRule::Verdict::Goto), kBr, kNet).size(), 1u);
}

TEST(ForwardBlocks, LoopsAndMissingChainsEnd) {
  FwTable t{"ip", "t", {}};
  t.chains.push_back({"fwd", "forward", "drop",
                      {rule({}, FwRule::Verdict::Jump, "a"), rule({}, FwRule::Verdict::Jump, "nowhere"),
                       rule({iif(kBr)}, FwRule::Verdict::Accept)}});
  t.chains.push_back({"a", "", "", {rule({}, FwRule::Verdict::Jump, "b")}});
  t.chains.push_back({"b", "", "", {rule({}, FwRule::Verdict::Jump, "a"), rule({}, FwRule::Verdict::Jump, "fwd")}});
  // The loop falls off where it closes; the bridge's own accept rule is reached.
  EXPECT_THAT(forwardBlocks(FwRuleset{{t}}, kBr, kNet),
              ElementsAre(block("ip", "t", "fwd", true, FwOwner::Nftables, false, true)));
}

TEST(LegacyIptables, FilterTableListed) {
  EXPECT_TRUE(legacyFilterListed("nat\nfilter\n"));
  EXPECT_TRUE(legacyFilterListed("filter"));
  EXPECT_FALSE(legacyFilterListed("nat\nmangle\n"));
  EXPECT_FALSE(legacyFilterListed("filters\n"));
  EXPECT_FALSE(legacyFilterListed(""));
}

}  // namespace
}  // namespace vnetd::platform::lnx
