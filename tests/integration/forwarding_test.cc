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
  std::string inHost(const char* path) {
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
