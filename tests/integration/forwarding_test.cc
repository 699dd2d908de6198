// [daemon] manage_forwarding on a real kernel (issue 16, test 5), without ever touching
// this machine's own forwarding: the daemon, its hooks and doctor run inside a network
// namespace of the test's own that plays the host (`ip netns exec <prefix>host ...`).
// /proc/sys/net/ipv4/ip_forward and /proc/sys/net/ipv6/conf/all/forwarding are per
// network namespace, and a new one starts with both off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "core/file_util.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using ::testing::HasSubstr;

constexpr const char* kV4 = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* kV6 = "/proc/sys/net/ipv6/conf/all/forwarding";

std::string readOwn(const char* path) {
  auto t = readSmallFile(path, 64);
  return t ? trimWhitespace(*t) : "?";
}

class ForwardingTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure()) return;
    own_v4_ = readOwn(kV4);
    own_v6_ = readOwn(kV6);
    ns_ = net_.jailName("host");
    net_.addNamespace(ns_);
    // The metrics listener binds 127.0.0.1: the namespace's loopback must be up.
    ASSERT_EQ(testing::run({"ip", "-n", ns_, "link", "set", "lo", "up"}).status, 0);
    ASSERT_EQ(inHost(kV4), "0") << "a new network namespace starts with IPv4 forwarding off";
    ASSERT_EQ(inHost(kV6), "0");
    br_ = net_.bridgeName("fw");
    jail_ = net_.jailName("fj");
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    // Whatever happened in there, this machine's own setting is what it was.
    EXPECT_EQ(readOwn(kV4), own_v4_);
    EXPECT_EQ(readOwn(kV6), own_v6_);
  }

  // The namespace's forwarding switch, read from inside it.
  std::string inHost(const std::string& path) {
    auto r = testing::run({"ip", "netns", "exec", ns_, "cat", path});
    EXPECT_EQ(r.status, 0) << r.err;
    return trimWhitespace(r.out);
  }
  testing::CommandResult runInHost(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns_});
    return testing::run(argv);
  }

  // A bridge with IPv4 and IPv6 addresses and one jail routing via both (its gateways
  // default to the bridge's addresses): both families need forwarding.
  void configure(bool manage) {
    writeConfig(std::string("manage_forwarding = ") + (manage ? "true" : "false") +
                "\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[bridge.lan]\ninterface = \"" + br_ +
                "\"\naddress = \"198.18.238.1/24\"\naddress6 = \"2001:db8:238::1/64\"\n\n[jail." + jail_ +
                "]\n[[jail." + jail_ +
                ".interface]]\nbridge = \"lan\"\naddress = \"198.18.238.2/24\"\naddress6 = \"2001:db8:238::2/64\"\n");
  }
  void start() {
    daemon_ = std::make_unique<testing::DaemonProcess>(VNETD_DAEMON_BINARY, configPath(), socketPath());
    daemon_->setArgvPrefix({"ip", "netns", "exec", ns_});
    std::string why;
    ASSERT_TRUE(daemon_->start(&why)) << why;
  }
  void startJailInHost() {
    net_.addNamespace(jail_);
    for (const char* phase : {"prestart", "created"}) {
      auto r = runInHost({VNETD_HOOK_BINARY, "--config", configPath(), phase, jail_});
      ASSERT_EQ(r.status, 0) << phase << " " << jail_ << ": " << r.err;
    }
  }
  void setInHost(const std::string& path, const std::string& value) {
    auto r = runInHost({"sh", "-c", "echo " + value + " > " + path});
    ASSERT_EQ(r.status, 0) << path << ": " << r.err;
  }
  // Linux's switch rewrites more than itself (net/ipv4/devinet.c inet_forward_change,
  // net/ipv6/addrconf.c addrconf_fixup_forwarding): a veth of the namespace whose own
  // IPv4 flag is on (one end) and off (the other), ICMP redirects refused, and, where the
  // kernel has it, IPv6 force_forwarding on the first end (zeroed by the switch-off).
  void prepareSideEffects() {
    veth_ = net_.bridgeName("fv");
    peer_ = net_.bridgeName("fp");
    auto r = testing::run({"ip", "-n", ns_, "link", "add", veth_, "type", "veth", "peer", "name", peer_});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_NO_FATAL_FAILURE(setInHost(v4conf(veth_, "forwarding"), "1"));
    ASSERT_NO_FATAL_FAILURE(setInHost(v4conf("all", "accept_redirects"), "0"));
    has_force_ = runInHost({"test", "-e", v6conf(veth_, "force_forwarding")}).status == 0;
    if (has_force_) {
      ASSERT_NO_FATAL_FAILURE(setInHost(v6conf(veth_, "force_forwarding"), "1"));
    }
  }
  // ... all as they were before vnetd started.
  void expectSideEffectsRestored(const std::string& log) {
    EXPECT_EQ(inHost(v4conf(veth_, "forwarding")), "1") << log;
    EXPECT_EQ(inHost(v4conf(peer_, "forwarding")), "0");
    EXPECT_EQ(inHost(v4conf("all", "accept_redirects")), "0");
    EXPECT_EQ(inHost(v4conf("default", "forwarding")), "0");
    EXPECT_EQ(inHost(v4conf("default", "accept_redirects")), "1") << "never touched";
    EXPECT_EQ(inHost(v6conf(veth_, "forwarding")), "0");
    if (has_force_) {
      EXPECT_EQ(inHost(v6conf(veth_, "force_forwarding")), "1");
    }
  }
  static std::string v4conf(const std::string& name, const std::string& leaf) {
    return "/proc/sys/net/ipv4/conf/" + name + "/" + leaf;
  }
  static std::string v6conf(const std::string& name, const std::string& leaf) {
    return "/proc/sys/net/ipv6/conf/" + name + "/" + leaf;
  }

  std::string veth_, peer_;
  bool has_force_ = false;

  std::string marker() const { return dir_.file("state") + "/forwarding"; }
  bool markerExists() const { return ::access(marker().c_str(), F_OK) == 0; }

  std::string own_v4_, own_v6_, ns_, br_, jail_;
};

TEST_F(ForwardingTest, ManagedIsSwitchedOnAtStartAndBackOffOnStop) {
  configure(true);
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_EQ(inHost(kV4), "1");
  EXPECT_EQ(inHost(kV6), "1");
  EXPECT_THAT(daemon_->log(), HasSubstr("forwarding: set net.ipv4.ip_forward = 1 for jails route via bridge lan "
                                        "(198.18.238.1)"));
  EXPECT_THAT(daemon_->log(), HasSubstr("forwarding: set net.ipv6.conf.all.forwarding = 1"));
  EXPECT_TRUE(markerExists());
  ASSERT_NO_FATAL_FAILURE(startJailInHost());
  EXPECT_TRUE(testing::TestNet::ping(jail_, "198.18.238.1"));

  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_EQ(inHost(kV4), "0") << daemon_->log();
  EXPECT_EQ(inHost(kV6), "0");
  EXPECT_THAT(daemon_->log(), HasSubstr("forwarding: set net.ipv4.ip_forward = 0 again (vnetd had switched it on; "
                                        "vnetd stops)"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingTest, KilledDaemonsSuccessorStillRestores) {
  configure(true);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(inHost(kV4), "1");
  daemon_->stop(SIGKILL);
  EXPECT_EQ(inHost(kV4), "1") << "nobody restored it: the daemon was killed";
  EXPECT_TRUE(markerExists());

  size_t from = daemon_->logSize();
  std::string why;
  ASSERT_TRUE(daemon_->start(&why)) << why;
  EXPECT_TRUE(daemon_->waitForLog("net.ipv4.ip_forward was switched on by an earlier vnetd", 1000, from));
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  EXPECT_EQ(inHost(kV4), "0") << daemon_->log();
  EXPECT_EQ(inHost(kV6), "0");
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingTest, WhatTheSwitchRewritesIsPutBackOnStop) {
  ASSERT_NO_FATAL_FAILURE(prepareSideEffects());
  configure(true);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(inHost(kV4), "1");
  // The kernel did rewrite them (else this test proves nothing).
  EXPECT_EQ(inHost(v4conf(peer_, "forwarding")), "1");
  EXPECT_EQ(inHost(v4conf("all", "accept_redirects")), "0");
  EXPECT_EQ(inHost(v4conf("default", "forwarding")), "1");
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_EQ(inHost(kV6), "0");
  expectSideEffectsRestored(daemon_->log());
  EXPECT_THAT(daemon_->log(), HasSubstr("forwarding: put back what switching net.ipv4.ip_forward changed along with "
                                        "it: conf/all/accept_redirects = 0, conf/" + veth_ + "/forwarding = 1"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingTest, WhatTheSwitchRewritesIsPutBackAfterAKillAndRestart) {
  ASSERT_NO_FATAL_FAILURE(prepareSideEffects());
  configure(true);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(inHost(kV4), "1");
  daemon_->stop(SIGKILL);
  ASSERT_TRUE(markerExists());
  std::string why;
  ASSERT_TRUE(daemon_->start(&why)) << why;
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_EQ(inHost(kV6), "0");
  expectSideEffectsRestored(daemon_->log());
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingTest, SwitchedOnByTheAdministratorIsLeftOn) {
  ASSERT_EQ(runInHost({"sh", "-c", std::string("echo 1 > ") + kV4}).status, 0);
  configure(true);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  EXPECT_EQ(inHost(kV4), "1") << "vnetd did not switch it on, so it leaves it on";
  EXPECT_EQ(inHost(kV6), "0") << "the one vnetd did switch on goes back off";
}

TEST_F(ForwardingTest, ReloadAddingABridgeThatNeedsItSwitchesItOn) {
  // At first the bridge needs nothing: no jail routes via it.
  writeConfig("manage_forwarding = true\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[bridge.lan]\ninterface = \"" + br_ +
              "\"\naddress = \"198.18.238.1/24\"\n");
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_FALSE(markerExists());
  configure(true);
  size_t from = daemon_->logSize();
  ASSERT_EQ(::kill(daemon_->pid(), SIGHUP), 0);
  ASSERT_TRUE(daemon_->waitForLog("forwarding: set net.ipv4.ip_forward = 1", 10000, from)) << daemon_->log();
  EXPECT_EQ(inHost(kV4), "1");
  EXPECT_EQ(inHost(kV6), "1");
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_EQ(inHost(kV6), "0");
}

TEST_F(ForwardingTest, UnmanagedStaysOffHooksWorkAndDoctorPrintsTheFix) {
  configure(false);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(startJailInHost());
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_EQ(inHost(kV6), "0");

  auto r = runInHost({VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--json"});
  Json checks = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(checks.is_array()) << r.out << r.err;
  int found = 0;
  for (const auto& c : checks) {
    if (c["check"] == "forwarding:ipv4") {
      ++found;
      EXPECT_EQ(c["status"], "warn") << c.dump();
      EXPECT_THAT(c["fix"].get<std::string>(), HasSubstr("sysctl -w net.ipv4.ip_forward=1"));
      EXPECT_THAT(c["fix"].get<std::string>(), HasSubstr("[daemon] manage_forwarding = true in " + configPath()));
    }
    if (c["check"] == "forwarding:ipv6") {
      ++found;
      EXPECT_EQ(c["status"], "warn") << c.dump();
      EXPECT_THAT(c["fix"].get<std::string>(), HasSubstr("sysctl -w net.ipv6.conf.all.forwarding=1"));
    }
  }
  EXPECT_EQ(found, 2) << r.out;
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  EXPECT_EQ(inHost(kV4), "0");
  EXPECT_FALSE(markerExists());
}

}  // namespace
}  // namespace vnetd
