#include "daemon/forwarding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

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
  ForwardingOwned both;
  both.ipv4 = both.ipv6 = true;
  EXPECT_EQ(encodeForwardingMarker(both), "ipv4\nipv6\n");
  EXPECT_EQ(decodeForwardingMarker("ipv4\nipv6\n").value(), both);
  EXPECT_EQ(decodeForwardingMarker("").value(), ForwardingOwned{});
  EXPECT_EQ(decodeForwardingMarker("ipv6").value(), (ForwardingOwned{false, true, {}, {}}));
  auto bad = decodeForwardingMarker("ipv4\nipx\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "line 2 is 'ipx', expected ipv4, ipv6, or ipv4/ipv6 <setting> <value>");
}

TEST(ForwardingMarker, SnapshotRoundTrip) {
  ForwardingOwned owned;
  owned.ipv4 = owned.ipv6 = true;
  owned.before4 = {{"conf/all/accept_redirects", 1}, {"conf/eth0/forwarding", 1}, {"conf/default/forwarding", 0}};
  owned.before6 = {{"conf/eth0/force_forwarding", 0}};
  const std::string text = encodeForwardingMarker(owned);
  EXPECT_EQ(text,
            "ipv4\nipv6\n"
            "ipv4 conf/all/accept_redirects 1\nipv4 conf/default/forwarding 0\nipv4 conf/eth0/forwarding 1\n"
            "ipv6 conf/eth0/force_forwarding 0\n");
  EXPECT_EQ(decodeForwardingMarker(text).value(), owned);
  // Settings of a family not owned are not written.
  owned.ipv6 = false;
  EXPECT_EQ(encodeForwardingMarker(owned).find("ipv6"), std::string::npos);
  // Negative values and extra blanks are fine.
  auto neg = decodeForwardingMarker("ipv4\n  ipv4   conf/eth0/forwarding\t-1 \n");
  ASSERT_TRUE(neg) << neg.error().message();
  EXPECT_EQ(neg->before4.at("conf/eth0/forwarding"), -1);
}

TEST(ForwardingMarker, EarlierFormatStillLoads) {
  // What a vnetd before the snapshot wrote: the switch alone is restored.
  auto old = decodeForwardingMarker("ipv4\nipv6\n");
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_TRUE(old->ipv4);
  EXPECT_TRUE(old->ipv6);
  EXPECT_TRUE(old->before4.empty());
  EXPECT_TRUE(old->before6.empty());
}

TEST(ForwardingMarker, BadSettingLines) {
  auto msg = [](std::string_view t) {
    auto r = decodeForwardingMarker(t);
    return r ? std::string("accepted") : r.error().message();
  };
  EXPECT_EQ(msg("ipv4\nipv4 conf/eth0/forwarding one\n"),
            "line 2 is 'ipv4 conf/eth0/forwarding one': the value is not an integer");
  EXPECT_EQ(msg("ipv4\nipv4 conf/eth0/forwarding 99999999999\n"),
            "line 2 is 'ipv4 conf/eth0/forwarding 99999999999': the value is not an integer");
  EXPECT_EQ(msg("ipv4\nipv4 conf/eth0/forwarding\n"),
            "line 2 is 'ipv4 conf/eth0/forwarding', expected ipv4, ipv6, or ipv4/ipv6 <setting> <value>");
  EXPECT_EQ(msg("ipv4\nipv4 a b c\n"), "line 2 is 'ipv4 a b c', expected ipv4, ipv6, or ipv4/ipv6 <setting> <value>");
  EXPECT_EQ(msg("ipv4\nipv6 conf/eth0/forwarding 1\n"),
            "line 2 is a setting of ipv6, which the marker does not own (no 'ipv6' line)");
  EXPECT_EQ(msg("ipv4\nipv4 " + std::string(201, 'k') + " 1\n"),
            "line 2 is 'ipv4 " + std::string(35, 'k') + "': the setting's name is over 200 bytes");
  // The family line may come after its settings.
  EXPECT_EQ(msg("ipv4 conf/eth0/forwarding 1\nipv4\n"), "accepted");
}

// ------------------------------------------------------- what goes back after the switch-off

// The fake kernel's switch-on: every forwarding flag 1, all/accept_redirects 0.
int fakeAfterOn(const std::string& key, int before) {
  if (key.ends_with("/forwarding")) return 1;
  if (key == "conf/all/accept_redirects") return 0;
  return before;
}

TEST(PlanSettingsRestore, PutsBackWhatTheSwitchChanged) {
  ForwardingSettings before{{"conf/eth0/forwarding", 1}, {"conf/lo/forwarding", 0}, {"conf/all/accept_redirects", 0}};
  // Just before the switch-off: what the switch-on made of them.
  ForwardingSettings current{{"conf/eth0/forwarding", 1}, {"conf/lo/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  // The switch-off: every flag 0, accept_redirects 1.
  ForwardingSettings off{{"conf/eth0/forwarding", 0}, {"conf/lo/forwarding", 0}, {"conf/all/accept_redirects", 1}};
  EXPECT_EQ(planSettingsRestore(before, current, off, fakeAfterOn),
            (ForwardingSettings{{"conf/eth0/forwarding", 1}, {"conf/all/accept_redirects", 0}}))
      << "lo is 0 after the switch-off, as it was: nothing to write";
}

TEST(PlanSettingsRestore, ChangedSinceIsTheirs) {
  ForwardingSettings before{{"conf/eth0/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  // Someone set eth0's flag to 0 and accept_redirects to 1 while vnetd ran.
  ForwardingSettings current{{"conf/eth0/forwarding", 0}, {"conf/all/accept_redirects", 1}};
  ForwardingSettings off{{"conf/eth0/forwarding", 0}, {"conf/all/accept_redirects", 1}};
  EXPECT_THAT(planSettingsRestore(before, current, off, fakeAfterOn), IsEmpty());
}

TEST(PlanSettingsRestore, GoneInterfacesAreSkipped) {
  ForwardingSettings before{{"conf/old0/forwarding", 1}, {"conf/eth0/forwarding", 1}};
  ForwardingSettings current{{"conf/eth0/forwarding", 1}, {"conf/new0/forwarding", 1}};
  ForwardingSettings off{{"conf/eth0/forwarding", 0}, {"conf/new0/forwarding", 0}};
  EXPECT_EQ(planSettingsRestore(before, current, off, fakeAfterOn), (ForwardingSettings{{"conf/eth0/forwarding", 1}}));
  // Gone between the two reads.
  EXPECT_THAT(planSettingsRestore(before, current, {}, fakeAfterOn), IsEmpty());
}

TEST(PlanSettingsRestore, SettingOnlyTheSwitchOffChanges) {
  // Like IPv6 force_forwarding: the switch-on leaves it, the switch-off zeroes it.
  ForwardingSettings before{{"conf/eth0/force_forwarding", 1}};
  EXPECT_EQ(planSettingsRestore(before, before, {{"conf/eth0/force_forwarding", 0}}, fakeAfterOn), before);
  EXPECT_THAT(planSettingsRestore(before, {{"conf/eth0/force_forwarding", 0}}, {{"conf/eth0/force_forwarding", 0}},
                                  fakeAfterOn),
              IsEmpty());
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
  // The settings the switch rewrites, like Linux's: each written with the switch.
  std::map<IpFamily, ForwardingSettings> settings{
      {IpFamily::V4, {{"conf/eth0/forwarding", 0}, {"conf/all/accept_redirects", 1}}}, {IpFamily::V6, {}}};
  bool fail_read_settings = false;
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
              for (auto& [key, value] : settings[f]) {
                if (key.ends_with("/forwarding")) value = v;
                if (key == "conf/all/accept_redirects") value = !v;
              }
              return success();
            },
            [](IpFamily f) { return std::string(f == IpFamily::V4 ? "fake.v4" : "fake.v6"); },
            [this](IpFamily f) -> Result<ForwardingSettings> {
              if (fail_read_settings) return Error{EIO, "list fake settings"};
              return settings.at(f);
            },
            [](IpFamily, const std::string& key, int before) { return fakeAfterOn(key, before); },
            [this](IpFamily f, const std::string& key, int v) -> Result<void> {
              if (!settings[f].count(key)) return Error{ENOENT, "set " + key};
              writes.push_back(key + "=" + std::to_string(v));
              settings[f][key] = v;
              return success();
            }};
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
  // Ownership and the snapshot were on disk before the switch was written (crash safety).
  EXPECT_THAT(fake_.marker_at_write,
              ElementsAre("ipv4\nipv4 conf/all/accept_redirects 1\nipv4 conf/eth0/forwarding 0\n"));
  EXPECT_TRUE(f.owned().ipv4);
  f.apply(config_);  // a reload: already on, nothing more
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1"));
  f.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0"));
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, RestorePutsBackWhatTheSwitchRewrote) {
  // The administrator routes via eth0's own flag and does not accept redirects.
  fake_.settings[IpFamily::V4] = {{"conf/eth0/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  const ForwardingSettings found = fake_.settings[IpFamily::V4];
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  f.restore();
  // eth0's flag was 1 before and after the switch-on, but the switch-off zeroed it.
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0", "conf/all/accept_redirects=0", "conf/eth0/forwarding=1"));
  EXPECT_EQ(fake_.settings[IpFamily::V4], found);
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, RestoreLeavesWhatSomeoneChangedMeanwhile) {
  fake_.settings[IpFamily::V4] = {
      {"conf/eth0/forwarding", 1}, {"conf/eth1/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  fake_.settings[IpFamily::V4]["conf/eth0/forwarding"] = 0;  // the administrator's, meanwhile
  fake_.settings[IpFamily::V4].erase("conf/eth1/forwarding");  // the interface went away
  f.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0", "conf/all/accept_redirects=0"));
  EXPECT_EQ(fake_.settings[IpFamily::V4]["conf/eth0/forwarding"], 0);
}

TEST_F(ForwardingRun, NoSwitchWithoutASnapshot) {
  fake_.fail_read_settings = true;
  Forwarding f(marker_, fake_.switches());
  f.apply(config_);
  EXPECT_THAT(fake_.writes, IsEmpty());
  EXPECT_FALSE(f.owned().ipv4);
  EXPECT_FALSE(markerExists());
}

TEST_F(ForwardingRun, MarkerOfTheEarlierFormatRestoresTheSwitchAlone) {
  {
    std::ofstream out(marker_);
    out << "ipv4\n";
  }
  fake_.on[IpFamily::V4] = true;
  fake_.settings[IpFamily::V4] = {{"conf/eth0/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  Forwarding f(marker_, fake_.switches());
  EXPECT_TRUE(f.owned().ipv4);
  f.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=0"));
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
  fake_.settings[IpFamily::V4] = {{"conf/eth0/forwarding", 1}, {"conf/all/accept_redirects", 0}};
  {
    Forwarding first(marker_, fake_.switches());
    first.apply(config_);
    // SIGKILL: no restore().
  }
  ASSERT_TRUE(markerExists());
  Forwarding second(marker_, fake_.switches());
  EXPECT_TRUE(second.owned().ipv4);
  EXPECT_EQ(second.owned().before4.at("conf/eth0/forwarding"), 1) << "the snapshot came with the marker";
  second.apply(config_);  // still on: nothing to do, still owned
  second.restore();
  EXPECT_THAT(fake_.writes, ElementsAre("v4=1", "v4=0", "conf/all/accept_redirects=0", "conf/eth0/forwarding=1"));
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
