// vnetctl doctor end-to-end on real namespaces: a healthy bridge with two jails made by
// the hooks through the daemon is all OK (exit 0); then one thing at a time is broken
// with the administrator's own commands, the exact check must turn FAIL/WARN with the
// right fix and exit code — and running that fix (where it is one plain command) must
// make it OK again. Forwarding is never touched (host-global): its verdicts are unit-tested.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

struct Doctor {
  int status = -1;
  std::string out, err;
  Json checks;  // --json: the array
  double seconds = 0;

  const Json* check(const std::string& name) const {
    for (const auto& c : checks)
      if (c["check"] == name) return &c;
    return nullptr;
  }
  std::string statusOf(const std::string& name) const {
    const Json* c = check(name);
    return c ? (*c)["status"].get<std::string>() : "absent";
  }
  std::string fixOf(const std::string& name) const {
    const Json* c = check(name);
    return c ? (*c)["fix"].get<std::string>() : "";
  }
  // The checks that are not OK, for failure messages.
  std::string problems() const {
    std::string s;
    for (const auto& c : checks)
      if (c["status"] != "ok") s += c.dump() + "\n";
    return s;
  }
};

class DoctorTest : public DaemonFixture {
 protected:
  Doctor doctor(std::vector<std::string> extra = {"--json"}) {
    std::vector<std::string> argv = {VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto t0 = std::chrono::steady_clock::now();
    auto r = testing::run(argv, 30);
    Doctor d;
    d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    d.status = r.status;
    d.out = r.out;
    d.err = r.err;
    if (std::find(extra.begin(), extra.end(), "--json") != extra.end()) {
      d.checks = Json::parse(r.out, nullptr, false);
      EXPECT_TRUE(d.checks.is_array()) << r.out << r.err;
      if (!d.checks.is_array()) d.checks = Json::array();
    }
    return d;
  }

  // Runs a fix that doctor printed, as the administrator would. Only plain commands
  // (no shell syntax) are run, split on spaces.
  void runFix(const std::string& fix) {
    ASSERT_EQ(fix.find_first_of("&|$;'\"#"), std::string::npos) << "not a plain command: " << fix;
    std::vector<std::string> argv;
    std::istringstream in(fix);
    for (std::string w; in >> w;) argv.push_back(w);
    auto r = testing::run(argv);
    ASSERT_EQ(r.status, 0) << fix << ": " << r.err;
  }

  // A bridge with two jails made by the hooks through the daemon. The jails route via
  // 198.18.<net>.254 (a router on the segment, not this host), so IPv4 forwarding is
  // not needed and the set-up is healthy whatever the host's ip_forward says.
  void setUpTwoJails(int net, int interval = 10) {
    br_ = net_.bridgeName("dr");
    prefix_ = "198.18." + std::to_string(net) + ".";
    writeConfig(body(), /*grace=*/60, interval);
    startDaemon();
    a_ = net_.jailName("a");
    b_ = net_.jailName("b");
    for (const auto& j : {a_, b_}) ASSERT_NO_FATAL_FAILURE(startJail(j));
  }
  std::string body() const {
    return "[bridge.lan]\ninterface = \"" + br_ + "\"\naddress = \"" + prefix_ +
           "1/24\"\n\n[jail_defaults]\n[[jail_defaults.interface]]\nbridge = \"lan\"\naddress = \"auto\"\n"
           "gateway = \"" + prefix_ + "254\"\n";
  }

  std::string br_, prefix_, a_, b_;
};

TEST_F(DoctorTest, HealthyThenEachBreakageIsFoundWithItsFix) {
  ASSERT_NO_FATAL_FAILURE(setUpTwoJails(160));

  // Healthy: every line OK, exit 0, in well under a second.
  Doctor d = doctor({});
  EXPECT_EQ(d.status, 0) << d.out << d.err;
  std::istringstream lines(d.out);
  std::string line, last;
  int n = 0;
  while (std::getline(lines, line)) {
    if (!last.empty()) {
      EXPECT_EQ(last.rfind("OK    ", 0), 0u) << last;
    }
    last = line;
    ++n;
  }
  EXPECT_GE(n, 15);
  EXPECT_NE(last.find(std::to_string(n - 1) + " checks: " + std::to_string(n - 1) + " ok, 0 warnings, 0 failures"),
            std::string::npos)
      << last;
  EXPECT_LT(d.seconds, 1.5) << "doctor must stay quick";
  std::fprintf(stderr, "doctor (healthy, %d checks) took %.0f ms\n", n - 1, d.seconds * 1000);

  d = doctor();
  EXPECT_EQ(d.status, 0) << d.problems();
  for (const char* c : {"kernel:veth", "kernel:bridge", "kernel:netns", "config", "bridge:lan:exists", "bridge:lan:up",
                        "bridge:lan:address", "bridge:lan:members", "bridge:lan:mtu", "forwarding:ipv4", "capture:lan",
                        "daemon:reachable", "daemon:config"})
    EXPECT_EQ(d.statusOf(c), "ok") << c << "\n" << d.out;
  for (const auto& j : {a_, b_}) {
    EXPECT_EQ(d.statusOf("jail:" + j + ":interfaces"), "ok") << d.out;
    EXPECT_EQ(d.statusOf("jail:" + j + ":route"), "ok") << d.out;
  }
  EXPECT_NE((*d.check("bridge:lan:members"))["message"].get<std::string>().find(interfaceName(a_, 0, Side::A)),
            std::string::npos);
  EXPECT_EQ(doctor({"--quiet"}).out, "") << "quiet and healthy: silent";

  // A jail's default route replaced (the daemon does not manage routes inside jails).
  ASSERT_EQ(testing::run({"ip", "-n", a_, "route", "replace", "default", "via", prefix_ + "253"}).status, 0);
  d = doctor();
  EXPECT_EQ(d.status, 2) << d.out;
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":route"), "fail");
  EXPECT_EQ(d.fixOf("jail:" + a_ + ":route"), "ip -n " + a_ + " route replace default via " + prefix_ + "254");
  EXPECT_EQ(d.statusOf("jail:" + b_ + ":route"), "ok");
  runFix(d.fixOf("jail:" + a_ + ":route"));
  d = doctor();
  EXPECT_EQ(d.status, 0) << d.problems();

  // The configuration edited after the daemon started: it runs an older one.
  {
    std::ifstream in(configPath());
    std::stringstream text;
    text << in.rdbuf();
    dir_.write("vnetd.toml", "# edited\n" + text.str());
  }
  d = doctor();
  EXPECT_EQ(d.status, 1) << d.problems();
  EXPECT_EQ(d.statusOf("daemon:config"), "warn");
  EXPECT_EQ(d.fixOf("daemon:config"), "kill -HUP $(cat " + dir_.file("vnetd.pid") + ")");
  size_t from = daemon_->logSize();
  ASSERT_EQ(::kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", 10000, from)) << daemon_->log();
  d = doctor();
  EXPECT_EQ(d.status, 0) << d.problems();

  // The daemon stopped: a warning with the start command; the members now come from the
  // state directory, and everything else is still OK.
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  d = doctor();
  EXPECT_EQ(d.status, 1) << d.problems();
  EXPECT_EQ(d.statusOf("daemon:reachable"), "warn");
  EXPECT_EQ(d.fixOf("daemon:reachable"), "vnetd -c " + configPath());
  EXPECT_EQ(d.statusOf("daemon:config"), "absent");
  EXPECT_EQ(d.statusOf("bridge:lan:members"), "ok") << d.out;
  EXPECT_NE((*d.check("bridge:lan:members"))["message"].get<std::string>().find(interfaceName(b_, 0, Side::A)),
            std::string::npos)
      << "expected members from the state store";

  // With nothing repairing behind doctor's back, break the bridge one thing at a time.
  ASSERT_EQ(testing::run({"ip", "link", "set", "dev", br_, "down"}).status, 0);
  d = doctor();
  EXPECT_EQ(d.status, 2) << d.out;
  EXPECT_EQ(d.statusOf("bridge:lan:up"), "fail");
  EXPECT_EQ(d.fixOf("bridge:lan:up"), "ip link set dev " + br_ + " up");
  EXPECT_EQ(d.statusOf("bridge:lan:address"), "ok");
  runFix(d.fixOf("bridge:lan:up"));

  ASSERT_EQ(testing::run({"ip", "address", "del", prefix_ + "1/24", "dev", br_}).status, 0);
  d = doctor();
  EXPECT_EQ(d.status, 2) << d.out;
  EXPECT_EQ(d.statusOf("bridge:lan:address"), "fail");
  EXPECT_EQ(d.fixOf("bridge:lan:address"), "ip address add " + prefix_ + "1/24 dev " + br_);
  EXPECT_EQ(d.statusOf("bridge:lan:up"), "ok");
  runFix(d.fixOf("bridge:lan:address"));

  std::string host_b = interfaceName(b_, 0, Side::A);
  ASSERT_EQ(testing::run({"ip", "link", "set", "dev", host_b, "nomaster"}).status, 0);
  d = doctor();
  EXPECT_EQ(d.status, 2) << d.out;
  EXPECT_EQ(d.statusOf("bridge:lan:members"), "fail");
  EXPECT_EQ(d.fixOf("bridge:lan:members"), "ip link set dev " + host_b + " master " + br_);
  runFix(d.fixOf("bridge:lan:members"));

  // Repaired by hand: only the stopped daemon is left.
  d = doctor();
  EXPECT_EQ(d.status, 1) << d.problems();
  EXPECT_EQ(d.problems().find("\"fail\""), std::string::npos) << d.problems();
  EXPECT_TRUE(testing::TestNet::ping(a_, prefix_ + "1"));

  for (const auto& j : {a_, b_}) {
    net_.deleteNamespace(j);
    (void)hook("poststop", j);
  }
}

TEST_F(DoctorTest, ConfigurationErrorsUsageAndHelp) {
  br_ = net_.bridgeName("dr");
  prefix_ = "198.18.161.";
  writeConfig(body() + "\n[bridge.lan2]\nbogus_key = 1\n");
  Doctor d = doctor();
  EXPECT_EQ(d.status, 2) << d.out << d.err;
  EXPECT_EQ(d.statusOf("config"), "fail");
  const Json* c = d.check("config");
  ASSERT_TRUE(c);
  // file:line:col of the offending key, and the command that lists every problem.
  EXPECT_NE((*c)["message"].get<std::string>().find(configPath() + ":"), std::string::npos) << c->dump();
  EXPECT_EQ((*c)["fix"], "vnetd -n -c " + configPath());
  EXPECT_EQ(d.statusOf("bridge:lan:exists"), "absent") << "nothing judged from a file that does not load";
  EXPECT_EQ(d.statusOf("daemon:reachable"), "warn");

  auto help = testing::run({VNETD_VNETCTL_BINARY, "doctor", "--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* word : {"SYNOPSIS", "EXIT STATUS", "--quiet", "--json", "bridge:KEY", "daemon:config"})
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  auto bad = testing::run({VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--bogus"});
  EXPECT_EQ(bad.status, 64);
  EXPECT_NE(bad.err.find("--bogus"), std::string::npos) << bad.err;
}

// jail.conf read from files (--jail-conf, and the jail.conf.d next to it): the old
// sample's vnet.interface and `ifconfig -vnet` prestop lines are found with their
// file:line, fixed files are OK, a jail.conf.d file jail.conf does not include is read
// alone, and no jail.conf at all only skips the checks.
TEST_F(DoctorTest, JailConfOfTheJailsItManages) {
  br_ = net_.bridgeName("dr");
  prefix_ = "198.18.162.";
  writeConfig(body());  // [jail_defaults]: every jail whose hooks call vnetd-hook is vnetd's
  const std::string a = net_.jailName("a"), x = net_.jailName("x");
  const std::string inside = interfaceName(a, 0, Side::B);
  const std::string hook = std::string("\"") + VNETD_HOOK_BINARY;
  auto writeJailConf = [&](const std::string& prestop, const std::string& jail_body) {
    dir_.write("jail.conf", "vnet;\n"
                            "exec.prestart += " + hook + " prestart ${name}\";\n"
                            "exec.created += " + hook + " created ${name}\";\n"
                            "exec.prestop += \"" + prestop + "\";\n"
                            "exec.poststop += " + hook + " poststop ${name}\";\n" +
                            a + " {\n" + jail_body + "}\n");
  };
  writeJailConf("/sbin/ifconfig " + inside + " -vnet ${name}", "  vnet.interface = \"" + inside + "\";\n");
  std::filesystem::create_directories(dir_.file("jail.conf.d"));
  dir_.write("jail.conf.d/" + x + ".conf", x + " {\n  exec.prestart = " + hook + " prestart ${name}\";\n}\n");
  const std::string conf = dir_.file("jail.conf"), extra = dir_.file("jail.conf.d/" + x + ".conf");

  Doctor d = doctor({"--json", "--jail-conf", conf});
  EXPECT_EQ(d.statusOf("jailconf"), "ok") << d.out;
  EXPECT_EQ((*d.check("jailconf"))["message"], "read " + conf + ", " + extra + ": 2 jails, 2 managed by vnetd");
  EXPECT_EQ(d.statusOf("jailconf:" + a + ":vnet.interface"), "warn") << d.out;
  EXPECT_EQ(d.fixOf("jailconf:" + a + ":vnet.interface"), "remove vnet.interface from jail " + a + " at " + conf + ":7");
  EXPECT_EQ(d.statusOf("jailconf:" + a + ":prestop"), "warn");
  EXPECT_NE((*d.check("jailconf:" + a + ":prestop"))["message"].get<std::string>().find(
                "'/sbin/ifconfig " + inside + " -vnet " + a + "' (" + conf + ":4)"),
            std::string::npos)
      << d.out;
  // The jail.conf.d file, read alone: hooks but no prestop (optional).
  EXPECT_EQ(d.statusOf("jailconf:" + x + ":prestop"), "ok");
  EXPECT_EQ(d.statusOf("jailconf:" + x + ":vnet.interface"), "ok");

  // Fixed as the verdicts say: no vnet.interface, vnetd-hook prestop.
  writeJailConf(std::string(VNETD_HOOK_BINARY) + " prestop ${name}", "");
  dir_.write("jail.conf.d/" + x + ".conf", x + " {\n  exec.prestart = " + hook + " prestart ${name}\";\n"
             "  exec.prestop = " + hook + " prestop ${name}\";\n}\n");
  d = doctor({"--json", "--jail-conf", conf});
  for (const std::string& c : std::vector<std::string>{"jailconf", "jailconf:" + a + ":vnet.interface", "jailconf:" + a + ":prestop",
                        "jailconf:" + x + ":prestop", "jailconf:" + x + ":vnet.interface"})
    EXPECT_EQ(d.statusOf(c), "ok") << c << "\n" << d.out;

  // A syntax error: one warning naming file:line, the other files still judged.
  dir_.write("jail.conf", "vnet;\n" + a + " {\n  path = /x\n}\n");
  d = doctor({"--json", "--jail-conf", conf});
  EXPECT_EQ(d.statusOf("jailconf"), "warn") << d.out;
  EXPECT_NE((*d.check("jailconf"))["message"].get<std::string>().find(conf + ":4: missing ';'"), std::string::npos)
      << d.out;
  EXPECT_EQ(d.statusOf("jailconf:" + x + ":prestop"), "ok");

  // No jail.conf (a Linux host): skipped, not an error.
  d = doctor({"--json", "--jail-conf=" + dir_.file("none/jail.conf")});
  EXPECT_EQ(d.statusOf("jailconf"), "ok");
  EXPECT_EQ((*d.check("jailconf"))["message"], "no " + dir_.file("none/jail.conf") + ": jail.conf checks skipped");

  auto bad = testing::run({VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--jail-conf"});
  EXPECT_EQ(bad.status, 64);
  EXPECT_NE(bad.err.find("--jail-conf needs a file"), std::string::npos) << bad.err;
  auto help = testing::run({VNETD_VNETCTL_BINARY, "doctor", "--help"});
  for (const char* word : {"--jail-conf", "jailconf:JAIL:vnet.interface", "/etc/jail.conf"})
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
}

}  // namespace
}  // namespace vnetd

namespace vnetd {
namespace {

// A jail's own rc switched IPv6 off under its vnetd IPv6 address (FreeBSD's rc.d/netif
// does that to every interface but lo0; here: disable_ipv6, what jail_order_test's rc
// step does): doctor names it with the poststart fix, and poststart (through the daemon)
// makes it OK again.
TEST_F(DoctorTest, Ipv6SwitchedOffInAJailIsFoundAndPoststartFixesIt) {
  br_ = net_.bridgeName("d6");
  a_ = net_.jailName("v6");
  writeConfig("[bridge.lan]\ninterface = \"" + br_ + "\"\naddress = \"198.18.166.1/24\"\naddress6 = \"2001:db8:166::1/64\"\n\n"
              "[jail." + a_ + "]\n[[jail." + a_ + ".interface]]\nbridge = \"lan\"\naddress = \"198.18.166.10/24\"\n"
              "address6 = \"2001:db8:166::10/64\"\ngateway6 = \"2001:db8:166::1\"\n");
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(a_));
  const std::string inside = interfaceName(a_, 0, Side::B);
  Doctor d = doctor();
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":ipv6"), "absent") << d.out;
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":route6"), "ok") << d.problems();

  ASSERT_EQ(testing::run({"ip", "netns", "exec", a_, "sysctl", "-q", "-w",
                          "net.ipv6.conf." + inside + ".disable_ipv6=1"}).status, 0);
  d = doctor();
  EXPECT_EQ(d.status, 2) << d.out;
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":ipv6"), "fail") << d.out;
  EXPECT_EQ(d.fixOf("jail:" + a_ + ":ipv6"), "vnetd-hook poststart " + a_);

  auto r = hook("poststart", a_);
  ASSERT_EQ(r.status, 0) << r.err;
  d = doctor();
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":ipv6"), "absent") << d.problems();
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":interfaces"), "ok") << d.problems();
  EXPECT_EQ(d.statusOf("jail:" + a_ + ":route6"), "ok") << d.problems();

  net_.deleteNamespace(a_);
  (void)hook("poststop", a_);
}

}  // namespace
}  // namespace vnetd
