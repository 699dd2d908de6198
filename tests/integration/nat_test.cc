// NAT is owned by the reconciler like bridge membership (issue 15, item 2): whatever
// removed it (a flush by hand, a bridge that existed before the daemon, `nat` added by a
// reload), the daemon loads it again within its repair time, and removes it when the
// configuration no longer asks for it.
//
// Linux: vnetd's own nftables table "ip vnetd", one postrouting chain holding a rule per NAT
// bridge subnet, named by the comment "vnetd:bridge:<bridge>". The table is shared with
// tests running in parallel: these tests read it through libnftables (the product's wrapper,
// never nft(8)) and delete only their own bridge's rules, by handle (never another bridge's
// rule, another table, or the ruleset); the egress is an interface name of this run's prefix,
// so no rule can ever match the machine's real uplink.
#include <gtest/gtest.h>

#include <csignal>

#include "platform/linux/nft_nat.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::TestNet;

class NatTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure()) return;
    bridge_ = net_.bridgeName("nat");
    egress_ = net_.bridgeName("eg");  // never created: only a name in the rule
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    // The daemon keeps NAT when it stops (jails keep working); this test's rules go.
    if (!bridge_.empty()) {
      auto removed = platform::lnx::removeNftNat(bridge_);
      EXPECT_TRUE(removed) << removed.error().message();
      EXPECT_FALSE(loadedNat()) << "no rule of this test's bridge is left behind";
    }
  }

  // Each test has its own subnet (198.18.232-236.0/24, used by no other test): CTest runs
  // tests in parallel, and two bridges with one address make every ping a coin toss.
  std::string subnet_ = "198.18.232";

  std::string bridgeConfig(bool nat) {
    return "[bridge.out]\ninterface = \"" + bridge_ + "\"\naddress = \"" + subnet_ + ".1/24\"\n" +
           (nat ? "nat = \"" + egress_ + "\"\n" : std::string());
  }

  // What vnetd's table holds for this test's bridge, as the product reads it back.
  std::optional<platform::BridgeNat> loadedNat() {
    auto listing = platform::lnx::listNftNat();
    EXPECT_TRUE(listing) << listing.error().message();
    if (!listing || !listing->bridges.count(bridge_)) return std::nullopt;
    const auto& rules = listing->bridges.at(bridge_);
    // Exactly one rule per subnet of this bridge, in vnetd's chain (no leftover, no old chain).
    EXPECT_EQ(rules.handles.size(), rules.nat.subnets.size());
    EXPECT_FALSE(rules.legacy_chain);
    return rules.nat;
  }
  platform::BridgeNat wanted() const { return {egress_, {*Cidr::parse(subnet_ + ".0/24")}, true}; }

  // "Someone" deletes this bridge's rules (only them: the table is shared).
  void deleteOwnRules() {
    auto removed = platform::lnx::removeNftNat(bridge_);
    ASSERT_TRUE(removed) << removed.error().message();
    ASSERT_FALSE(loadedNat()) << "the rules are gone";
  }

  std::string bridge_, egress_;
};

TEST_F(NatTest, NatDeletedByHandIsBackWithinTheRepairTime) {
  writeConfig(bridgeConfig(true), 60, /*interval=*/1);
  startDaemon();
  auto nat = loadedNat();
  ASSERT_TRUE(nat) << "the bridge vnetd created at start carries its NAT\n" << daemon_->log();
  EXPECT_EQ(*nat, wanted());

  size_t mark = daemon_->logSize();
  deleteOwnRules();
  // Nothing announces a deletion: the periodic pass (1 s here) finds it.
  ASSERT_TRUE(daemon_->waitForLog("NAT of bridge " + bridge_ + " (out of " + egress_ + ") is not loaded; loaded it",
                                  10000, mark))
      << daemon_->log();
  nat = loadedNat();
  ASSERT_TRUE(nat);
  EXPECT_EQ(*nat, wanted());
  EXPECT_GE(status()["counters"].value("ensure_nat", 0), 1);
}

TEST_F(NatTest, AnExistingBridgeWithoutNatGetsItWhenTheDaemonStarts) {
  subnet_ = "198.18.233";
  // The bridge is there before the daemon (made by hand, or by an earlier vnetd whose NAT
  // was flushed since): nothing creates it, so only the reconciler can load its NAT.
  ASSERT_EQ(testing::run({"ip", "link", "add", bridge_, "type", "bridge"}).status, 0);
  ASSERT_EQ(testing::run({"ip", "addr", "add", subnet_ + ".1/24", "dev", bridge_}).status, 0);
  ASSERT_EQ(testing::run({"ip", "link", "set", bridge_, "up"}).status, 0);
  ASSERT_FALSE(loadedNat());
  writeConfig(bridgeConfig(true));
  startDaemon();
  // The first pass runs before the daemon reports ready.
  auto nat = loadedNat();
  ASSERT_TRUE(nat) << daemon_->log();
  EXPECT_EQ(*nat, wanted());
  EXPECT_NE(daemon_->log().find("NAT of bridge " + bridge_), std::string::npos) << daemon_->log();
}

TEST_F(NatTest, AReloadThatAddsNatLoadsItAndOneThatDropsItRemovesIt) {
  subnet_ = "198.18.234";
  writeConfig(bridgeConfig(false));
  startDaemon();
  ASSERT_TRUE(hostLink(bridge_));
  EXPECT_FALSE(loadedNat());

  size_t mark = daemon_->logSize();
  writeConfig(bridgeConfig(true));
  ::kill(daemon_->pid(), SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("NAT of bridge " + bridge_ + " (out of " + egress_ + ") is not loaded; loaded it",
                                  10000, mark))
      << daemon_->log();
  auto nat = loadedNat();
  ASSERT_TRUE(nat);
  EXPECT_EQ(*nat, wanted());

  mark = daemon_->logSize();
  writeConfig(bridgeConfig(false));
  ::kill(daemon_->pid(), SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("removed: bridge " + bridge_ + " has NAT loaded but no bridge in the configuration",
                                  10000, mark))
      << daemon_->log();
  EXPECT_FALSE(loadedNat());
  EXPECT_TRUE(hostLink(bridge_)) << "only the NAT goes, not the bridge";
}

// Traffic: a jail reaches an "outside" namespace of this test only through the NAT (the
// outside has no route back to the jails' subnet). Forwarding is switched on for this
// test's bridge and egress only (per-interface net.ipv4.conf.<if>.forwarding; the host's
// ip_forward is left as it is).
TEST_F(NatTest, JailsReachTheOutsideThroughTheNatTheDaemonKeepsLoaded) {
  subnet_ = "198.18.235";
  const std::string outside = net_.jailName("out"), jail = net_.jailName("j");
  const std::string peer = net_.bridgeName("ep");
  auto ok = [](const std::vector<std::string>& argv) {
    auto r = testing::run(argv);
    EXPECT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err;
    return r.status == 0;
  };
  net_.addNamespace(outside);
  ASSERT_TRUE(ok({"ip", "link", "add", egress_, "type", "veth", "peer", "name", peer}));
  ASSERT_TRUE(ok({"ip", "link", "set", peer, "netns", outside}));
  ASSERT_TRUE(ok({"ip", "addr", "add", "198.18.236.1/24", "dev", egress_}));
  ASSERT_TRUE(ok({"ip", "link", "set", egress_, "up"}));
  ASSERT_TRUE(ok({"ip", "-n", outside, "addr", "add", "198.18.236.2/24", "dev", peer}));
  ASSERT_TRUE(ok({"ip", "-n", outside, "link", "set", peer, "up"}));

  const std::string jails = "[jail_defaults]\n[[jail_defaults.interface]]\nbridge = \"out\"\naddress = \"auto\"\n";
  writeConfig(bridgeConfig(false) + jails, 60, /*interval=*/1);
  startDaemon();
  ASSERT_TRUE(ok({"sysctl", "-qw", "net.ipv4.conf." + bridge_ + ".forwarding=1"}));
  ASSERT_TRUE(ok({"sysctl", "-qw", "net.ipv4.conf." + egress_ + ".forwarding=1"}));
  startJail(jail);
  ASSERT_TRUE(TestNet::ping(jail, subnet_ + ".1")) << "the jail reaches its gateway";
  EXPECT_FALSE(TestNet::ping(jail, "198.18.236.2")) << "without NAT the outside cannot answer";

  size_t mark = daemon_->logSize();
  writeConfig(bridgeConfig(true) + jails, 60, 1);
  ::kill(daemon_->pid(), SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("(out of " + egress_ + ") is not loaded; loaded it", 10000, mark)) << daemon_->log();
  EXPECT_TRUE(TestNet::pingWithin(jail, "198.18.236.2", 10)) << "NAT added by a reload carries the jail's traffic";

  mark = daemon_->logSize();
  deleteOwnRules();
  ASSERT_TRUE(daemon_->waitForLog("(out of " + egress_ + ") is not loaded; loaded it", 10000, mark)) << daemon_->log();
  EXPECT_TRUE(TestNet::pingWithin(jail, "198.18.236.2", 10)) << "and again once repaired after a deletion";
  // jail(8) removes the jail before exec.poststop (jail.c stopcommands); poststop refuses
  // while the jail still runs.
  net_.deleteNamespace(jail);
  auto stop = hook("poststop", jail);
  EXPECT_EQ(stop.status, 0) << stop.err;
}

}  // namespace
}  // namespace vnetd
