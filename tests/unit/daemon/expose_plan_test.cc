// The reconciler's plan for port forwards (daemon/reconciler.h wantedExposes, planExpose).
#include <gtest/gtest.h>

#include "core/config.h"
#include "daemon/reconciler.h"

namespace vnetd::daemon {
namespace {

Config config() {
  auto r = parseConfig(R"([bridge.lan]
address = "198.18.170.1/24"
[[jail.web.interface]]
bridge = "lan"
address = "auto"
expose = ["tcp/8080:80"]
[[jail.db.interface]]
bridge = "lan"
address = "auto"
)",
                       "t.toml");
  EXPECT_TRUE(r.ok());
  return *r.config;
}

JailRecord record(const std::string& name, const std::string& phase, const std::string& address) {
  JailRecord r;
  r.name = name;
  r.phase = phase;
  InterfaceRecord ir;
  ir.addresses = {address};
  r.interfaces.push_back(ir);
  return r;
}

TEST(ExposePlanTest, WantedAreRunningCreatedJailsWithForwards) {
  Config c = config();
  State s;
  s.jails["web"] = record("web", "created", "198.18.170.2/24");
  s.jails["db"] = record("db", "created", "198.18.170.3/24");
  auto wanted = wantedExposes(c, s, {"web", "db"});
  ASSERT_EQ(wanted.size(), 1u);
  ASSERT_EQ(wanted.at("web").size(), 1u);
  EXPECT_EQ(wanted.at("web")[0].jail_v4, IpAddress::parse("198.18.170.2"));
  EXPECT_TRUE(wantedExposes(c, s, {"db"}).empty()) << "web is not running";
  s.jails["web"].phase = "prestart";
  EXPECT_TRUE(wantedExposes(c, s, {"web"}).empty()) << "not created yet";
}

TEST(ExposePlanTest, EnsureMissingOrStaleRemoveUnwanted) {
  Config c = config();
  State s;
  s.jails["web"] = record("web", "created", "198.18.170.2/24");
  auto wanted = wantedExposes(c, s, {"web"});
  std::map<std::string, platform::ExposeLoaded> loaded;
  loaded["web"].active["tcp/8080:80"] = true;
  std::set<std::string> jails{"web"};
  std::set<std::string> known{"web", "gone"};
  EXPECT_TRUE(planExpose(wanted, loaded, &jails, known).empty());
  loaded["web"].active["tcp/8080:80"] = false;
  EXPECT_EQ(planExpose(wanted, loaded, &jails, known),
            (std::vector<ExposeAction>{{ExposeAction::Kind::Ensure, "web", "forwards of jail web not loaded: tcp/8080:80"}}));
  loaded["web"].active["tcp/8080:80"] = true;
  loaded["web"].unexpected = true;
  ASSERT_EQ(planExpose(wanted, loaded, &jails, known).size(), 1u);
  EXPECT_EQ(planExpose(wanted, loaded, &jails, known)[0].kind, ExposeAction::Kind::Ensure);
  // Rules of a jail that is not wanted go; not read: nothing judged.
  loaded.clear();
  jails = {"gone"};
  EXPECT_EQ(planExpose(wanted, loaded, &jails, known),
            (std::vector<ExposeAction>{{ExposeAction::Kind::Remove, "gone",
                                        "forward rules of jail gone, which is not running with forwards configured"}}));
  EXPECT_TRUE(planExpose(wanted, loaded, nullptr, known).empty());
  // A jail this daemon has neither configured nor recorded is another vnetd's: kept.
  jails = {"gone", "elsewhere"};
  EXPECT_EQ(planExpose(wanted, loaded, &jails, known),
            (std::vector<ExposeAction>{{ExposeAction::Kind::Remove, "gone",
                                        "forward rules of jail gone, which is not running with forwards configured"}}));
}

}  // namespace
}  // namespace vnetd::daemon
