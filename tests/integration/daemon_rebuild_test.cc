// Issue 15 item 6 through the daemon: jails run, the state file is corrupted, the daemon
// starts (or reconciles). Its reconcile pass moves the bad file aside, then rebuilds the
// running jails' records from the kernel (state_rebuild.h): status shows them again, a
// new jail's "auto" address is not one of theirs, and poststop through the daemon still
// cleans them up. The standalone-hook version is hook_test.cc AutoAddressesAfterTheStateIsLost.
#include <set>

#include "core/ip.h"
#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using testing::TestNet;

TEST_F(DaemonFixture, AfterTheStateIsLostRunningJailsAreRebuiltAndAutoSkipsTheirAddresses) {
  std::string br = net_.bridgeName("rb");
  writeConfig(bridgeWithDefaults(br, "198.18.89.1/24"), /*grace=*/60, /*interval=*/1);
  std::string a = net_.jailName("ra"), b = net_.jailName("rb"), c = net_.jailName("rc");
  startJail(a);  // standalone: no daemon yet
  startJail(b);
  State before = loadState();
  ASSERT_EQ(before.jails.size(), 2u);

  dir_.write("state/state.json", "{\"version\": 1, \"jails\": [");  // torn
  startDaemon();
  ASSERT_TRUE(daemon_->waitForLog("moved aside", 10000)) << daemon_->log();
  ASSERT_TRUE(daemon_->waitForLog("rebuilt it from the kernel", 15000)) << daemon_->log();
  ASSERT_TRUE(daemon_->waitForLog("adopted jail", 15000)) << daemon_->log();

  Json st = status();
  std::set<std::string> shown;
  for (const auto& j : st["jails"]) shown.insert(j["name"].get<std::string>());
  EXPECT_EQ(shown, (std::set<std::string>{a, b}));
  State after = loadState();
  for (const auto& j : {a, b}) {
    ASSERT_TRUE(after.jails.count(j)) << j;
    JailRecord rebuilt = after.jails.at(j), was = before.jails.at(j);
    // Which rctl limits the start applied is not in the kernel's interfaces: "not recorded"
    // (poststop then removes the configuration's), where the lost record said "none".
    EXPECT_EQ(rebuilt.limits, std::nullopt) << j;
    rebuilt.limits = was.limits;
    rebuilt.updated_at = was.updated_at = 0;
    EXPECT_EQ(rebuilt, was) << j;
  }

  startJail(c);  // through the daemon now
  State now = loadState();
  ASSERT_TRUE(now.jails.count(c));
  std::set<std::string> taken;
  for (const auto& j : {a, b}) taken.insert(now.jails.at(j).interfaces.at(0).addresses.at(0));
  const std::string got = now.jails.at(c).interfaces.at(0).addresses.at(0);
  EXPECT_FALSE(taken.count(got)) << got << " is a running jail's address";
  EXPECT_TRUE(TestNet::ping(c, Cidr::parse(before.jails.at(a).interfaces.at(0).addresses.at(0))->address.toString()));

  for (const auto& j : {a, b, c}) {
    net_.deleteNamespace(j);
    auto r = hook("poststop", j);
    EXPECT_EQ(r.status, 0) << r.err;
  }
  EXPECT_EQ(status()["jails"].size(), 0u);
}

}  // namespace
}  // namespace vnetd
