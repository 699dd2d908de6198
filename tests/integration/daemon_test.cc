// The daemon end-to-end on real namespaces: hooks through it, standalone fallback and
// adoption, orphans, repair, reload, and its process life (pid file, detaching, stop).
// Checks of kernel state go through the product's backend; ping proves the data path.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/control_client.h"
#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using testing::TestNet;

std::string hostSide(const std::string& jail) { return interfaceName(jail, 0, Side::A); }

TEST_F(DaemonFixture, HooksGoThroughTheDaemonAndStatusShowsThem) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.110.1/24"));
  startDaemon();
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    for (const char* phase : {"prestart", "created"}) {
      auto r = hook(phase, j);
      ASSERT_EQ(r.status, 0) << phase << " " << j << ": " << r.err;
      EXPECT_EQ(r.err, "") << "no fallback warning: the daemon did the work";
    }
  }
  EXPECT_TRUE(TestNet::ping(a, "198.18.110.1"));
  EXPECT_TRUE(TestNet::ping(a, "198.18.110.3"));
  EXPECT_TRUE(TestNet::ping(b, "198.18.110.2"));

  Json st = status();
  EXPECT_EQ(st["counters"].value("requests_hook", 0), 4);
  ASSERT_EQ(st["jails"].size(), 2u);
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  for (const auto& [j, addr] : {std::pair{a, "198.18.110.2/24"}, std::pair{b, "198.18.110.3/24"}}) {
    const Json* js = findJail(st, j);
    ASSERT_TRUE(js) << j;
    EXPECT_EQ((*js)["phase"], "created");
    EXPECT_EQ((*js)["running"], true);
    ASSERT_EQ((*js)["interfaces"].size(), 1u);
    const Json& i = (*js)["interfaces"][0];
    EXPECT_EQ(i["host_name"], hostSide(j));
    EXPECT_EQ(i["jail_name"], interfaceName(j, 0, Side::B));
    EXPECT_EQ(i["host_mac"], deriveMac(hostId(), j, 0, Side::A).toString());
    EXPECT_EQ(i["bridge"], br);
    EXPECT_EQ(i["host"]["in_bridge"], true);
    EXPECT_EQ(i["host"]["up"], true);
    EXPECT_EQ(i["jail"]["present"], true);
    std::set<std::string> inside(i["jail"]["addresses"].begin(), i["jail"]["addresses"].end());
    EXPECT_TRUE(inside.count(addr)) << i.dump();
    EXPECT_GT(i["counters"]["rx_packets"].get<uint64_t>(), 0u) << "the pings went through this pair";
  }
  // One jail only.
  Json one = call(R"({"v":1,"op":"status","jail":")" + a + R"("})");
  ASSERT_EQ(one["jails"].size(), 1u);
  EXPECT_EQ(one["jails"][0]["name"], a);
  EXPECT_NE(daemon_->request(R"({"v":1,"op":"status","jail":"nosuchjail"})").find("no jail 'nosuchjail'"),
            std::string::npos);

  // Stopping the daemon leaves jail networking alone.
  EXPECT_EQ(daemon_->stop(SIGTERM), 0);
  EXPECT_TRUE(hostLink(hostSide(a)));
  EXPECT_TRUE(TestNet::ping(a, "198.18.110.3"));
  EXPECT_FALSE(::access(socketPath().c_str(), F_OK) == 0) << "the socket is removed on a clean stop";

  // With the daemon gone, poststop falls back to standalone (one warning line) and works.
  for (const auto& j : {a, b}) {
    net_.deleteNamespace(j);
    auto r = hook("poststop", j);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.rfind("vnetd-hook: warning: vnetd is not reachable", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(loadState().jails.empty());
}

// Issue 15, item 1, as it happened: the daemon cannot answer for longer than the hook's
// timeout (here: stopped with SIGSTOP), `poststop web` gives up, `web` starts again, and
// then the daemon gets to the poststop. Before: the hook did the poststop itself, and the
// daemon ran the stale one later, destroying web's new pair (its MACs are the recorded
// ones). Now: the hook does not redo work it sent, the daemon skips work whose client
// gave up, and a poststop while the jail runs is refused.
TEST_F(DaemonFixture, AHookThatGaveUpIsNeitherRedoneByTheHookNorRunLaterByTheDaemon) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.197.1/24"));
  std::string web = net_.jailName("web");
  startDaemon();
  startJail(web);
  ASSERT_TRUE(TestNet::ping(web, "198.18.197.1"));

  // jail(8) stops web: prestop, the jail is removed, poststop — with the daemon stopped.
  ASSERT_EQ(hook("prestop", web).status, 0);
  net_.deleteNamespace(web);
  ASSERT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
  auto r = testing::run({VNETD_HOOK_BINARY, "--config", configPath(), "--timeout", "1", "poststop", web});
  EXPECT_EQ(r.status, 0) << r.err;  // poststop gives up with a warning (the jail is removed already)
  EXPECT_EQ(r.err.rfind("vnetd-hook: warning: poststop " + web + ": vnetd did not answer within 1 s; it has the "
                        "request, so the interfaces are not destroyed here too", 0),
            0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(hostLink(hostSide(web))) << "the hook did the poststop itself although vnetd has it";

  // web starts again meanwhile (the daemon still does not answer: standalone).
  net_.addNamespace(web);
  for (const char* phase : {"prestart", "created"}) {
    auto s = testing::run({VNETD_HOOK_BINARY, "--config", configPath(), "--standalone", phase, web});
    ASSERT_EQ(s.status, 0) << phase << ": " << s.err;
  }
  auto pair = hostLink(hostSide(web));
  ASSERT_TRUE(pair);

  // The daemon reads the stale poststop now; its client is gone: skipped, not run.
  const size_t mark = daemon_->logSize();
  ASSERT_EQ(::kill(daemon_->pid(), SIGCONT), 0);
  EXPECT_TRUE(daemon_->waitForLog("skipped poststop " + web + ": the client (pid ", 10000, mark)) << daemon_->log();
  EXPECT_TRUE(daemon_->waitForLog("gave up waiting", 1000, mark));
  Json st = status();
  EXPECT_EQ(st["counters"].value("hook_skipped", 0), 1);
  auto now = hostLink(hostSide(web));
  ASSERT_TRUE(now) << "the stale poststop destroyed the restarted jail's pair";
  EXPECT_EQ(now->index, pair->index);
  EXPECT_TRUE(TestNet::ping(web, "198.18.197.1"));

  // A poststop while web runs (a late one from elsewhere) is refused and changes nothing.
  auto late = hook("poststop", web);
  EXPECT_EQ(late.status, 1);
  EXPECT_NE(late.err.find("jail " + web + " is running"), std::string::npos) << late.err;
  EXPECT_NE(late.err.find("nothing changed"), std::string::npos) << late.err;
  EXPECT_TRUE(hostLink(hostSide(web)));
  EXPECT_TRUE(TestNet::ping(web, "198.18.197.1"));

  // Stopped properly, it goes.
  ASSERT_EQ(hook("prestop", web).status, 0);
  net_.deleteNamespace(web);
  auto stop = hook("poststop", web);
  EXPECT_EQ(stop.status, 0) << stop.err;
  EXPECT_FALSE(hostLink(hostSide(web)));
}

TEST_F(DaemonFixture, StandaloneHooksAreAdoptedWithoutRecreatingAnything) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.111.1/24"));
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  std::map<std::string, uint32_t> ifindex;
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    for (const char* phase : {"prestart", "created"}) {
      auto r = hook(phase, j);
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_NE(r.err.find("vnetd-hook: warning: vnetd is not reachable"), std::string::npos) << r.err;
    }
    if (auto l = hostLink(hostSide(j))) ifindex[j] = l->index;
  }
  startDaemon();
  Json st = status();
  EXPECT_EQ(st["counters"].value("adopt", 0), 2);
  for (const auto& j : {a, b}) {
    const Json* js = findJail(st, j);
    ASSERT_TRUE(js) << j;
    EXPECT_EQ((*js)["interfaces"][0]["host"]["in_bridge"], true);
    auto l = hostLink(hostSide(j));
    ASSERT_TRUE(l);
    EXPECT_EQ(l->index, ifindex[j]) << "adopted as it was, not recreated";
  }
  EXPECT_TRUE(daemon_->waitForLog("adopted jail " + a, 1000));
  EXPECT_TRUE(TestNet::ping(a, "198.18.111.3"));
  // And the daemon now owns them: poststop goes through it.
  for (const auto& j : {a, b}) {
    net_.deleteNamespace(j);
    auto r = hook("poststop", j);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
  }
  EXPECT_EQ(status()["jails"].size(), 0u);
}

TEST_F(DaemonFixture, OrphansAreCollectedAfterTheGracePeriodAndForeignLinksLeftAlone) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.112.1/24"), /*grace=*/2, /*interval=*/1);
  startDaemon();
  std::string gone = net_.jailName("gone"), never = net_.jailName("never");
  net_.addNamespace(gone);
  for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, gone).status, 0);
  ASSERT_EQ(hook("prestart", never).status, 0);  // its jail never starts
  // An interface the test made itself, even one claiming to be vnetd's, is never touched.
  std::string fx = testing::runPrefix() + "fx", fy = testing::runPrefix() + "fy";
  ASSERT_EQ(testing::run({"ip", "link", "add", fx, "type", "veth", "peer", "name", fy}).status, 0);
  ASSERT_EQ(testing::run({"ip", "link", "set", fx, "alias", "vnetd:" + never + ":3"}).status, 0);
  ASSERT_TRUE(hostLink(interfaceName(never, 0, Side::B))) << "prestart without a jail leaves the jail side on the host";

  auto deleted_at = std::chrono::steady_clock::now();
  net_.deleteNamespace(gone);  // the jail vanished without poststop
  ASSERT_TRUE(daemon_->waitForLog("orphan: jail " + gone, 15000)) << daemon_->log();
  ASSERT_TRUE(daemon_->waitForLog("orphan: jail " + never, 15000)) << daemon_->log();
  ASSERT_TRUE(daemon_->waitForLog("collected it", 1000)) << daemon_->log();
  auto waited = std::chrono::steady_clock::now() - deleted_at;
  EXPECT_GE(waited, std::chrono::seconds(2)) << "collected before the grace period";

  Json st = status();
  EXPECT_EQ(st["jails"].size(), 0u);
  EXPECT_EQ(st["counters"].value("collect_orphan", 0), 2);
  EXPECT_FALSE(hostLink(hostSide(gone)));
  EXPECT_FALSE(hostLink(hostSide(never)));
  EXPECT_FALSE(hostLink(interfaceName(never, 0, Side::B)));
  EXPECT_TRUE(hostLink(fx)) << "an interface vnetd did not create must never be touched";
  EXPECT_TRUE(hostLink(fy));
  EXPECT_TRUE(daemon_->waitForLog(fx + " is described", 3000)) << "foreign interfaces are reported";
  EXPECT_TRUE(loadState().jails.empty());
}

// A running jail whose pair is deleted by hand (`ip link del` of the host side: a veth
// goes with its peer) gets it made anew from its record: same names, MACs and addresses,
// inside the jail and configured, and the record untouched. Found by bench/soak.
TEST_F(DaemonFixture, ARunningJailWhosePairWasDeletedGetsItBack) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.117.1/24"));
  startDaemon();
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j).status, 0) << phase << " " << j;
  }
  const State before = loadState();
  ASSERT_TRUE(before.jails.count(a));
  const JailRecord& rec = before.jails.at(a);
  ASSERT_EQ(rec.interfaces.size(), 1u);
  const InterfaceRecord& ir = rec.interfaces.front();
  ASSERT_EQ(ir.addresses.size(), 1u);
  std::string neighbour = before.jails.at(b).interfaces.front().addresses.front();
  neighbour = neighbour.substr(0, neighbour.find('/'));
  ASSERT_TRUE(TestNet::ping(a, "198.18.117.1"));
  ASSERT_TRUE(TestNet::ping(a, neighbour));

  auto old_side = hostLink(hostSide(a));
  ASSERT_TRUE(old_side);
  size_t mark = daemon_->logSize();
  ASSERT_EQ(testing::run({"ip", "link", "del", hostSide(a)}).status, 0);
  ASSERT_TRUE(daemon_->waitForLog("repaired: jail " + a + " lost its interface " + hostSide(a) + "; made it anew",
                                  5000, mark))
      << daemon_->log();
  EXPECT_TRUE(TestNet::ping(a, "198.18.117.1"));
  EXPECT_TRUE(TestNet::ping(a, neighbour));

  // The same identity, on the host and inside the jail; the record as it was.
  auto host_side = hostLink(hostSide(a));
  auto bridge = hostLink(br);
  ASSERT_TRUE(host_side && bridge);
  EXPECT_NE(host_side->index, old_side->index) << "made anew, not the deleted one";
  EXPECT_EQ(host_side->mac.toString(), ir.host_mac);
  EXPECT_EQ(host_side->master_index, bridge->index);
  EXPECT_EQ(host_side->description, "vnetd:" + a + ":0");
  auto info = jails_->find(a);
  ASSERT_TRUE(info && *info);
  auto stack = jails_->openStack(**info);
  ASSERT_TRUE(stack);
  auto inside = (*stack)->links();
  ASSERT_TRUE(inside);
  auto addrs = (*stack)->addresses();
  ASSERT_TRUE(addrs);
  const platform::LinkInfo* jail_side = nullptr;
  for (const auto& l : *inside)
    if (l.name == ir.jail_name) jail_side = &l;
  ASSERT_NE(jail_side, nullptr) << ir.jail_name << " inside " << a;
  EXPECT_EQ(jail_side->mac.toString(), ir.jail_mac);
  bool addressed = false;
  for (const auto& ad : *addrs) addressed |= ad.link_index == jail_side->index && ad.cidr.toString() == ir.addresses[0];
  EXPECT_TRUE(addressed) << ir.addresses[0] << " on " << ir.jail_name;
  const State after = loadState();
  ASSERT_TRUE(after.jails.count(a));
  EXPECT_EQ(after.jails.at(a), rec);
  EXPECT_EQ(after.jails.at(b), before.jails.at(b));
  EXPECT_EQ(status()["counters"].value("repair_jail_pairs", 0), 1);

  // The made-anew pair is the jail's like the first: its stop takes it away.
  ASSERT_EQ(hook("prestop", a).status, 0);
  ASSERT_EQ(testing::run({"ip", "netns", "del", a}).status, 0);
  ASSERT_EQ(hook("poststop", a).status, 0);
  EXPECT_FALSE(hostLink(hostSide(a)));
  EXPECT_FALSE(loadState().jails.count(a));
}

TEST_F(DaemonFixture, RepairsBridgeMembershipAndARemovedBridge) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.113.1/24"));
  startDaemon();
  std::string a = net_.jailName("a");
  net_.addNamespace(a);
  for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, a).status, 0);
  ASSERT_TRUE(TestNet::ping(a, "198.18.113.1"));

  // A member taken out of its bridge by hand comes back.
  size_t mark = daemon_->logSize();
  ASSERT_EQ(testing::run({"ip", "link", "set", hostSide(a), "nomaster"}).status, 0);
  ASSERT_TRUE(daemon_->waitForLog("is not a member of bridge " + br + "; added it back", 5000, mark))
      << daemon_->log();
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  auto member = hostLink(hostSide(a));
  ASSERT_TRUE(member);
  EXPECT_EQ(member->master_index, bridge->index);
  EXPECT_TRUE(TestNet::ping(a, "198.18.113.1"));

  // A bridge deleted by hand is recreated with its address and members.
  mark = daemon_->logSize();
  ASSERT_EQ(testing::run({"ip", "link", "del", br}).status, 0);
  ASSERT_TRUE(daemon_->waitForLog("bridge " + br + " is missing; fixed", 5000, mark)) << daemon_->log();
  ASSERT_TRUE(daemon_->waitForLog("is not a member of bridge " + br + "; added it back", 5000, mark))
      << daemon_->log();
  bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  EXPECT_NE(bridge->index, 0u);
  member = hostLink(hostSide(a));
  ASSERT_TRUE(member);
  EXPECT_EQ(member->master_index, bridge->index);
  auto addrs = host_->addresses(bridge->index);
  ASSERT_TRUE(addrs);
  bool has_gateway = false;
  for (const auto& ad : *addrs) has_gateway |= ad.cidr.toString() == "198.18.113.1/24";
  EXPECT_TRUE(has_gateway);
  EXPECT_TRUE(TestNet::ping(a, "198.18.113.1"));
  Json st = status();
  EXPECT_GE(st["counters"].value("readd_member", 0), 1);
  EXPECT_GE(st["counters"].value("ensure_bridge", 0), 2);  // created at start, recreated now
}

TEST_F(DaemonFixture, SighupKeepsTheOldConfigOnErrorsAndAppliesAGoodOne) {
  std::string br = net_.bridgeName("br"), br2 = net_.bridgeName("b2");
  std::string good = bridgeWithDefaults(br, "198.18.114.1/24");
  writeConfig(good);
  startDaemon();
  ASSERT_TRUE(hostLink(br)) << "configured bridges exist once the daemon runs";

  dir_.write("vnetd.toml", "[daemon\nthis is not toml\n");
  ::kill(daemon_->pid(), SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration not reloaded", 5000)) << daemon_->log();
  EXPECT_NE(daemon_->log().find("reload: " + configPath() + ":1:"), std::string::npos)
      << "the error names file:line:col\n" << daemon_->log();
  Json st = status();
  ASSERT_EQ(st["bridges"].size(), 1u);
  EXPECT_EQ(st["bridges"][0]["interface"], br);
  EXPECT_EQ(st["counters"].value("reload_errors", 0), 1);

  writeConfig(good + "\n[bridge.second]\ninterface = \"" + br2 + "\"\naddress = \"198.18.115.1/24\"\n");
  ::kill(daemon_->pid(), SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", 5000)) << daemon_->log();
  auto second = hostLink(br2);
  ASSERT_TRUE(second) << "the new bridge appears on reload";
  EXPECT_TRUE(second->admin_up);
  EXPECT_EQ(status()["bridges"].size(), 2u);

  // The same through the control socket (root only).
  dir_.write("vnetd.toml", "[daemon]\nno_such_key = 1\n");
  std::string reply = daemon_->request(R"({"v":1,"op":"reload"})");
  EXPECT_NE(reply.find("configuration not reloaded"), std::string::npos) << reply;
  EXPECT_NE(reply.find("no_such_key"), std::string::npos) << reply;
  EXPECT_EQ(status()["bridges"].size(), 2u);
}

TEST_F(DaemonFixture, ASecondInstanceIsRefusedAndDetachingWaitsUntilReady) {
  writeConfig(bridgeWithDefaults(net_.bridgeName("br"), "198.18.116.1/24"));
  startDaemon();
  auto second = testing::run({VNETD_DAEMON_BINARY, "--foreground", "--config", configPath()});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.err.find("vnetd is already running (pid " + std::to_string(daemon_->pid())), std::string::npos)
      << second.err;
  EXPECT_EQ(daemon_->request(R"({"v":1,"op":"ping"})").find(R"("ok":true)") != std::string::npos, true)
      << "the first instance is unharmed";
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);

  // Without --foreground: the command returns once the daemon serves, or with its error.
  auto started = testing::run({VNETD_DAEMON_BINARY, "--config", configPath()});
  ASSERT_EQ(started.status, 0) << started.err;
  auto ping = control::call(socketPath(), R"({"v":1,"op":"ping"})", std::chrono::seconds(5));
  ASSERT_TRUE(ping.ok()) << "ready means serving: " << ping.error.message();
  Json pong = Json::parse(ping.reply);
  pid_t pid = pong["pid"].get<pid_t>();
  std::string pidfile_text;
  {
    FILE* f = std::fopen(dir_.file("vnetd.pid").c_str(), "r");
    ASSERT_TRUE(f);
    char buf[32] = {};
    ASSERT_TRUE(std::fgets(buf, sizeof buf, f));
    std::fclose(f);
    pidfile_text = buf;
  }
  EXPECT_EQ(std::stoi(pidfile_text), pid);
  auto again = testing::run({VNETD_DAEMON_BINARY, "--config", configPath()});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("already running"), std::string::npos) << again.err;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  // Gone when its pid file is (removed on a clean stop, after the socket).
  for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) ::usleep(10000);
  EXPECT_NE(::kill(pid, 0), 0) << "vnetd did not stop on SIGTERM";
  EXPECT_NE(::access(dir_.file("vnetd.pid").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace vnetd
