// vnetd-hook end-to-end on real network namespaces (Linux "jails"), veths and bridges.
// Every check of kernel state goes through the product's own backend (NetStack), not by
// parsing ip(8) output; ping proves the data path.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "core/naming.h"
#include "core/state_store.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/linux/nft_nat.h"
#include "platform/netif.h"
#include "tests/integration/backend_fixture.h"
#include "tests/integration/metrics_support.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::CommandResult;
using testing::TempDir;
using testing::TestNet;

class HookTest : public BackendFixture {
 protected:
  void SetUp() override {
    BackendFixture::SetUp();
    if (HasFatalFailure()) return;
    auto id = platform::readHostId();
    ASSERT_TRUE(id);
    host_id_ = *id;
  }

  void writeConfig(const std::string& body) {
    dir_.write("vnetd.toml", "[daemon]\nstate_dir = \"" + dir_.file("state") + "\"\n\n" + body);
  }

  CommandResult hook(const std::string& phase, const std::string& jail) {
    return testing::run({VNETD_HOOK_BINARY, "--standalone", "--config", dir_.file("vnetd.toml"), phase, jail});
  }
  // The hook run by a "host" that is a network namespace of this test's own (its nftables
  // table ip vnetd is that namespace's: the machine's ruleset is never touched).
  CommandResult hookIn(const std::string& host_ns, const std::string& phase, const std::string& jail) {
    return testing::run({"ip", "netns", "exec", host_ns, VNETD_HOOK_BINARY, "--standalone", "--config",
                         dir_.file("vnetd.toml"), phase, jail});
  }
  // What vnetd's table in `host_ns` holds for `bridge`, read as the daemon reads it.
  static Result<std::optional<platform::BridgeNat>> natIn(const std::string& host_ns, const std::string& bridge) {
    Result<std::optional<platform::BridgeNat>> out = plainError("not read");
    testing::inNamespace(host_ns, [&] { out = platform::lnx::nftNatOf(bridge); });
    return out;
  }

  std::unique_ptr<platform::NetStack> jailStack(const std::string& jail) {
    auto info = jails_->find(jail);
    if (!info || !*info) return nullptr;
    auto s = jails_->openStack(**info);
    return s ? std::move(*s) : nullptr;
  }

  std::string host_id_;
};

TEST_F(HookTest, TwoJailsOnOneBridgePingEachOtherAndTheGateway) {
  std::string br = net_.bridgeName("br0");
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.10.1/24\"\n\n" +
              "[jail." + a + "]\n[[jail." + a + ".interface]]\nbridge = \"lan\"\naddress = \"198.18.10.11/24\"\n\n" +
              "[jail." + b + "]\n[[jail." + b + ".interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
  // jail(8) order: prestart, jail created, created.
  for (const auto& j : {a, b}) {
    auto r = hook("prestart", j);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, interfaceName(j, 0, Side::B) + "\n");
    net_.addNamespace(j);
    r = hook("created", j);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  // Names, MACs, description, bridge membership, as generated.
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->kind, platform::LinkKind::Bridge);
  EXPECT_TRUE(bridge->admin_up);
  // A fixed MAC: a Linux bridge would otherwise take its lowest member's and change it
  // as jails come and go, leaving the other jails with a stale ARP entry for the gateway.
  EXPECT_EQ(bridge->mac, bridgeMac(host_id_, br));
  for (const auto& j : {a, b}) {
    auto hs = hostLink(interfaceName(j, 0, Side::A));
    ASSERT_TRUE(hs) << j;
    EXPECT_EQ(hs->mac, deriveMac(host_id_, j, 0, Side::A));
    EXPECT_EQ(hs->master_index, bridge->index);
    EXPECT_EQ(hs->description, "vnetd:" + j + ":0");
    EXPECT_TRUE(hs->admin_up);
    EXPECT_FALSE(hostLink(interfaceName(j, 0, Side::B))) << "jail side must not stay on the host";

    auto js = jailStack(j);
    ASSERT_TRUE(js);
    auto inside = js->link(interfaceName(j, 0, Side::B));
    ASSERT_TRUE(inside && *inside);
    EXPECT_EQ((*inside)->mac, deriveMac(host_id_, j, 0, Side::B));
    EXPECT_TRUE((*inside)->admin_up);
    auto routes = js->defaultRoutes();
    ASSERT_TRUE(routes);
    ASSERT_EQ(routes->size(), 1u);
    EXPECT_EQ((*routes)[0].gateway->toString(), "198.18.10.1");
    auto addrs = js->addresses();
    ASSERT_TRUE(addrs);
    std::set<std::string> v4;
    for (const auto& ad : *addrs)
      if (ad.cidr.address.family == IpFamily::V4) v4.insert(ad.cidr.toString());
    EXPECT_TRUE(v4.count("127.0.0.1/8")) << "loopback must be up";
    EXPECT_TRUE(v4.count(j == a ? "198.18.10.11/24" : "198.18.10.2/24")) << j;  // auto: lowest free
  }
  EXPECT_TRUE(TestNet::ping(a, "198.18.10.2"));
  EXPECT_TRUE(TestNet::ping(b, "198.18.10.11"));
  EXPECT_TRUE(TestNet::ping(a, "198.18.10.1"));
  EXPECT_TRUE(TestNet::ping(b, "198.18.10.1"));

  for (const auto& j : {a, b}) {
    net_.deleteNamespace(j);
    auto r = hook("poststop", j);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(hostLink(interfaceName(j, 0, Side::A)));
  }
  EXPECT_TRUE(loadState().jails.empty());
}

TEST_F(HookTest, AHookThatFallsBackAndThenFailsPrintsOneLine) {
  // No daemon listens: the hook does the work itself. When that work fails, the warning
  // about the daemon is part of the one error line (found by bench/soak: two lines).
  dir_.write("vnetd.toml", "[daemon]\nstate_dir = \"" + dir_.file("state") + "\"\ncontrol_socket = \"" +
                               dir_.file("absent.sock") + "\"\n");
  auto r = testing::run({VNETD_HOOK_BINARY, "--config", dir_.file("vnetd.toml"), "created", net_.jailName("fb")});
  EXPECT_EQ(r.status, 1);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("is not configured"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(done without the daemon: vnetd is not reachable"), std::string::npos) << r.err;
}

TEST_F(HookTest, TwoInterfacesOnTwoBridgesAndJumboMtu) {
  std::string br0 = net_.bridgeName("b0"), br1 = net_.bridgeName("b1");
  std::string j = net_.jailName("multi");
  writeConfig("[bridge.front]\ninterface = \"" + br0 + "\"\naddress = \"198.18.20.1/24\"\n\n" +
              "[bridge.back]\ninterface = \"" + br1 + "\"\naddress = \"198.18.21.1/24\"\nmtu = 9000\n\n" +
              "[jail." + j + "]\n[[jail." + j + ".interface]]\nbridge = \"front\"\naddress = \"198.18.20.10/24\"\n" +
              "[[jail." + j + ".interface]]\nbridge = \"back\"\naddress = \"198.18.21.10/24\"\nname = \"eth1\"\n");
  net_.addNamespace(j);  // the namespace may exist before prestart: the peer is created inside it
  auto r = hook("prestart", j);
  ASSERT_EQ(r.status, 0) << r.err;
  // The names the jail will see: the generated one, and the configured `name` (issue 20:
  // prestart printed the generated e1b_... although the jail gets eth1).
  const std::string names = interfaceName(j, 0, Side::B) + "\neth1\n";
  EXPECT_EQ(r.out, names);
  r = hook("created", j);
  ASSERT_EQ(r.status, 0) << r.err;

  auto back = hostLink(br1);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->mtu, 9000u);
  auto h1 = hostLink(interfaceName(j, 1, Side::A));
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->mtu, 9000u);
  EXPECT_EQ(h1->master_index, back->index);
  auto h0 = hostLink(interfaceName(j, 0, Side::A));
  ASSERT_TRUE(h0);
  EXPECT_EQ(h0->mtu, 1500u);
  auto js = jailStack(j);
  ASSERT_TRUE(js);
  auto eth1 = js->link("eth1");  // configured jail-side name
  ASSERT_TRUE(eth1 && *eth1);
  EXPECT_EQ((*eth1)->mtu, 9000u);
  EXPECT_EQ((*eth1)->mac, deriveMac(host_id_, j, 1, Side::B));
  auto first = js->link(interfaceName(j, 0, Side::B));
  ASSERT_TRUE(first && *first);
  EXPECT_TRUE(TestNet::ping(j, "198.18.20.1"));
  EXPECT_TRUE(TestNet::ping(j, "198.18.21.1"));
}

TEST_F(HookTest, PrivateBridgeMembersReachTheGatewayButNotEachOther) {
  std::string br = net_.bridgeName("pv");
  std::string a = net_.jailName("pa"), b = net_.jailName("pb");
  writeConfig("[bridge.dmz]\ninterface = \"" + br + "\"\naddress = \"198.18.80.1/24\"\n" +
              "address6 = \"2001:db8:80::1/64\"\nprivate = true\n\n[jail_defaults]\n" +
              "[[jail_defaults.interface]]\nbridge = \"dmz\"\naddress = \"auto\"\n\n[jail." + a + "]\n[[jail." +
              a + ".interface]]\nbridge = \"dmz\"\naddress = \"198.18.80.21/24\"\naddress6 = \"2001:db8:80::21/64\"\n");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    ASSERT_EQ(hook("prestart", j).status, 0);
    auto r = hook("created", j);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  EXPECT_TRUE(TestNet::ping(a, "198.18.80.1"));
  EXPECT_TRUE(TestNet::ping(b, "198.18.80.1"));
  EXPECT_FALSE(TestNet::ping(a, "198.18.80.2")) << "private members must not reach each other";
  // IPv6: the static address and the default route via the bridge's address6.
  auto js = jailStack(a);
  ASSERT_TRUE(js);
  auto routes = js->defaultRoutes();
  ASSERT_TRUE(routes);
  std::set<std::string> gateways;
  for (const auto& rt : *routes) gateways.insert(rt.gateway ? rt.gateway->toString() : "-");
  EXPECT_EQ(gateways, (std::set<std::string>{"198.18.80.1", "2001:db8:80::1"}));
  EXPECT_TRUE(TestNet::ping(a, "2001:db8:80::1"));
}

TEST_F(HookTest, LinuxLoadsNatInItsOwnNftTableAndIgnoresLimits) {
  std::string br = net_.bridgeName("nat"), br2 = net_.bridgeName("lim");
  std::string egress = net_.bridgeName("eg");  // a name of this run only: never the real uplink
  std::string j = net_.jailName("n"), k = net_.jailName("l"), host = net_.jailName("h");
  writeConfig("[bridge.out]\ninterface = \"" + br + "\"\naddress = \"198.18.85.1/24\"\nnat = \"" + egress + "\"\n\n" +
              "[bridge.plain]\ninterface = \"" + br2 + "\"\naddress = \"198.18.86.1/24\"\n\n[jail." + j +
              "]\n[[jail." + j + ".interface]]\nbridge = \"out\"\naddress = \"auto\"\n\n[jail." + k + "]\n[[jail." + k +
              ".interface]]\nbridge = \"plain\"\naddress = \"auto\"\n[jail." + k + ".limits]\nmemoryuse = \"2G\"\n");
  // The NAT part runs in a namespace playing the host, with a real egress there (a veth:
  // this kernel may lack dummy); NAT waits for a missing one.
  net_.addNamespace(host);
  auto made = testing::run({"ip", "-n", host, "link", "add", egress, "type", "veth", "peer", "name", "egp"});
  ASSERT_EQ(made.status, 0) << made.err;
  auto r = hookIn(host, "prestart", j);
  EXPECT_EQ(r.status, 0) << r.err;
  // The bridge vnetd made carries its NAT: this bridge's rule in table ip vnetd (read
  // through libnftables, as the daemon reads it).
  auto nat = natIn(host, br);
  ASSERT_TRUE(nat) << nat.error().message();
  ASSERT_TRUE(*nat);
  EXPECT_EQ(**nat, (platform::BridgeNat{egress, {*Cidr::parse("198.18.85.0/24")}, true}));
  EXPECT_EQ(hookIn(host, "poststop", j).status, 0);
  r = hook("prestart", k);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "vnetd-hook: warning: jail " + k + ": [jail." + k +
                       ".limits] are applied with rctl on FreeBSD only; ignored on Linux\n");
  EXPECT_EQ(hook("poststop", k).status, 0);
}

// Issue 16: `nat` naming an interface that does not exist does not stop the jail: the
// bridge comes up without NAT, the hook says so in one line, and nothing is loaded (the
// daemon loads it when the interface appears: nat_outside_test).
TEST_F(HookTest, ANatEgressThatDoesNotExistLeavesTheBridgeWorkingWithoutNat) {
  std::string br = net_.bridgeName("nx"), egress = net_.bridgeName("nxe");  // never created
  std::string j = net_.jailName("nx"), host = net_.jailName("h");
  net_.addNamespace(host);
  writeConfig("[bridge.out]\ninterface = \"" + br + "\"\naddress = \"198.18.88.1/24\"\nnat = \"" + egress +
              "\"\n\n[jail." + j + "]\n[[jail." + j + ".interface]]\nbridge = \"out\"\naddress = \"auto\"\n");
  auto r = hookIn(host, "prestart", j);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "vnetd-hook: warning: bridge " + br + ": its NAT egress interface " + egress +
                       " does not exist; the bridge works without NAT until it appears (vnetd loads the NAT then)\n");
  auto link = testing::run({"ip", "-n", host, "-o", "link", "show", br});
  EXPECT_EQ(link.status, 0) << link.err;
  EXPECT_NE(link.out.find(",UP"), std::string::npos) << link.out;
  auto nat = natIn(host, br);
  ASSERT_TRUE(nat) << nat.error().message();
  EXPECT_FALSE(*nat) << "no rule for an interface that is not there";
  EXPECT_EQ(hookIn(host, "poststop", j).status, 0);
}

TEST_F(HookTest, TwoAutoInterfacesOfOneJailGetDistinctAddresses) {
  std::string br = net_.bridgeName("aa");
  std::string j = net_.jailName("two");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.87.1/24\"\n\n[jail." + j + "]\n[[jail." +
              j + ".interface]]\nbridge = \"lan\"\naddress = \"auto\"\n[[jail." + j +
              ".interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
  auto r = hook("prestart", j);
  ASSERT_EQ(r.status, 0) << r.err;
  State s = loadState();
  ASSERT_EQ(s.jails.at(j).interfaces.size(), 2u);
  EXPECT_EQ(s.jails.at(j).interfaces[0].addresses, std::vector<std::string>{"198.18.87.2/24"});
  EXPECT_EQ(s.jails.at(j).interfaces[1].addresses, std::vector<std::string>{"198.18.87.3/24"});
  EXPECT_EQ(s.jails.at(j).phase, "prestart");
}

// Issue 15 item 6: the state file is lost (corrupt → moved aside → empty) while jails run
// with "auto" addresses. The next start must not hand out a running jail's address, and
// the running jails get their records back (rebuilt from the kernel: descriptions, MACs,
// the addresses inside them), so their poststop still cleans up.
TEST_F(HookTest, AutoAddressesAfterTheStateIsLost) {
  std::string br = net_.bridgeName("lost");
  std::string a = net_.jailName("la"), b = net_.jailName("lb"), c = net_.jailName("lc");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.88.1/24\"\n\n[jail_defaults]\n"
              "[[jail_defaults.interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
  for (const auto& j : {a, b}) {
    auto r = hook("prestart", j);
    ASSERT_EQ(r.status, 0) << r.err;
    net_.addNamespace(j);
    r = hook("created", j);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  State before = loadState();
  ASSERT_EQ(before.jails.at(a).interfaces.at(0).addresses, std::vector<std::string>{"198.18.88.2/24"});
  ASSERT_EQ(before.jails.at(b).interfaces.at(0).addresses, std::vector<std::string>{"198.18.88.3/24"});
  // Traffic fills the host's neighbour table on the bridge: NetStack::neighbours sees both.
  ASSERT_TRUE(TestNet::ping(a, "198.18.88.1"));
  ASSERT_TRUE(TestNet::ping(b, "198.18.88.1"));
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  auto neighbours = host_->neighbours(bridge->index);
  ASSERT_TRUE(neighbours) << neighbours.error().message();
  std::set<std::string> seen;
  for (const auto& n : *neighbours) {
    EXPECT_EQ(n.link_index, bridge->index);
    seen.insert(n.address.toString());
  }
  EXPECT_TRUE(seen.count("198.18.88.2") && seen.count("198.18.88.3")) << seen.size() << " neighbours";
  // Forgotten again (they expire on their own): from here on only the rebuild protects
  // the running jails' addresses.
  ASSERT_EQ(testing::run({"ip", "neigh", "flush", "dev", br}).status, 0);

  dir_.write("state/state.json", "{\"version\": 1, \"generation\": 7, \"jails\": {");  // torn by a crash
  // The first hook that reads it moves it aside and refuses to act on it (a start fails
  // once, jail(8) says why); the next one starts from an empty state.
  auto r = hook("prestart", c);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("moved aside"), std::string::npos) << r.err;
  r = hook("prestart", c);
  ASSERT_EQ(r.status, 0) << r.err;

  State after = loadState();
  ASSERT_TRUE(after.jails.count(c));
  const std::string got = after.jails.at(c).interfaces.at(0).addresses.at(0);
  EXPECT_NE(got, "198.18.88.2/24");
  EXPECT_NE(got, "198.18.88.3/24");
  EXPECT_EQ(got, "198.18.88.4/24");
  // The running jails' records are back, as they were (updated_at aside).
  for (const auto& j : {a, b}) {
    ASSERT_TRUE(after.jails.count(j)) << j << " was not rebuilt";
    JailRecord rebuilt = after.jails.at(j), was = before.jails.at(j);
    EXPECT_EQ(rebuilt.phase, "created");
    // Which rctl limits the start applied is not in the kernel's interfaces: "not recorded"
    // (poststop then removes the configuration's), where the lost record said "none".
    EXPECT_EQ(rebuilt.limits, std::nullopt) << j;
    rebuilt.limits = was.limits;
    rebuilt.updated_at = was.updated_at = 0;
    EXPECT_EQ(rebuilt, was) << j;
  }

  net_.addNamespace(c);
  r = hook("created", c);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(TestNet::ping(c, "198.18.88.2"));
  EXPECT_TRUE(TestNet::ping(c, "198.18.88.3"));
  // The rebuilt records serve poststop like the lost ones would have.
  for (const auto& j : {a, b, c}) {
    net_.deleteNamespace(j);
    r = hook("poststop", j);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(hostLink(interfaceName(j, 0, Side::A))) << j;
  }
  EXPECT_TRUE(loadState().jails.empty());
}

TEST_F(HookTest, PhasesAreIdempotent) {
  std::string br = net_.bridgeName("bi");
  std::string j = net_.jailName("idem");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.30.1/24\"\n\n[jail." + j +
              "]\n[[jail." + j + ".interface]]\nbridge = \"lan\"\naddress = \"198.18.30.5/24\"\n");
  ASSERT_EQ(hook("prestart", j).status, 0);
  auto first = hostLink(interfaceName(j, 0, Side::A));
  ASSERT_TRUE(first);
  uint64_t gen = loadState().generation;
  auto again = hook("prestart", j);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, interfaceName(j, 0, Side::B) + "\n");
  EXPECT_EQ(hostLink(interfaceName(j, 0, Side::A))->index, first->index) << "must not be re-created";
  EXPECT_EQ(loadState().generation, gen) << "a no-op must not rewrite the state";

  net_.addNamespace(j);
  ASSERT_EQ(hook("created", j).status, 0);
  auto twice = hook("created", j);
  ASSERT_EQ(twice.status, 0) << twice.err;
  EXPECT_TRUE(TestNet::ping(j, "198.18.30.1"));
  auto js = jailStack(j);
  ASSERT_TRUE(js);
  auto routes = js->defaultRoutes();
  ASSERT_TRUE(routes);
  EXPECT_EQ(routes->size(), 1u);

  net_.deleteNamespace(j);
  EXPECT_EQ(hook("poststop", j).status, 0);
  EXPECT_EQ(hook("poststop", j).status, 0);
}

TEST_F(HookTest, FailedPrestartRollsBackEverythingItCreated) {
  std::string br0 = net_.bridgeName("rb0"), br1 = net_.bridgeName("rb1");
  std::string j = net_.jailName("rb");
  // The second bridge's name is taken by a veth the "administrator" made: creating the
  // jail's second interface fails after the first pair and the first bridge exist.
  ASSERT_EQ(testing::run({"ip", "link", "add", br1, "type", "veth", "peer", "name", br1 + "p"}).status, 0);
  writeConfig("[bridge.one]\ninterface = \"" + br0 + "\"\naddress = \"198.18.40.1/24\"\n\n" +
              "[bridge.two]\ninterface = \"" + br1 + "\"\naddress = \"198.18.41.1/24\"\n\n[jail." + j +
              "]\n[[jail." + j + ".interface]]\nbridge = \"one\"\naddress = \"auto\"\n" + "[[jail." + j +
              ".interface]]\nbridge = \"two\"\naddress = \"auto\"\n");
  auto r = hook("prestart", j);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: prestart " + j + ": interface " + br1 +
                       " exists but is not a bridge (bridge 'two' in the config)\n");
  EXPECT_FALSE(hostLink(interfaceName(j, 0, Side::A))) << "first pair must be rolled back";
  EXPECT_FALSE(hostLink(interfaceName(j, 0, Side::B)));
  EXPECT_FALSE(hostLink(br0)) << "bridge created by this invocation must be rolled back";
  EXPECT_TRUE(hostLink(br1)) << "the administrator's interface is never touched";
  EXPECT_TRUE(loadState().jails.empty());
}

TEST_F(HookTest, TwentyConcurrentPrestartsThenPoststopLeavesNothing) {
  std::string br = net_.bridgeName("cc");
  std::string cfg = "[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.50.1/24\"\n\n";
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    names.push_back(net_.jailName("c"));
    cfg += "[jail." + names.back() + "]\n[[jail." + names.back() + ".interface]]\nbridge = \"lan\"\naddress = \"auto\"\n";
  }
  writeConfig(cfg);
  std::vector<CommandResult> results(names.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i)
    threads.emplace_back([&, i] { results[i] = hook("prestart", names[i]); });
  for (auto& t : threads) t.join();
  std::set<std::string> host_sides, addresses;
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(results[i].status, 0) << names[i] << ": " << results[i].err;
    auto l = hostLink(interfaceName(names[i], 0, Side::A));
    ASSERT_TRUE(l) << names[i];
    host_sides.insert(l->name);
  }
  EXPECT_EQ(host_sides.size(), 20u);
  State s = loadState();
  ASSERT_EQ(s.jails.size(), 20u);
  for (const auto& [name, rec] : s.jails) {
    ASSERT_EQ(rec.interfaces.size(), 1u);
    addresses.insert(rec.interfaces[0].addresses.at(0));
  }
  EXPECT_EQ(addresses.size(), 20u) << "auto addresses must be distinct";

  threads.clear();
  for (size_t i = 0; i < names.size(); ++i)
    threads.emplace_back([&, i] { results[i] = hook("poststop", names[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(results[i].status, 0) << results[i].err;
  auto links = host_->links();
  ASSERT_TRUE(links);
  for (const auto& l : *links) EXPECT_EQ(l.description.rfind("vnetd:" + testing::runPrefix(), 0), std::string::npos) << l.name;
  for (const auto& n : names) EXPECT_FALSE(hostLink(interfaceName(n, 0, Side::A)));
  EXPECT_TRUE(loadState().jails.empty());
}

TEST_F(HookTest, NeverTouchesWhatVnetdDidNotCreate) {
  std::string br = net_.bridgeName("nt");
  std::string j = net_.jailName("ghost"), squatted = net_.jailName("sq");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.60.1/24\"\n\n[jail_defaults]\n"
              "[[jail_defaults.interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
  // poststop of a jail that never started: success, nothing touched.
  auto before = TestNet::ownLinks();
  auto r = hook("poststop", j);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(TestNet::ownLinks(), before);

  // An interface with vnetd's name that vnetd did not create: prestart refuses, and
  // neither prestart nor poststop destroys it.
  std::string name = interfaceName(squatted, 0, Side::A);
  ASSERT_EQ(testing::run({"ip", "link", "add", name, "type", "veth", "peer", "name", name + "x"}).status, 0);
  r = hook("prestart", squatted);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: prestart " + squatted + ": interface " + name +
                       " already exists but vnetd did not create it for jail '" + squatted +
                       "' (destroy it, or rename the jail)\n");
  EXPECT_EQ(hook("poststop", squatted).status, 0);
  EXPECT_TRUE(hostLink(name));
}

TEST_F(HookTest, BadInputIsRejectedWithOneLineAndNothingCreated) {
  std::string br = net_.bridgeName("bad");
  std::string known = net_.jailName("k");
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.70.1/24\"\n\n[jail." + known +
              "]\n[[jail." + known + ".interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
  auto before = TestNet::ownLinks();
  std::string unknown = net_.jailName("u");
  auto r = hook("prestart", unknown);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: prestart " + unknown + ": jail '" + unknown + "' is not configured in " +
                       dir_.file("vnetd.toml") + " and there is no [jail_defaults] (add a [jail." + unknown +
                       "] table)\n");
  r = hook("created", known);  // configured, but no such namespace
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: created " + known + ": jail '" + known + "' is not running\n");

  const std::pair<std::string, std::string> hostile[] = {
      {"../x", "jail name contains '/' (allowed: A-Z a-z 0-9 _ . -)"},
      {"a;rm -rf /", "jail name contains ';' (allowed: A-Z a-z 0-9 _ . -)"},
      {std::string(200, 'a'), "jail name is 200 characters long (at most 64)"},
      {"j\xc3\xa4il", "jail name contains 0xc3 (allowed: A-Z a-z 0-9 _ . -)"},
      {"", "jail name is empty"},
  };
  for (const auto& [name, msg] : hostile) {
    for (const char* phase : {"prestart", "created", "poststop"}) {
      r = hook(phase, name);
      EXPECT_EQ(r.status, 1) << name;
      EXPECT_EQ(r.err, std::string("vnetd-hook: ") + phase + ": " + msg + "\n");
    }
  }
  // Missing and broken configuration files.
  r = testing::run({VNETD_HOOK_BINARY, "--config", dir_.file("missing.toml"), "prestart", known});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(dir_.file("missing.toml") + ": cannot read"), std::string::npos) << r.err;
  dir_.write("broken.toml", "[bridge.lan\ninterface = 1\n");
  r = testing::run({VNETD_HOOK_BINARY, "--config", dir_.file("broken.toml"), "prestart", known});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("vnetd-hook: " + dir_.file("broken.toml") + ":1:", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  // Usage errors.
  EXPECT_EQ(testing::run({VNETD_HOOK_BINARY, "start", known}).status, 2);
  EXPECT_EQ(testing::run({VNETD_HOOK_BINARY}).status, 2);
  EXPECT_EQ(TestNet::ownLinks(), before) << "bad input must create nothing";
}

}  // namespace
}  // namespace vnetd
