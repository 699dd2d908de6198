// vnetctl doctor's verdicts from hand-made facts: every check's OK and its failures, the
// fix command on FreeBSD and on Linux, the exit-code rule, the text and JSON output, and
// the decoder of the daemon's status reply.
#include "cli/vnetctl/doctor_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/naming.h"
#include "vnetd/build_config.h"

namespace vnetd::cli::doctor {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using platform::LinkInfo;
using platform::LinkKind;
using platform::NatFacts;
using platform::NatMissing;
using platform::NatState;
using platform::Support;

Config parse(const std::string& body) {
  auto r = parseConfig("[daemon]\npidfile = \"/run/t.pid\"\n\n" + body, "/etc/t.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].toString());
  return r.config.value_or(Config{});
}

constexpr const char* kLan = R"([bridge.lan]
interface = "br0"
address = "198.18.160.1/24"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
address = "198.18.160.2/24"
)";

Cidr cidr(const char* t) { return Cidr::parse(t).value(); }
IpAddress ip(const char* t) { return IpAddress::parse(t).value(); }

LinkInfo link(std::string name, uint32_t index, LinkKind kind = LinkKind::Pair, bool up = true, uint32_t mtu = 1500,
              uint32_t master = 0) {
  LinkInfo l;
  l.name = std::move(name);
  l.index = index;
  l.kind = kind;
  l.admin_up = up;
  l.mtu = mtu;
  l.master_index = master;
  return l;
}

// By value: the verdicts are often a temporary.
std::optional<Verdict> find(const std::vector<Verdict>& v, const std::string& check) {
  for (const auto& x : v)
    if (x.check == check) return x;
  return std::nullopt;
}

// A healthy bridge with one running jail member.
BridgeFacts healthyBridge(const Config& c) {
  BridgeFacts b;
  b.config = c.bridges.at("lan");
  b.link = link("br0", 10, LinkKind::Bridge);
  b.addresses = {cidr("198.18.160.1/24")};
  b.members = {link("e0a_web", 11, LinkKind::Pair, true, 1500, 10)};
  b.expected = {{"web", "e0a_web", b.members[0]}};
  return b;
}

platform::HostSupport linuxHost(bool forwarding = true) {
  platform::HostSupport h;
  for (const char* n : {"veth", "bridge", "nf_tables", "netns", "netns_dir"})
    h.features.push_back({n, Support::Yes, "test"});
  h.ipv4_forwarding = forwarding;
  h.ipv6_forwarding = false;
  return h;
}

// ------------------------------------------------------------------------- kernel

TEST(DoctorKernel, LinuxModulesAndNamespaceDir) {
  auto h = linuxHost();
  h.features[0].support = Support::No;  // veth
  h.features[0].evidence = "CONFIG_VETH is not set in /proc/config.gz";
  h.features[1].support = Support::Unknown;  // bridge
  h.features[4].support = Support::No;       // /run/netns
  auto v = judgeKernel(Platform::Linux, h, nullptr);
  ASSERT_TRUE(find(v, "kernel:veth"));
  EXPECT_EQ(find(v, "kernel:veth")->status, Status::Fail);
  EXPECT_EQ(find(v, "kernel:veth")->fix, "modprobe veth");
  EXPECT_THAT(find(v, "kernel:veth")->message, HasSubstr("CONFIG_VETH is not set"));
  EXPECT_EQ(find(v, "kernel:bridge")->status, Status::Warn) << "unknown is a warning, not a failure";
  EXPECT_EQ(find(v, "kernel:bridge")->fix, "modprobe bridge");
  EXPECT_EQ(find(v, "kernel:netns")->status, Status::Ok);
  EXPECT_EQ(find(v, "kernel:netns_dir")->status, Status::Warn) << "no jail yet is not a failure";
  EXPECT_EQ(find(v, "kernel:netns_dir")->fix, "ip netns add JAIL");
  EXPECT_FALSE(find(v, "kernel:nf_tables")) << "only judged when a bridge has nat";
}

TEST(DoctorKernel, FreebsdModulesPfWithNatRacctWithLimits) {
  platform::HostSupport h;
  h.features = {{"vimage", Support::Yes, "kern.features.vimage=1"},
                {"if_epair", Support::Yes, "loaded"},
                {"if_bridge", Support::No, "if_bridge not loaded"},
                {"pf", Support::No, "pf not loaded"},
                {"racct", Support::No, "kern.racct.enable=0"}};
  auto plain = judgeKernel(Platform::FreeBSD, h, nullptr);
  EXPECT_EQ(find(plain, "kernel:if_bridge")->status, Status::Fail);
  EXPECT_EQ(find(plain, "kernel:if_bridge")->fix, "kldload if_bridge && sysrc kld_list+=if_bridge");
  EXPECT_EQ(find(plain, "kernel:vimage")->status, Status::Ok);
  EXPECT_FALSE(find(plain, "kernel:pf"));
  EXPECT_FALSE(find(plain, "kernel:racct"));
  EXPECT_FALSE(find(plain, "kernel:veth")) << "no Linux checks on FreeBSD";

  Config c = parse(std::string(kLan) + "\n[jail.web.limits]\nmemoryuse = \"2G\"\n");
  c.bridges.at("lan").nat = "em0";
  auto v = judgeKernel(Platform::FreeBSD, h, &c);
  ASSERT_TRUE(find(v, "kernel:pf"));
  EXPECT_EQ(find(v, "kernel:pf")->status, Status::Fail);
  EXPECT_EQ(find(v, "kernel:pf")->fix, "kldload pf && sysrc pf_enable=YES");
  ASSERT_TRUE(find(v, "kernel:racct"));
  EXPECT_THAT(find(v, "kernel:racct")->fix, HasSubstr("kern.racct.enable=1"));
}

// ------------------------------------------------------------------------- config

TEST(DoctorConfig, ErrorsFailWithTheFirstOneAndTheCheckCommand) {
  ConfigFacts c{"/etc/t.toml", {"/etc/t.toml:3:1: unknown key 'x'", "/etc/t.toml:9:2: bad"}, std::nullopt};
  Verdict v = judgeConfig(Platform::Linux, c);
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_THAT(v.message, HasSubstr("/etc/t.toml:3:1: unknown key 'x' (+1 more)"));
  EXPECT_EQ(v.fix, "vnetd -n -c /etc/t.toml");
  c.errors.clear();
  c.config = parse(kLan);
  EXPECT_EQ(judgeConfig(Platform::Linux, c).status, Status::Ok);
  EXPECT_EQ(judgeConfig(Platform::Linux, ConfigFacts{}).status, Status::Warn) << "no file given";
}

// ------------------------------------------------------------------------ bridges

TEST(DoctorBridge, HealthyIsAllOk) {
  Config c = parse(kLan);
  auto v = judgeBridge(Platform::Linux, healthyBridge(c));
  ASSERT_EQ(v.size(), 5u);
  for (const auto& x : v) EXPECT_EQ(x.status, Status::Ok) << x.check << ": " << x.message;
  for (const char* check : {"exists", "up", "address", "members", "mtu"})
    EXPECT_TRUE(find(v, std::string("bridge:lan:") + check)) << check;
}

TEST(DoctorBridge, MissingIsOneFailureWithTheCreateCommand) {
  Config c = parse(kLan);
  BridgeFacts b = healthyBridge(c);
  b.link.reset();
  auto linux_v = judgeBridge(Platform::Linux, b);
  ASSERT_EQ(linux_v.size(), 1u);
  EXPECT_EQ(linux_v[0].check, "bridge:lan:exists");
  EXPECT_EQ(linux_v[0].status, Status::Fail);
  EXPECT_EQ(linux_v[0].fix, "ip link add name br0 type bridge && ip link set dev br0 up");
  EXPECT_EQ(judgeBridge(Platform::FreeBSD, b)[0].fix, "ifconfig bridge create name br0 up");
  b.link = link("br0", 10, LinkKind::Pair);
  auto v = judgeBridge(Platform::Linux, b);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].message, HasSubstr("not a bridge"));
}

TEST(DoctorBridge, DownAndNoAddress) {
  Config c = parse(kLan);
  BridgeFacts b = healthyBridge(c);
  b.link->admin_up = false;
  b.addresses.clear();
  auto v = judgeBridge(Platform::Linux, b);
  EXPECT_EQ(find(v, "bridge:lan:up")->status, Status::Fail);
  EXPECT_EQ(find(v, "bridge:lan:up")->fix, "ip link set dev br0 up");
  EXPECT_EQ(find(v, "bridge:lan:address")->status, Status::Fail);
  EXPECT_EQ(find(v, "bridge:lan:address")->fix, "ip address add 198.18.160.1/24 dev br0");
  auto f = judgeBridge(Platform::FreeBSD, b);
  EXPECT_EQ(find(f, "bridge:lan:up")->fix, "ifconfig br0 up");
  EXPECT_EQ(find(f, "bridge:lan:address")->fix, "ifconfig br0 inet 198.18.160.1/24 alias");
  // Another address on it does not count.
  b.addresses = {cidr("198.18.160.9/24")};
  EXPECT_EQ(find(judgeBridge(Platform::Linux, b), "bridge:lan:address")->status, Status::Fail);
}

TEST(DoctorBridge, MemberMissingNotInBridgeOrDown) {
  Config c = parse(kLan);
  BridgeFacts b = healthyBridge(c);
  b.expected[0].link->master_index = 0;  // left the bridge
  b.members.clear();
  auto v = judgeBridge(Platform::Linux, b);
  auto m = find(v, "bridge:lan:members");
  EXPECT_EQ(m->status, Status::Fail);
  EXPECT_THAT(m->message, HasSubstr("e0a_web (jail web) is not a member"));
  EXPECT_EQ(m->fix, "ip link set dev e0a_web master br0");
  EXPECT_EQ(find(judgeBridge(Platform::FreeBSD, b), "bridge:lan:members")->fix, "ifconfig br0 addm e0a_web");

  b = healthyBridge(c);
  b.expected[0].link->admin_up = false;
  EXPECT_EQ(find(judgeBridge(Platform::Linux, b), "bridge:lan:members")->fix, "ip link set dev e0a_web up");

  b.expected[0].link.reset();  // the pair is gone
  m = find(judgeBridge(Platform::Linux, b), "bridge:lan:members");
  EXPECT_EQ(m->status, Status::Fail);
  EXPECT_EQ(m->fix, "vnetd-hook prestart web && vnetd-hook created web");

  b.expected.clear();
  EXPECT_EQ(find(judgeBridge(Platform::Linux, b), "bridge:lan:members")->status, Status::Ok);
}

TEST(DoctorBridge, MtuMismatch) {
  Config c = parse(kLan);
  BridgeFacts b = healthyBridge(c);
  b.members.push_back(link("e0a_db", 12, LinkKind::Pair, true, 9000, 10));
  auto m = find(judgeBridge(Platform::Linux, b), "bridge:lan:mtu");
  EXPECT_EQ(m->status, Status::Fail);
  EXPECT_THAT(m->message, HasSubstr("e0a_db 9000"));
  EXPECT_EQ(m->fix, "ip link set dev e0a_db mtu 1500");
  EXPECT_EQ(find(judgeBridge(Platform::FreeBSD, b), "bridge:lan:mtu")->fix, "ifconfig e0a_db mtu 1500");

  // Bridge and members agree, but not with the configuration: a warning.
  b = healthyBridge(c);
  b.config.mtu = 9000;
  b.link->mtu = 1500;
  b.members.clear();
  m = find(judgeBridge(Platform::Linux, b), "bridge:lan:mtu");
  EXPECT_EQ(m->status, Status::Warn);
  EXPECT_EQ(m->fix, "ip link set dev br0 mtu 9000");
}

// --------------------------------------------------------------------- forwarding

TEST(DoctorForwarding, OffWithNatFailsOffWithGatewayWarns) {
  Config c = parse(kLan);
  auto on = judgeForwarding(Platform::Linux, linuxHost(true), c, {});
  EXPECT_EQ(find(on, "forwarding:ipv4")->status, Status::Ok);

  // The jail routes via the bridge's address (the default gateway).
  auto off = judgeForwarding(Platform::Linux, linuxHost(false), c, {});
  auto v = find(off, "forwarding:ipv4");
  EXPECT_EQ(v->status, Status::Warn);
  EXPECT_THAT(v->message, HasSubstr("198.18.160.1"));
  EXPECT_THAT(v->fix, HasSubstr("sysctl -w net.ipv4.ip_forward=1"));

  c.bridges.at("lan").nat = "eth0";
  v = find(judgeForwarding(Platform::Linux, linuxHost(false), c, {}), "forwarding:ipv4");
  EXPECT_EQ(v->status, Status::Fail);
  platform::HostSupport fb;
  fb.ipv4_forwarding = false;
  EXPECT_EQ(find(judgeForwarding(Platform::FreeBSD, fb, c, {}), "forwarding:ipv4")->fix,
            "sysrc gateway_enable=YES && sysctl net.inet.ip.forwarding=1  # or let vnetd do it: [daemon] "
            "manage_forwarding = true in " + c.source);
  // Linux, ip_forward off but the NAT bridge's and its egress's own flags on (the kernel
  // looks at the flag of the interface a packet arrives on): routed all the same.
  using Flags = std::map<std::string, bool>;
  v = find(judgeForwarding(Platform::Linux, linuxHost(false), c, {}, Flags{{"br0", true}, {"eth0", true}}),
           "forwarding:ipv4");
  EXPECT_EQ(v->status, Status::Ok) << v->message;
  EXPECT_THAT(v->message, HasSubstr("net.ipv4.ip_forward itself is off"));
  EXPECT_EQ(find(judgeForwarding(Platform::Linux, linuxHost(false), c, {}, Flags{{"br0", true}, {"eth0", false}}),
                 "forwarding:ipv4")
                ->status,
            Status::Fail)
      << "the replies arrive on the egress, whose flag is off";
  EXPECT_EQ(find(judgeForwarding(Platform::Linux, linuxHost(false), c, {}, Flags{{"eth0", true}}), "forwarding:ipv4")
                ->status,
            Status::Fail)
      << "the jails' packets arrive on the bridge, whose flag is unknown";
  // With the key set, vnetd should have done it: the fix says so.
  c.daemon.manage_forwarding = true;
  v = find(judgeForwarding(Platform::Linux, linuxHost(false), c, {}), "forwarding:ipv4");
  EXPECT_EQ(v->status, Status::Fail);
  EXPECT_THAT(v->fix, HasSubstr("manage_forwarding = true in " + c.source + ": vnetd switches it on when it starts"));
}

TEST(DoctorForwarding, NotNeededWithoutNatOrHostGateway) {
  Config c = parse(R"([bridge.lan]
interface = "br0"
address = "198.18.160.1/24"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
address = "198.18.160.2/24"
gateway = "198.18.160.254"
)");
  auto v = judgeForwarding(Platform::Linux, linuxHost(false), c, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, Status::Ok);
  // ...unless a running jail (e.g. from [jail_defaults] of an older file) routes via the host.
  JailFacts j;
  j.name = "old";
  j.gateway4 = ip("198.18.160.1");
  EXPECT_EQ(judgeForwarding(Platform::Linux, linuxHost(false), c, {j})[0].status, Status::Warn);
}

// ----------------------------------------------------------------------- firewall

// A ruleset with one base chain at hook forward, policy drop, holding `rules`, plus
// `extra` regular chains (so the table can look like Docker's).
platform::ForwardFirewallFacts firewallWith(std::string family, std::string table, std::string chain,
                                            std::vector<platform::FwRule> rules = {},
                                            std::vector<std::string> extra = {}) {
  platform::ForwardFirewallFacts f;
  f.applicable = true;
  platform::FwTable t{std::move(family), std::move(table), {}};
  t.chains.push_back({std::move(chain), "forward", "drop", std::move(rules)});
  for (auto& e : extra) t.chains.push_back({std::move(e), "", "", {}});
  f.ruleset.tables.push_back(std::move(t));
  return f;
}

TEST(DoctorFirewall, NftablesChainGetsTheInsertRules) {
  Config c = parse(kLan);  // the jail routes via 198.18.160.1: forwarding needed
  auto v = judgeForwardFirewall(c, firewallWith("inet", "filter", "forward"), "");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].check, "firewall:forward:lan");
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_EQ(v[0].message,
            "the host firewall drops forwarded traffic of bridge lan (br0) (198.18.160.0/24): table inet filter chain "
            "forward (policy drop) drops it both ways");
  EXPECT_EQ(v[0].fix,
            "nft insert rule inet filter forward iifname \"br0\" accept && nft insert rule inet filter forward "
            "oifname \"br0\" ct state established,related accept");

  // Replies already let through: only the outbound rule is printed.
  platform::FwRule replies;
  platform::FwMatch ct;
  ct.key = platform::FwMatch::Key::CtState;
  ct.words = {"established", "related"};
  replies.matches.push_back(ct);
  replies.verdict = platform::FwRule::Verdict::Accept;
  v = judgeForwardFirewall(c, firewallWith("ip", "t", "fwd", {replies}), "");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].fix, "nft insert rule ip t fwd iifname \"br0\" accept");
  EXPECT_THAT(v[0].message, HasSubstr("drops what the jails send out"));

  // Applying it: OK.
  platform::FwRule in_br;
  platform::FwMatch iif;
  iif.key = platform::FwMatch::Key::Iifname;
  iif.words = {"br0"};
  in_br.matches.push_back(iif);
  in_br.verdict = platform::FwRule::Verdict::Accept;
  v = judgeForwardFirewall(c, firewallWith("ip", "t", "fwd", {in_br, replies}), "");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, Status::Ok);
}

TEST(DoctorFirewall, DockerAndFirewalldFixesAreTheirs) {
  Config c = parse(kLan);
  auto v = judgeForwardFirewall(c, firewallWith("ip", "filter", "FORWARD", {}, {"DOCKER-USER"}), "");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].message, HasSubstr("[Docker]"));
  EXPECT_EQ(v[0].fix,
            "iptables -I DOCKER-USER -i br0 -j ACCEPT && iptables -I DOCKER-USER -o br0 -m conntrack --ctstate "
            "RELATED,ESTABLISHED -j ACCEPT");
  // table ip filter without DOCKER-USER is someone's plain nftables (or iptables-nft) chain.
  v = judgeForwardFirewall(c, firewallWith("ip", "filter", "FORWARD"), "");
  EXPECT_THAT(v.at(0).fix, HasSubstr("nft insert rule ip filter FORWARD iifname \"br0\" accept"));
  v = judgeForwardFirewall(c, firewallWith("inet", "firewalld", "filter_FORWARD"), "");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].fix, "firewall-cmd --permanent --zone=trusted --add-interface=br0 && firewall-cmd --reload");
}

TEST(DoctorFirewall, OnlyBridgesThatNeedForwarding) {
  // The jail routes via another router: nothing is forwarded by this host.
  Config c = parse(R"([bridge.lan]
interface = "br0"
address = "198.18.160.1/24"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
address = "198.18.160.2/24"
gateway = "198.18.160.254"
)");
  EXPECT_THAT(judgeForwardFirewall(c, firewallWith("inet", "filter", "forward"), ""), IsEmpty());
  // NAT needs it.
  c.bridges.at("lan").nat = "eth0";
  EXPECT_EQ(judgeForwardFirewall(c, firewallWith("inet", "filter", "forward"), "").size(), 1u);
}

TEST(DoctorFirewall, UnreadableLegacyAndNotApplicable) {
  Config c = parse(kLan);
  auto v = judgeForwardFirewall(c, std::nullopt, "list the nftables ruleset: Operation not permitted");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_EQ(v[0].message, "cannot read the host firewall's ruleset: list the nftables ruleset: Operation not permitted");

  platform::ForwardFirewallFacts legacy;
  legacy.applicable = true;
  legacy.legacy_iptables = true;
  v = judgeForwardFirewall(c, legacy, "");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].status, Status::Ok);
  EXPECT_EQ(v[1].check, "firewall:legacy");
  EXPECT_EQ(v[1].status, Status::Warn);
  EXPECT_EQ(v[1].fix, "iptables-legacy -S FORWARD");

  // FreeBSD: pf's filter is the administrator's; no verdict at all.
  EXPECT_THAT(judgeForwardFirewall(c, platform::ForwardFirewallFacts{}, ""), IsEmpty());
}

// ---------------------------------------------------------------------------- NAT

TEST(DoctorNat, PerPlatformFixes) {
  Config c = parse(kLan);
  BridgeConfig b = c.bridges.at("lan");
  b.nat = "em0";
  NatCheckFacts n;
  n.nat = NatFacts{NatState::Present, NatMissing::None, "anchor vnetd/br0 translates"};
  EXPECT_EQ(judgeNat(Platform::FreeBSD, b, n, "/etc/t.toml").status, Status::Ok);

  n.nat = NatFacts{NatState::Absent, NatMissing::Rules, "anchor vnetd/br0 has no nat rule"};
  Verdict v = judgeNat(Platform::FreeBSD, b, n, "/etc/t.toml");
  EXPECT_EQ(v.check, "nat:lan");
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_EQ(v.fix, "echo 'nat on em0 from 198.18.160.0/24 to any -> (em0)' | pfctl -a vnetd/br0 -f -");
  n.nat->missing = NatMissing::Disabled;
  EXPECT_EQ(judgeNat(Platform::FreeBSD, b, n, "/etc/t.toml").fix, "pfctl -e && sysrc pf_enable=YES");
  n.nat->missing = NatMissing::Hook;
  EXPECT_THAT(judgeNat(Platform::FreeBSD, b, n, "/etc/t.toml").fix, HasSubstr("nat-anchor \"vnetd/*\""));

  n.nat = NatFacts{NatState::Unsupported, NatMissing::None, "the Linux backend does not set up NAT"};
  v = judgeNat(Platform::Linux, b, n, "/etc/t.toml");
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_EQ(v.fix, "remove nat = \"em0\" from [bridge.lan] in /etc/t.toml");

  n.nat.reset();
  n.error = "pfctl: permission denied";
  EXPECT_EQ(judgeNat(Platform::FreeBSD, b, n, "/etc/t.toml").status, Status::Warn);
}

TEST(DoctorNat, AMissingEgressInterfaceFailsWhateverTheRulesSay) {
  Config c = parse(kLan);
  BridgeConfig b = c.bridges.at("lan");
  b.nat = "em9";
  NatCheckFacts n;
  n.nat = NatFacts{NatState::Present, NatMissing::None, "loaded"};
  n.egress_exists = false;
  for (Platform p : {Platform::FreeBSD, Platform::Linux}) {
    Verdict v = judgeNat(p, b, n, "/etc/t.toml");
    EXPECT_EQ(v.status, Status::Fail);
    EXPECT_THAT(v.message, HasSubstr("em9, which does not exist"));
    EXPECT_THAT(v.fix, HasSubstr("[bridge.lan] in /etc/t.toml"));
  }
}

// -------------------------------------------------------------------------- jails

JailFacts healthyJail() {
  JailFacts j;
  j.name = "web";
  j.interfaces = {{"e0a_web", "e0b_web", "br0", {"198.18.160.2/24"}}};
  j.links = {link("lo", 1, LinkKind::Loopback), link("e0b_web", 2)};
  j.addresses = {{2, cidr("198.18.160.2/24")}};
  j.default_routes = {{cidr("0.0.0.0/0"), ip("198.18.160.1"), 2}};
  j.gateway4 = ip("198.18.160.1");
  return j;
}

TEST(DoctorJail, HealthyInterfacesAndRoute) {
  auto v = judgeJail(Platform::Linux, healthyJail());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(find(v, "jail:web:interfaces")->status, Status::Ok);
  EXPECT_EQ(find(v, "jail:web:route")->status, Status::Ok);
  EXPECT_FALSE(find(v, "jail:web:route6")) << "no IPv6 gateway configured";
}

// Issue 19: a jail side with address6 = "slaac", MAC 02:00:c6:12:b4:0a: its EUI-64
// address in 2001:db8:180::/64 is 2001:db8:180::c6ff:fe12:b40a.
JailFacts slaacJail() {
  JailFacts j = healthyJail();
  j.links[1].mac = MacAddress::parse("02:00:c6:12:b4:0a").value();
  j.addresses.push_back({2, cidr("fe80::c6ff:fe12:b40a/64")});
  j.addresses.push_back({2, cidr("2001:db8:180::c6ff:fe12:b40a/64")});
  j.default_routes.push_back({cidr("::/0"), ip("fe80::1"), 2});
  SlaacFacts sf;
  sf.ipv6_on = sf.accepts_ra = sf.autoconf = true;
  j.slaac["e0b_web"] = sf;
  return j;
}

TEST(DoctorSlaac, HealthyWhenOnWithAnEui64AddressAndARoute) {
  auto v = judgeSlaac(Platform::Linux, slaacJail());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].check, "slaac:web:e0b_web");
  EXPECT_EQ(v[0].status, Status::Ok);
  EXPECT_THAT(v[0].message, HasSubstr("2001:db8:180::c6ff:fe12:b40a/64, default route via fe80::1"));
  EXPECT_TRUE(judgeSlaac(Platform::Linux, healthyJail()).empty()) << "no slaac interface, no check";
}

TEST(DoctorSlaac, SaysWhichStepIsMissing) {
  JailFacts off = slaacJail();
  off.slaac["e0b_web"].ipv6_on = false;
  auto v = judgeSlaac(Platform::FreeBSD, off);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, Status::Fail);
  EXPECT_THAT(v[0].message, HasSubstr("IPv6 is switched off (IFDISABLED)"));
  EXPECT_THAT(v[0].fix, HasSubstr("vnetd-hook poststart web"));
  EXPECT_THAT(v[0].fix, HasSubstr("ifconfig_e0b_web_ipv6=\"inet6 accept_rtadv\""));

  JailFacts no_ra = slaacJail();
  no_ra.slaac["e0b_web"].accepts_ra = false;
  v = judgeSlaac(Platform::Linux, no_ra);
  EXPECT_EQ(v[0].status, Status::Fail);
  EXPECT_THAT(v[0].message, HasSubstr("router advertisements are not accepted (accept_ra)"));

  // A global address that is not the MAC's EUI-64 (a static one) is not autoconfigured.
  JailFacts no_addr = slaacJail();
  no_addr.addresses.back().cidr = cidr("2001:db8:180::10/64");
  v = judgeSlaac(Platform::Linux, no_addr);
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_THAT(v[0].message, HasSubstr("no autoconfigured IPv6 address (EUI-64 of 02:00:c6:12:b4:0a)"));
  EXPECT_THAT(v[0].fix, HasSubstr("router_advertisements"));

  JailFacts no_route = slaacJail();
  no_route.default_routes.pop_back();
  v = judgeSlaac(Platform::Linux, no_route);
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_THAT(v[0].message, HasSubstr("but no IPv6 default route learned"));

  JailFacts unreadable = slaacJail();
  unreadable.slaac["e0b_web"].error = "Permission denied";
  EXPECT_EQ(judgeSlaac(Platform::Linux, unreadable)[0].status, Status::Warn);
}

TEST(DoctorJail, RouteWrongOrMissing) {
  JailFacts j = healthyJail();
  j.default_routes[0].gateway = ip("198.18.160.99");
  auto v = find(judgeJail(Platform::Linux, j), "jail:web:route");
  EXPECT_EQ(v->status, Status::Fail);
  EXPECT_THAT(v->message, HasSubstr("via 198.18.160.99, configured via 198.18.160.1"));
  EXPECT_EQ(v->fix, "ip -n web route replace default via 198.18.160.1");
  EXPECT_EQ(find(judgeJail(Platform::FreeBSD, j), "jail:web:route")->fix, "jexec web route change default 198.18.160.1");
  j.default_routes.clear();
  EXPECT_EQ(find(judgeJail(Platform::FreeBSD, j), "jail:web:route")->fix, "jexec web route add default 198.18.160.1");
  EXPECT_EQ(find(judgeJail(Platform::Linux, j), "jail:web:route")->status, Status::Fail);
}

TEST(DoctorJail, InterfaceMissingDownOrWithoutAddress) {
  JailFacts j = healthyJail();
  j.links[1].admin_up = false;
  j.addresses.clear();
  auto v = find(judgeJail(Platform::Linux, j), "jail:web:interfaces");
  EXPECT_EQ(v->status, Status::Fail);
  EXPECT_EQ(v->fix, "ip -n web link set dev e0b_web up && ip -n web address add 198.18.160.2/24 dev e0b_web");
  EXPECT_EQ(find(judgeJail(Platform::FreeBSD, j), "jail:web:interfaces")->fix,
            "jexec web ifconfig e0b_web up && jexec web ifconfig e0b_web inet 198.18.160.2/24 alias");
  j.links.pop_back();
  v = find(judgeJail(Platform::Linux, j), "jail:web:interfaces");
  EXPECT_THAT(v->message, HasSubstr("e0b_web is missing"));
  EXPECT_EQ(v->fix, "vnetd-hook created web");
  j.error = "enter namespace web: Operation not permitted";
  EXPECT_EQ(judgeJail(Platform::Linux, j)[0].status, Status::Warn);
}

// The jail's rc switched IPv6 off under vnetd's IPv6 address (FreeBSD: network.subr
// ifconfig_up sets ifdisabled unless ipv6_activate_all_interfaces="YES").
TEST(DoctorJail, Ipv6SwitchedOffUnderAnIpv6Address) {
  JailFacts j = healthyJail();
  EXPECT_FALSE(find(judgeJail(Platform::FreeBSD, j), "jail:web:ipv6")) << "nothing to say when it is on";
  j.ipv6_off.insert("e0b_web");
  auto v = find(judgeJail(Platform::FreeBSD, j), "jail:web:ipv6");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, Status::Fail);
  EXPECT_THAT(v->message, HasSubstr("IPv6 is switched off on e0b_web"));
  EXPECT_THAT(v->message, HasSubstr("ipv6_activate_all_interfaces"));
  EXPECT_THAT(v->fix, HasSubstr("vnetd-hook poststart web"));
  EXPECT_THAT(v->fix, HasSubstr("exec.poststart"));
  EXPECT_EQ(find(judgeJail(Platform::Linux, j), "jail:web:ipv6")->fix, "vnetd-hook poststart web");
  j.ipv6_off = {"someone_else0"};  // not a recorded jail side
  EXPECT_FALSE(find(judgeJail(Platform::Linux, j), "jail:web:ipv6"));
}

// ------------------------------------------------------------------ capture, daemon

TEST(DoctorCapture, OpenOrNot) {
  Config c = parse(kLan);
  EXPECT_EQ(judgeCapture(c.bridges.at("lan"), {}).status, Status::Ok);
  Verdict v = judgeCapture(c.bridges.at("lan"), {"capture on br0: You don't have permission to capture"});
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_THAT(v.fix, HasSubstr("as root"));
}

TEST(DoctorDaemon, DownWarnsWithTheStartCommand) {
  DaemonFacts d;
  d.error = "connect /run/vnetd.sock: No such file or directory";
  ConfigFacts c{"/etc/t.toml", {}, parse(kLan)};
  auto v = judgeDaemon(Platform::Linux, d, c, "/run/vnetd.sock");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].check, "daemon:reachable");
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_THAT(v[0].message, HasSubstr("not running"));
  EXPECT_EQ(v[0].fix, "vnetd -c /etc/t.toml") << "a configuration other than the default";
  c.path = build::kDefaultConfigPath;
  EXPECT_EQ(judgeDaemon(Platform::FreeBSD, d, c, "/s")[0].fix, "service vnetd start");
  EXPECT_EQ(judgeDaemon(Platform::Linux, d, c, "/s")[0].fix, "systemctl start vnetd");
  d.permission_denied = true;
  EXPECT_THAT(judgeDaemon(Platform::Linux, d, c, "/s")[0].fix, HasSubstr("control_group"));
}

// A daemon that answers with a reply this vnetctl cannot decode is reported, not taken
// as healthy with every daemon-side check silently skipped.
TEST(DoctorDaemon, AnUndecodableReplyWarnsWithTheDecodersReason) {
  ConfigFacts c{"/etc/t.toml", {}, parse(kLan)};
  DaemonFacts d;
  d.reachable = true;
  d.error = "malformed status reply from vnetd: no 'jails' array";
  auto v = judgeDaemon(Platform::Linux, d, c, "/run/vnetd.sock");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].check, "daemon:reachable");
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_THAT(v[0].message, HasSubstr("not understood"));
  EXPECT_THAT(v[0].message, HasSubstr("no 'jails' array"));
  EXPECT_THAT(v[0].fix, HasSubstr("-V"));
}

TEST(DoctorDaemon, ConfigDigestDiffersWarnsWithReload) {
  ConfigFacts c{build::kDefaultConfigPath, {}, parse(kLan)};
  DaemonFacts d;
  d.reachable = true;
  d.status = DaemonStatus{42, "0.1.0", build::kDefaultConfigPath, c.config->digest, {}};
  auto v = judgeDaemon(Platform::FreeBSD, d, c, "/var/run/vnetd.sock");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(find(v, "daemon:reachable")->status, Status::Ok);
  EXPECT_EQ(find(v, "daemon:config")->status, Status::Ok);
  d.status->config_digest = "0123456789abcdef";
  auto w = find(judgeDaemon(Platform::FreeBSD, d, c, "/s"), "daemon:config");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, Status::Warn);
  EXPECT_THAT(w->message, HasSubstr("older configuration"));
  EXPECT_EQ(w->fix, "service vnetd reload");
  EXPECT_EQ(find(judgeDaemon(Platform::Linux, d, c, "/s"), "daemon:config")->fix, "kill -HUP $(cat /run/t.pid)");
}

// ------------------------------------------------------------------------- output

TEST(DoctorOutput, ExitCodeRule) {
  EXPECT_EQ(exitCode({}), 0);
  EXPECT_EQ(exitCode({{"a", Status::Ok, "", ""}}), 0);
  EXPECT_EQ(exitCode({{"a", Status::Ok, "", ""}, {"b", Status::Warn, "", "x"}}), 1);
  EXPECT_EQ(exitCode({{"a", Status::Fail, "", "x"}, {"b", Status::Warn, "", "x"}}), 2);
  EXPECT_EQ(exitCode({{"b", Status::Warn, "", "x"}, {"a", Status::Fail, "", "x"}}), 2);
}

TEST(DoctorOutput, TextQuietAndJson) {
  std::vector<Verdict> v = {{"config", Status::Ok, "configuration loads", ""},
                            {"bridge:lan:up", Status::Fail, "bridge lan (br0) is down", "ip link set dev br0 up"},
                            {"daemon:reachable", Status::Warn, "vnetd is not running", "systemctl start vnetd"}};
  EXPECT_EQ(renderText(v, false),
            "OK    configuration loads\n"
            "FAIL  bridge lan (br0) is down\n"
            "      fix: ip link set dev br0 up\n"
            "WARN  vnetd is not running\n"
            "      fix: systemctl start vnetd\n"
            "3 checks: 1 ok, 1 warning, 1 failure\n");
  EXPECT_EQ(renderText(v, true),
            "FAIL  bridge lan (br0) is down\n"
            "      fix: ip link set dev br0 up\n"
            "WARN  vnetd is not running\n"
            "      fix: systemctl start vnetd\n"
            "3 checks: 1 ok, 1 warning, 1 failure\n");
  EXPECT_EQ(renderText({v[0]}, true), "") << "quiet and healthy: silent";
  EXPECT_EQ(summaryLine({v[0], v[0]}), "2 checks: 2 ok, 0 warnings, 0 failures");

  auto doc = nlohmann::json::parse(renderJson(v));
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc[1]["check"], "bridge:lan:up");
  EXPECT_EQ(doc[1]["status"], "fail");
  EXPECT_EQ(doc[1]["message"], "bridge lan (br0) is down");
  EXPECT_EQ(doc[1]["fix"], "ip link set dev br0 up");
  EXPECT_EQ(doc[0]["status"], "ok");
  EXPECT_EQ(doc[0]["fix"], "");
  EXPECT_EQ(doc[2]["status"], "warn");
}

TEST(DoctorCapture, BufferBelowTheKernelsCapWarnsWithTheSysctl) {
  Config c = parse(kLan);  // [capture] buffer_size: the default 4M
  ASSERT_EQ(c.capture.buffer_bytes, 4u << 20);
  const platform::CaptureBufferLimit freebsd_default{524288, "net.bpf.maxbufsize", "/etc/sysctl.conf"};
  auto v = judgeCaptureBuffer(Platform::FreeBSD, c.capture, freebsd_default, "");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->check, "capture_buffer");
  EXPECT_EQ(v->status, Status::Warn);
  EXPECT_THAT(v->message, HasSubstr("net.bpf.maxbufsize = 524288"));
  EXPECT_THAT(v->message, HasSubstr("buffer_size 4194304"));
  EXPECT_EQ(v->fix,
            "sysctl net.bpf.maxbufsize=4194304 && echo net.bpf.maxbufsize=4194304 >> /etc/sysctl.conf && "
            "service vnetd restart");

  // Raised to exactly the request, or beyond: OK.
  for (uint64_t cap : {uint64_t{4} << 20, uint64_t{16} << 20}) {
    auto fine = judgeCaptureBuffer(Platform::FreeBSD, c.capture, platform::CaptureBufferLimit{cap, "net.bpf.maxbufsize", "/etc/sysctl.conf"}, "");
    ASSERT_TRUE(fine);
    EXPECT_EQ(fine->status, Status::Ok) << fine->message;
  }
  // One byte short still warns.
  EXPECT_EQ(judgeCaptureBuffer(Platform::FreeBSD, c.capture,
                               platform::CaptureBufferLimit{(4u << 20) - 1, "net.bpf.maxbufsize", "/etc/sysctl.conf"}, "")
                ->status,
            Status::Warn);
  // A smaller configured buffer fits the default cap.
  CaptureConfig small = c.capture;
  small.buffer_bytes = 512 << 10;
  EXPECT_EQ(judgeCaptureBuffer(Platform::FreeBSD, small, freebsd_default, "")->status, Status::Ok);

  // No cap (Linux), or capture off: no verdict at all. Unreadable: a warning.
  EXPECT_FALSE(judgeCaptureBuffer(Platform::Linux, c.capture, std::nullopt, ""));
  CaptureConfig off = c.capture;
  off.enabled = false;
  EXPECT_FALSE(judgeCaptureBuffer(Platform::FreeBSD, off, freebsd_default, ""));
  auto unreadable = judgeCaptureBuffer(Platform::FreeBSD, c.capture, std::nullopt, "read sysctl net.bpf.maxbufsize: Operation not permitted");
  ASSERT_TRUE(unreadable);
  EXPECT_EQ(unreadable->status, Status::Warn);
  EXPECT_EQ(unreadable->fix, "sysctl net.bpf.maxbufsize");
}

TEST(DoctorJudge, WholeReportOrderAndSkips) {
  Facts f;
  f.platform = Platform::Linux;
  f.host = linuxHost(true);
  f.config = {"/etc/t.toml", {}, parse(kLan)};
  f.bridges = {healthyBridge(*f.config.config)};
  f.jails = {healthyJail()};
  f.capture["lan"] = {};
  f.daemon.reachable = true;
  f.daemon.status = DaemonStatus{1, "0.1.0", "/etc/t.toml", f.config.config->digest, {}};
  f.socket_path = "/run/t.sock";
  f.jail_conf.path = "/etc/jail.conf";  // not there: one OK line saying the checks were skipped
  auto v = judge(f);
  for (const auto& x : v) EXPECT_EQ(x.status, Status::Ok) << x.check << ": " << x.message;
  std::vector<std::string> checks;
  for (const auto& x : v) checks.push_back(x.check);
  EXPECT_THAT(checks, ::testing::ElementsAre("kernel:veth", "kernel:bridge", "kernel:netns", "kernel:netns_dir",
                                             "config", "jailconf", "bridge:lan:exists", "bridge:lan:up", "bridge:lan:address",
                                             "bridge:lan:members", "bridge:lan:mtu", "forwarding:ipv4",
                                             "jail:web:interfaces", "jail:web:route", "capture:lan",
                                             "daemon:reachable", "daemon:config"));
  EXPECT_EQ(exitCode(v), 0);

  // A FreeBSD-like cap below the buffer: one more check, after the captures.
  f.capture_buffer_limit = platform::CaptureBufferLimit{524288, "net.bpf.maxbufsize", "/etc/sysctl.conf"};
  v = judge(f);
  ASSERT_EQ(v.size(), checks.size() + 1);
  EXPECT_EQ(v[checks.size() - 2].check, "capture_buffer");
  EXPECT_EQ(exitCode(v), 1);
  f.capture_buffer_limit.reset();

  // Without a loadable configuration only the kernel, config and daemon checks remain.
  f.config = {"/etc/t.toml", {"/etc/t.toml:1:1: bad"}, std::nullopt};
  f.jails.clear();
  v = judge(f);
  EXPECT_EQ(exitCode(v), 2);
  EXPECT_FALSE(find(v, "bridge:lan:exists"));
  EXPECT_FALSE(find(v, "daemon:config"));
  EXPECT_TRUE(find(v, "daemon:reachable"));
}

// ---------------------------------------------------------------------- jail.conf

// jail.conf facts from text, as doctor.cc gathers them from a file.
JailConfFacts jailConf(const std::string& text, const std::string& file = "/etc/jail.conf") {
  JailConfFacts jc;
  jc.path = file;
  jc.exists = true;
  auto r = parseJailConf(text, file);
  EXPECT_TRUE(r.ok()) << r.error().message();
  if (r.ok()) jc.jails = *r;
  jc.sources = {file};
  return jc;
}

// The jail.conf.sample of before issue 14: the hooks as globals, the prestop line that
// reclaims e0b_${name}, and vnet.interface for webserver.
constexpr const char* kOldSample = R"(exec.start = "/bin/sh /etc/rc";
path = "/usr/jails/${name}";
vnet;
exec.prestart += "/usr/local/sbin/vnetd-hook prestart ${name}";
exec.created  += "/usr/local/sbin/vnetd-hook created ${name}";
exec.prestop  += "/sbin/ifconfig e0b_${name} -vnet ${name}";
exec.poststop += "/usr/local/sbin/vnetd-hook poststop ${name}";
webserver {
	vnet.interface = "e0b_${name}";
}
db {
}
)";

constexpr const char* kWebAndDefaults = R"([bridge.lan]
interface = "br0"
address = "198.18.160.1/24"

[jail.webserver]
[[jail.webserver.interface]]
bridge = "lan"
address = "198.18.160.2/24"

[jail_defaults]
[[jail_defaults.interface]]
bridge = "lan"
address = "auto"
)";

TEST(DoctorJailConf, NoFileIsSkipped) {
  JailConfFacts jc;
  jc.path = "/etc/jail.conf";
  Config c = parse(kLan);
  auto v = judgeJailConf(Platform::Linux, jc, &c);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Verdict{"jailconf", Status::Ok, "no /etc/jail.conf: jail.conf checks skipped", ""}));
}

TEST(DoctorJailConf, TheOldSampleWarnsTwiceWithFileLineAndFix) {
  Config c = parse(kWebAndDefaults);
  auto v = judgeJailConf(Platform::FreeBSD, jailConf(kOldSample), &c);
  auto read = find(v, "jailconf");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, Status::Ok);
  EXPECT_EQ(read->message, "read /etc/jail.conf: 2 jails, 2 managed by vnetd");

  auto vi = find(v, "jailconf:webserver:vnet.interface");
  ASSERT_TRUE(vi);
  EXPECT_EQ(vi->status, Status::Warn);
  EXPECT_THAT(vi->message, HasSubstr("vnet.interface = e0b_webserver (/etc/jail.conf:9)"));
  EXPECT_THAT(vi->message, HasSubstr("jail(8) fails to move it again"));
  EXPECT_EQ(vi->fix, "remove vnet.interface from jail webserver at /etc/jail.conf:9");
  // db (a [jail_defaults] jail: its hooks make it vnetd's) sets no vnet.interface.
  EXPECT_EQ(find(v, "jailconf:db:vnet.interface")->status, Status::Ok);

  for (const char* j : {"webserver", "db"}) {
    auto ps = find(v, std::string("jailconf:") + j + ":prestop");
    ASSERT_TRUE(ps) << j;
    EXPECT_EQ(ps->status, Status::Warn);
    EXPECT_THAT(ps->message, HasSubstr(std::string("'/sbin/ifconfig e0b_") + j + " -vnet " + j + "' (/etc/jail.conf:6)"));
    EXPECT_THAT(ps->message, HasSubstr(std::string("'jail -r ") + j + "' gives up"));
    EXPECT_EQ(ps->fix, "replace that line with  exec.prestop += \"/usr/local/sbin/vnetd-hook prestop ${name}\";");
  }
  EXPECT_EQ(exitCode(v), 1);
}

TEST(DoctorJailConf, GeneratedConfiguredAndForeignInterfaceNames) {
  // A long name gets the hashed form; [jail.X] may name the jail side; em1 is not vnetd's.
  const std::string longName = "reportingserver01";
  Config c = parse(std::string(kLan) + "\n[jail." + longName + "]\n[[jail." + longName +
                   ".interface]]\nbridge = \"lan\"\naddress = \"198.18.160.3/24\"\n"
                   "\n[jail.named]\n[[jail.named.interface]]\nbridge = \"lan\"\nname = \"inside0\"\n"
                   "address = \"198.18.160.4/24\"\n");
  const std::string hashed = interfaceName(longName, 0, Side::B);
  auto jc = jailConf("vnet;\n" + longName + " { vnet.interface = \"" + hashed + "\"; }\n"
                     "named { vnet.interface = inside0, em1; }\n"
                     "web { vnet.interface = em1; }\n"
                     "other { vnet.interface = e0b_other; }\n");
  auto v = judgeJailConf(Platform::FreeBSD, jc, &c);
  EXPECT_EQ(find(v, "jailconf:" + longName + ":vnet.interface")->status, Status::Warn);
  auto named = find(v, "jailconf:named:vnet.interface");
  EXPECT_EQ(named->status, Status::Warn);
  EXPECT_THAT(named->message, HasSubstr("vnet.interface = inside0 (/etc/jail.conf:3)"));
  EXPECT_THAT(named->message, ::testing::Not(HasSubstr("em1")));
  EXPECT_EQ(find(v, "jailconf:web:vnet.interface")->status, Status::Ok);
  // Not configured, no [jail_defaults], no hooks: not vnetd's, not judged.
  EXPECT_FALSE(find(v, "jailconf:other:vnet.interface"));
  // No hook lines at all: nothing to say about exec.prestop.
  EXPECT_FALSE(find(v, "jailconf:web:prestop"));
}

TEST(DoctorJailConf, HooksWithoutPrestopWarnAndWithItAreOk) {
  Config c = parse(kWebAndDefaults);
  auto jc = jailConf(
      "exec.prestart += \"/opt/bin/vnetd-hook -c /etc/v.toml prestart ${name}\";\n"
      "exec.poststop += \"/opt/bin/vnetd-hook --standalone poststop ${name}\";\n"
      "webserver {\n"
      "}\n"
      "db {\n"
      "  exec.prestop = \"/opt/bin/vnetd-hook prestop ${name}\";\n"
      "}\n"
      "plain {\n"
      "  exec.prestart = \"/bin/true\";\n"
      "  exec.poststop = \"/bin/true\";\n"
      "}\n");
  auto v = judgeJailConf(Platform::FreeBSD, jc, &c);
  auto web = find(v, "jailconf:webserver:prestop");
  ASSERT_TRUE(web);
  // Optional: poststop destroys the pair either way (epair_clone_destroy).
  EXPECT_EQ(web->status, Status::Ok);
  EXPECT_THAT(web->message, HasSubstr("no vnetd-hook prestop (optional"));
  EXPECT_EQ(find(v, "jailconf:db:prestop")->status, Status::Ok);
  // plain overrides the hooks away: with [jail_defaults] only, it is not vnetd's.
  EXPECT_FALSE(find(v, "jailconf:plain:prestop"));
  EXPECT_FALSE(find(v, "jailconf:plain:vnet.interface"));
  EXPECT_EQ(find(v, "jailconf")->message, "read /etc/jail.conf: 3 jails, 2 managed by vnetd");

  // Without [jail_defaults] a jail is vnetd's only through [jail.X].
  Config only = parse(kLan);
  v = judgeJailConf(Platform::FreeBSD, jc, &only);
  EXPECT_FALSE(find(v, "jailconf:webserver:prestop"));
  EXPECT_EQ(find(v, "jailconf")->message, "read /etc/jail.conf: 3 jails, 0 managed by vnetd");
}

TEST(DoctorJailConf, UnreadableFilesWarnPerPlatformAndNoConfigChecksNothing) {
  JailConfFacts jc;
  jc.path = "/etc/jail.conf";
  jc.exists = true;
  jc.errors.push_back({"/etc/jail.conf", "/etc/jail.conf:7: unterminated string (a \" without its closing \")"});
  Config c = parse(kWebAndDefaults);
  auto v = judgeJailConf(Platform::FreeBSD, jc, &c);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].check, "jailconf");
  EXPECT_EQ(v[0].status, Status::Warn);
  EXPECT_EQ(v[0].message, "cannot read /etc/jail.conf:7: unterminated string (a \" without its closing \"); the jails "
                          "in /etc/jail.conf are not checked");
  EXPECT_EQ(v[0].fix, "jail -f /etc/jail.conf -e ' '  # jail(8)'s own reading of the file");
  EXPECT_EQ(judgeJailConf(Platform::Linux, jc, &c)[0].fix, "edit /etc/jail.conf");

  v = judgeJailConf(Platform::FreeBSD, jailConf(kOldSample), nullptr);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, Status::Ok);
  EXPECT_EQ(v[0].message, "read /etc/jail.conf: 2 jails (no vnetd configuration: not checked)");
}

// ------------------------------------------------------------------ status reply

TEST(DoctorStatusReply, FactsComeFromTheDecodedSnapshot) {
  StatusSnapshot snap;
  snap.daemon.pid = 7;
  snap.daemon.version = "0.1.0";
  snap.daemon.config = "/etc/t.toml";
  snap.daemon.config_digest = "00ff";
  snap.daemon.uptime_seconds = 99;
  JailStatus web;
  web.name = "web";
  web.running = true;
  InterfaceStatus bridged;
  bridged.host_name = "e0a_web";
  bridged.jail_name = "e0b_web";
  bridged.bridge = "br0";
  bridged.addresses = {"198.18.160.2/24", "fd00:18::2/64"};
  bridged.jail_addresses = {"198.18.160.2/24"};  // what the jail has now: not doctor's record
  InterfaceStatus lone;
  lone.index = 1;
  lone.host_name = "e1a_web";
  lone.jail_name = "e1b_web";
  web.interfaces = {bridged, lone};
  JailStatus idle;
  idle.name = "idle";  // recorded, not running, no interfaces
  snap.jails = {web, idle};
  snap.bridges.push_back(BridgeStatus{"lan", "br0", true, true, 1500, {}, 1});

  DaemonStatus st = daemonStatusFrom(snap);
  EXPECT_EQ(st.pid, 7);
  EXPECT_EQ(st.version, "0.1.0");
  EXPECT_EQ(st.config_path, "/etc/t.toml");
  EXPECT_EQ(st.config_digest, "00ff");
  ASSERT_EQ(st.jails.size(), 2u);
  EXPECT_EQ(st.jails[0].name, "web");
  ASSERT_EQ(st.jails[0].interfaces.size(), 2u);
  const RecordedInterface& r0 = st.jails[0].interfaces[0];
  EXPECT_EQ(r0.host_name, "e0a_web");
  EXPECT_EQ(r0.jail_name, "e0b_web");
  EXPECT_EQ(r0.bridge, "br0");
  EXPECT_EQ(r0.addresses, (std::vector<std::string>{"198.18.160.2/24", "fd00:18::2/64"}))
      << "the addresses vnetd assigned, which the jail check expects inside";
  EXPECT_EQ(st.jails[0].interfaces[1].host_name, "e1a_web");
  EXPECT_EQ(st.jails[0].interfaces[1].bridge, "");
  EXPECT_TRUE(st.jails[0].interfaces[1].addresses.empty());
  EXPECT_EQ(st.jails[1].name, "idle");
  EXPECT_TRUE(st.jails[1].interfaces.empty());

  EXPECT_TRUE(daemonStatusFrom(StatusSnapshot{}).jails.empty());
}

// The reply doctor reads is the one status decodes: a name vnetd would not make never
// reaches a fix command.
TEST(DoctorStatusReply, ReplyThroughTheSharedDecoder) {
  auto snap = decodeStatusReply(
      R"({"v":1,"ok":true,"daemon":{"pid":7,"version":"0.1.0","config":"/etc/t.toml","config_digest":"00ff"},)"
      R"("bridges":[],"jails":[{"name":"web","running":true,"interfaces":[{"host_name":"e0a_web",)"
      R"("jail_name":"e0b_web","bridge":"br0","addresses":["198.18.160.2/24"]}]}]})");
  ASSERT_TRUE(snap) << snap.error().message();
  DaemonStatus st = daemonStatusFrom(*snap);
  EXPECT_EQ(st.config_digest, "00ff");
  ASSERT_EQ(st.jails.size(), 1u);
  EXPECT_EQ(st.jails[0].interfaces[0].jail_name, "e0b_web");
  EXPECT_FALSE(decodeStatusReply(
      R"({"v":1,"ok":true,"daemon":{},"bridges":[],"jails":[{"name":"w","interfaces":[{"host_name":"e0a_w",)"
      R"("jail_name":"x; reboot"}]}]})"));
}

}  // namespace
}  // namespace vnetd::cli::doctor
