// The text of vnetd's forward rules on Linux (platform/linux/nft_expose.h): the exact
// commands for each kind of forward, the listing reader, and "loaded as expected".
#include "platform/linux/nft_expose.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vnetd::platform::lnx {
namespace {

IpAddress ip(const char* t) { return IpAddress::parse(t).value(); }

ExposeTarget target(const char* text, bool v4, bool v6, std::string egress = "") {
  ExposeParse p = parseExpose(text);
  EXPECT_TRUE(p.rule) << text;
  ExposeTarget t;
  t.rule = *p.rule;
  t.rule.v4 = v4;
  t.rule.v6 = v6;
  t.egress = std::move(egress);
  if (v4) t.jail_v4 = ip("198.18.170.10");
  if (v6) t.jail_v6 = ip("2001:db8:170::10");
  return t;
}

std::vector<std::string> bodies(const std::vector<ExposeTarget>& forwards) {
  auto rules = nftExposeRules("web", forwards);
  EXPECT_TRUE(rules) << rules.error().message();
  std::vector<std::string> out;
  for (const auto& r : *rules) out.push_back(r.chain + ": " + r.body);
  return out;
}

ExposeTarget onBridge(ExposeTarget t) {
  t.bridge = "br0";
  t.subnet_v4 = Cidr::parse("198.18.170.0/24");
  t.subnet_v6 = Cidr::parse("2001:db8:170::/64");
  return t;
}

TEST(NftExposeTest, RulesPerForwardAndFamily) {
  // Any local address: prerouting, output (the host itself), postrouting (hairpin).
  EXPECT_EQ(bodies({onBridge(target("tcp/8080:80", true, true))}),
            (std::vector<std::string>{
                "prerouting: meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 198.18.170.10:80",
                "output: meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 198.18.170.10:80",
                "postrouting: meta nfproto ipv4 oifname \"br0\" ip saddr 198.18.170.0/24 ip daddr 198.18.170.10 tcp "
                "dport 80 ct status dnat masquerade",
                "prerouting: meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [2001:db8:170::10]:80",
                "output: meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [2001:db8:170::10]:80",
                "postrouting: meta nfproto ipv6 oifname \"br0\" ip6 saddr 2001:db8:170::/64 ip6 daddr "
                "2001:db8:170::10 tcp dport 80 ct status dnat masquerade"}));
  // The NAT egress's addresses: no output rule (no incoming interface there).
  EXPECT_EQ(bodies({target("udp/53", true, false, "eth0")}),
            (std::vector<std::string>{"prerouting: meta nfproto ipv4 iifname \"eth0\" fib daddr . iif type local udp "
                                      "dport 53 dnat ip to 198.18.170.10:53"}));
  EXPECT_EQ(bodies({target("tcp/198.18.171.1:8000-8010", true, false)}),
            (std::vector<std::string>{"prerouting: ip daddr 198.18.171.1 tcp dport 8000-8010 dnat ip to 198.18.170.10",
                                      "output: ip daddr 198.18.171.1 tcp dport 8000-8010 dnat ip to 198.18.170.10"}));
  EXPECT_EQ(bodies({target("tcp/[2001:db8::1]:443", false, true)}),
            (std::vector<std::string>{
                "prerouting: ip6 daddr 2001:db8::1 tcp dport 443 dnat ip6 to [2001:db8:170::10]:443",
                "output: ip6 daddr 2001:db8::1 tcp dport 443 dnat ip6 to [2001:db8:170::10]:443"}));
  // A family without a jail address gets no rule.
  ExposeTarget t = target("tcp/80", true, true, "eth0");
  t.jail_v6.reset();
  EXPECT_EQ(bodies({t}).size(), 1u);
}

TEST(NftExposeTest, CommentsNameTheJailAndHashTheRule) {
  auto a = nftExposeRules("web", {target("tcp/8080:80", true, false)});
  auto b = nftExposeRules("web", {target("tcp/8080:81", true, false)});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->at(0).comment.rfind("vnetd:expose:web:", 0), 0u);
  EXPECT_EQ(a->at(0).comment.size(), std::string("vnetd:expose:web:").size() + 16);
  EXPECT_NE(a->at(0).comment, b->at(0).comment) << "another rule, another comment";
  EXPECT_FALSE(nftExposeRules("we b", {target("tcp/80", true, false)}));
  EXPECT_FALSE(nftExposeRules("web", {target("tcp/80", true, false, "eth0\"; flush ruleset")}));
  ExposeTarget bad = onBridge(target("tcp/80", true, false));
  bad.bridge = "br0\" accept";
  EXPECT_FALSE(nftExposeRules("web", {bad}));
}

// A listing as libnftables 1.0.6 prints it (shape taken from a real run).
std::string listing(const std::string& rules, int prio = -100) {
  return R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "vnetd", "handle": 1}},
    {"chain": {"family": "inet", "table": "vnetd", "name": "prerouting", "handle": 1, "type": "nat",
               "hook": "prerouting", "prio": )" +
         std::to_string(prio) + R"(, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "vnetd", "name": "output", "handle": 2, "type": "nat",
               "hook": "output", "prio": -100, "policy": "accept"}},
    {"chain": {"family": "inet", "table": "vnetd", "name": "postrouting", "handle": 3, "type": "nat",
               "hook": "postrouting", "prio": 100, "policy": "accept"}})" +
         rules + "]}";
}
std::string rule(const std::string& comment, int handle, const char* family = "inet",
                 const std::string& chain = "prerouting") {
  return std::string(R"(, {"rule": {"family": ")") + family + R"(", "table": "vnetd", "chain": ")" + chain +
         R"(", "handle": )" + std::to_string(handle) + R"(, "comment": ")" + comment + R"(", "expr": []}})";
}

TEST(NftExposeTest, ListingLoadAndRemove) {
  // Two rules: prerouting for each family (a forward on the egress's addresses).
  auto rules = nftExposeRules("web", {target("tcp/8080:80", true, true, "eth0")});
  ASSERT_TRUE(rules);
  ASSERT_EQ(rules->size(), 2u);
  const std::string c4 = rules->at(0).comment, c6 = rules->at(1).comment;
  auto l = decodeNftExposeListing(listing(rule(c4, 5) + rule(c6, 6) + rule("vnetd:expose:db:0123456789abcdef", 7) +
                                          rule("someone else", 8) + rule(c4, 9, "ip") +
                                          rule("vnetd:expose:web:0123456789abcdef", 10, "inet", "elsewhere")));
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(l->chain_as_declared);
  EXPECT_EQ(l->foreign_rules, 2u) << "no comment; another chain";
  EXPECT_EQ(l->jails.size(), 2u);
  ExposeLoaded loaded = nftExposeLoaded("web", *rules, *l);
  EXPECT_EQ(loaded.active.at("tcp/8080:80"), true);
  EXPECT_FALSE(loaded.unexpected);
  EXPECT_EQ(nftExposeRemoveCommands("web", *l),
            "delete rule inet vnetd prerouting handle 5\ndelete rule inet vnetd prerouting handle 6\n");
  EXPECT_EQ(nftExposeRemoveCommands("other", *l), "");
  EXPECT_EQ(nftExposeLoadCommands("web", {rules->at(0)}, *l),
            "add table inet vnetd\nadd chain inet vnetd prerouting { type nat hook prerouting priority dstnat; "
            "policy accept; }\nadd chain inet vnetd output { type nat hook output priority -100; policy accept; }\n"
            "add chain inet vnetd postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
            "delete rule inet vnetd prerouting handle 5\ndelete rule inet vnetd prerouting handle "
            "6\nadd rule inet vnetd prerouting " +
                rules->at(0).body + " comment \"" + c4 + "\"\n");

  // One family missing: the forward is not active. A rule no forward needs: unexpected.
  auto partial = decodeNftExposeListing(listing(rule(c4, 5) + rule("vnetd:expose:web:0123456789abcdef", 7)));
  ASSERT_TRUE(partial);
  loaded = nftExposeLoaded("web", *rules, *partial);
  EXPECT_EQ(loaded.active.at("tcp/8080:80"), false);
  EXPECT_TRUE(loaded.unexpected);
  // A chain not as declared: nothing in it counts as loaded.
  auto moved = decodeNftExposeListing(listing(rule(c4, 5) + rule(c6, 6), 0));
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->chain_as_declared);
  EXPECT_EQ(nftExposeLoaded("web", *rules, *moved).active.at("tcp/8080:80"), false);
}

// A listing libnftables 1.0.6 printed for real (the fuzzer's seed): our three rules by jail,
// the rule without comment foreign, and the decoded handles.
TEST(NftExposeTest, RealListing) {
  std::ifstream in(VNETD_SOURCE_DIR "/tests/fuzz/corpus/fuzz_linux_nft/expose.json");
  std::stringstream text;
  text << in.rdbuf();
  auto l = decodeNftExposeListing(text.str());
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(l->chain_as_declared);
  EXPECT_EQ(l->foreign_rules, 1u);
  ASSERT_EQ(l->jails.size(), 2u);
  EXPECT_EQ(l->jails.at("web").size(), 4u);
  EXPECT_EQ(l->jails.at("db").size(), 3u);
  auto rules = nftExposeRules("web", {target("tcp/8080:80", true, false)});
  ASSERT_TRUE(rules);
  ASSERT_EQ(rules->size(), 2u) << "prerouting and output";
  // Deleting the jail's rules names each one's chain.
  EXPECT_EQ(nftExposeRemoveCommands("db", *l),
            "delete rule inet vnetd prerouting handle 8\ndelete rule inet vnetd output handle 9\n"
            "delete rule inet vnetd postrouting handle 10\n");
  ASSERT_TRUE(rules);
  ExposeLoaded loaded = nftExposeLoaded("web", *rules, *l);
  EXPECT_TRUE(loaded.active.at("tcp/8080:80")) << "the listed comment is the one nftExposeRules makes";
  EXPECT_TRUE(loaded.unexpected) << "the udp rule is not asked for";
}

TEST(NftExposeTest, NotAListing) {
  EXPECT_FALSE(decodeNftExposeListing("{"));
  EXPECT_FALSE(decodeNftExposeListing("{}"));
  EXPECT_TRUE(decodeNftExposeListing(R"({"nftables": []})"));
}

}  // namespace
}  // namespace vnetd::platform::lnx
