#include "daemon/forwarding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace vnetd::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Kind = ForwardingStep::Kind;

ForwardingNeeds needsV4() {
  ForwardingNeeds n;
  n.ipv4.nat.push_back("lan");
  return n;
}

// ------------------------------------------------------------------ the pure decision

TEST(PlanForwarding, ManageEnablesWhatIsNeededAndOff) {
  ForwardingInput in;
  in.manage = true;
  in.needs = needsV4();
  in.ipv4_on = false;
  in.ipv6_on = false;
  EXPECT_THAT(planForwarding(in), ElementsAre(ForwardingStep{IpFamily::V4, Kind::Enable}));
  in.needs.ipv6.gateways.emplace_back("lan", IpAddress::parse("2001:db8::1").value());
  EXPECT_THAT(planForwarding(in),
              ElementsAre(ForwardingStep{IpFamily::V4, Kind::Enable}, ForwardingStep{IpFamily::V6, Kind::Enable}));
  in.ipv4_on = true;  // already on: someone else's, left alone
  EXPECT_THAT(planForwarding(in), ElementsAre(ForwardingStep{IpFamily::V6, Kind::Enable}));
  in.ipv6_on.reset();  // unreadable: never touched blind
  EXPECT_THAT(planForwarding(in), IsEmpty());
}

TEST(PlanForwarding, NothingNeededNothingDone) {
  ForwardingInput in;
  in.manage = true;
  in.ipv4_on = false;
  in.ipv6_on = false;
  EXPECT_THAT(planForwarding(in), IsEmpty());
}

TEST(PlanForwarding, ReloadWhileManagingNeverSwitchesOff) {
  // The bridge that needed it is gone from the configuration: the jails still running
  // keep their forwarding until vnetd stops.
  ForwardingInput in;
  in.manage = true;
  in.ipv4_on = true;
  in.owned.ipv4 = true;
  EXPECT_THAT(planForwarding(in), IsEmpty());
}

TEST(PlanForwarding, WithoutTheKeyNothingIsSwitchedOn) {
  ForwardingInput in;
  in.needs = needsV4();
  in.ipv4_on = false;
  in.ipv6_on = false;
  EXPECT_THAT(planForwarding(in), IsEmpty());
}

TEST(PlanForwarding, ExitRestoresOnlyWhatVnetdOwnsAndIsStillOn) {
  ForwardingInput in;
  in.exiting = true;
  in.manage = true;
  in.needs = needsV4();
  in.ipv4_on = true;
  in.ipv6_on = true;
  EXPECT_THAT(planForwarding(in), IsEmpty());  // owns nothing: the host's own setting stays
  in.owned.ipv4 = true;
  EXPECT_THAT(planForwarding(in), ElementsAre(ForwardingStep{IpFamily::V4, Kind::Restore}));
  in.ipv4_on = false;  // someone switched it off meanwhile
  EXPECT_THAT(planForwarding(in), ElementsAre(ForwardingStep{IpFamily::V4, Kind::Forget}));
}

TEST(PlanForwarding, KeyTurnedOffGivesBackWhatVnetdOwns) {
  ForwardingInput in;
  in.manage = false;
  in.ipv4_on = true;
  in.ipv6_on = true;
  in.owned.ipv6 = true;
  EXPECT_THAT(planForwarding(in), ElementsAre(ForwardingStep{IpFamily::V6, Kind::Restore}));
}

TEST(ForwardingMarker, RoundTripAndStrictness) {
  ForwardingOwned both{true, true};
  EXPECT_EQ(encodeForwardingMarker(both), "ipv4\nipv6\n");
  EXPECT_EQ(decodeForwardingMarker("ipv4\nipv6\n").value(), both);
  EXPECT_EQ(decodeForwardingMarker("").value(), ForwardingOwned{});
  EXPECT_EQ(decodeForwardingMarker("ipv6").value(), (ForwardingOwned{false, true}));
  auto bad = decodeForwardingMarker("ipv4\nipx\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "line 2 is 'ipx', expected ipv4 or ipv6");
}

TEST(ForwardingReason, NamesBridgesAndGateways) {
  ForwardingNeed n;
  n.nat = {"lan", "dmz"};
  n.gateways.emplace_back("lab", IpAddress::parse("198.18.238.1").value());
  EXPECT_EQ(forwardingReason(n), "NAT on bridge lan, bridge dmz; jails route via bridge lab (198.18.238.1)");
}

// -------------------------------------------------- carried out, with fake switches

class FakeSwitches {
 public:
  std::map<IpFamily, bool> on{{IpFamily::V4, false}, {IpFamily::V6, false}};
  std::vector<std::string> writes;
  // Read when each write happens: the marker must already say so.
  std::string marker_path;
  std::vector<std::string> marker_at_write;
  bool fail_writes = false;

  Forwarding::Switches switches() {
    return {[this](IpFamily f) -> Result<bool> { return on.at(f); },
            [this](IpFamily f, bool v) -> Result<void> {
              std::ifstream in(marker_path);
              std::stringstream ss;
              ss << in.rdbuf();
              marker_at_write.push_back(ss.str());
              if (fail_writes) return Error{EACCES, "set fake"};
              writes.push_back(std::string(f == IpFamily::V4 ? "v4=" : "v6=") + (v ? "1" : "0"));
              on[f] = v;
              return success();
            },
            [](IpFamily f) { return std::string(f == IpFamily::V4 ? "fake.v4" : "fake.v6"); }};
  }
};

class ForwardingRun : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnetd-fwd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    marker_ = dir_ + "/forwarding";
    fake_.marker_path = marker_;
    config_.daemon.manage_forwarding = true;
    BridgeConfig b;
    b.name = "lan";
    b.interface = "br0";
    b.address = Cidr::parse("198.18.238.1/24");
    b.nat = "eth0";
    config_.bridges["lan"] = b;
  }
  void TearDown() override {
    ::unlink(marker_.c_str());
    ::unlink((marker_ + ".tmp").c_str());
    ::rmdir(dir_.c_str());
  }
  bool markerExists() const { return ::access(marker_.c_str(), F_OK) == 0; }

  std::string dir_, marker_;
  FakeSwitches fake_;
  Config config_;
};

TEST_F(ForwardingRun, EnablesRecordsFirstAndRestoresOnExit) {
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1"));
  // Ownership was on disk before the switch was written (crash safety).
  EXPECT_THAT(fake_.marker_at_write, ElementsAre("ipv4\n"));
  EXPECT_TRUE(f.owned().ipv4);
  f.apply(config_);  // a reload: already on, nothing more
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1"));
  f.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, HostAlreadyForwardingIsLeftAlone) {
  fake_.on[IpFamily::V4] = true;
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  f.restore();
  EXPECT_THAT(fake_.writes, IsEmpty());
  EXPECT_TRUE(fake_.on[IpFamily::V4]);
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, RestartAfterACrashStillRestores) {
  {
    Forwarding first(marker_, fake_.switches());
    first.apply(config_);
    // SIGKILL: no restore().
  }
  ASSERT_TRUE(markerExists());
  Forwarding second(marker_, fake_.switches());
  EXPECT_TRUE(second.owned().ipv4);
  second.apply(config_);  // still on: nothing to do, still owned
  second.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, SwitchedOffBySomeoneElseIsNotTouched) {
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  fake_.on[IpFamily::V4] = false;
  f.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, KeyTurnedOffOnReloadGivesItBack) {
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  config_.daemon.manage_forwarding = false;
  f.apply(config_);
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, WithoutTheKeyNothingChanges) {
  config_.daemon.manage_forwarding = false;
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  f.restore();
  EXPECT_THAT(fake_.writes, IsEmpty());
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, NoSwitchWithoutARecord) {
  // The state directory cannot take the marker: vnetd would not know it owns the switch
  // after a crash, so it does not switch it on.
  Forwarding f(dir_ + "/missing/forwarding", fake_.switches());
  f.apply(config_);
  EXPECT_THAT(fake_.writes, IsEmpty());
  EXPECT_FALSE(f.owned().ipv4);
}

TEST_F(ForwardingRun, FailedWriteOwnsNothing) {
  fake_.fail_writes = true;
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  EXPECT_FALSE(f.owned().ipv4);
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, CorruptMarkerOwnsNothing) {
  {
    std::ofstream out(marker_);
    out << "garbage\n";
  }
  fake_.on[IpFamily::V4] = true;
  Forwarding f(marker_, fake_.switches());
  EXPECT_FALSE(f.owned().any());
  f.restore();
  EXPECT_THAT(fake_.writes, IsEmpty());
}

}  // namespace
}  // namespace vnetd::daemon
