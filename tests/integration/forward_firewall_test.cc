// doctor's firewall:forward:<bridge> on a real kernel: a forward chain with policy drop in
// a table of the test's own, inside a network namespace of the test's own playing the
// host (never a table in this machine's namespace). doctor, run in there, warns with the
// rule; the printed rule, applied, makes the warning go.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "core/unique_fd.h"
#include "platform/linux/forward_firewall.h"
#include "platform/linux/nftables.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using ::testing::HasSubstr;

constexpr const char* kTable = "vnetd_test_fw";

class ForwardFirewallTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure()) return;
    ns_ = net_.jailName("fwh");
    net_.addNamespace(ns_);
    br_ = net_.bridgeName("ff");
    // A jail routing via the bridge's address: the bridge needs forwarding (the check
    // looks at no other bridge). Nothing needs to run for doctor to judge the firewall.
    writeConfig("[bridge.lan]\ninterface = \"" + br_ + "\"\naddress = \"198.18.239.1/24\"\n\n[jail.fwj]\n"
                "[[jail.fwj.interface]]\nbridge = \"lan\"\naddress = \"198.18.239.2/24\"\n");
  }

  // libnftables in the test's namespace: a thread that enters it (the wrapper works on the
  // calling thread's namespace), so nft(8) is not needed.
  Result<void> nftIn(const std::string& commands) {
    Result<void> out = plainError("not run");
    std::thread t([&] {
      UniqueFd fd(::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd || ::setns(fd.get(), CLONE_NEWNET) != 0) {
        out = errnoError("enter " + ns_);
        return;
      }
      out = platform::lnx::nftRun(commands, "test ruleset");
    });
    t.join();
    return out;
  }

  Json doctorIn() {
    auto r = testing::run({"ip", "netns", "exec", ns_, VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--json"});
    Json checks = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(checks.is_array()) << r.out << r.err;
    return checks;
  }
  Json check(const Json& checks, const std::string& name) {
    if (checks.is_array())
      for (const auto& c : checks)
        if (c["check"] == name) return c;
    ADD_FAILURE() << "no check " << name << " in " << checks.dump();
    return Json::object({{"status", ""}, {"fix", ""}, {"message", ""}});
  }

  // This machine's own ruleset has no table of this test.
  void expectHostUntouched() {
    auto json = platform::lnx::nftListJson("list ruleset", "list the host's ruleset");
    ASSERT_TRUE(json) << json.error().message();
    auto rs = platform::lnx::decodeNftRuleset(*json);
    ASSERT_TRUE(rs);
    for (const auto& t : rs->tables) EXPECT_NE(t.name, kTable) << "a test table leaked into the host's namespace";
  }

  std::string ns_, br_;
};

TEST_F(ForwardFirewallTest, PolicyDropIsFoundAndThePrintedRuleLetsTheBridgeThrough) {
  Json checks = doctorIn();
  EXPECT_EQ(check(checks, "firewall:forward:lan")["status"], "ok") << "a new namespace has no firewall";

  ASSERT_TRUE(nftIn(std::string("add table inet ") + kTable + "\nadd chain inet " + kTable +
                    " forward { type filter hook forward priority 0; policy drop; }\n"));
  checks = doctorIn();
  Json v = check(checks, "firewall:forward:lan");
  EXPECT_EQ(v["status"], "warn");
  EXPECT_THAT(v["message"].get<std::string>(),
              HasSubstr(std::string("table inet ") + kTable + " chain forward (policy drop) drops it both ways"));
  const std::string fix = v["fix"].get<std::string>();
  EXPECT_EQ(fix, std::string("nft insert rule inet ") + kTable + " forward iifname \"" + br_ + "\" accept && " +
                     "nft insert rule inet " + kTable + " forward oifname \"" + br_ +
                     "\" ct state established,related accept");

  // Apply it as printed: each `nft ...` command, its arguments as nft(8) would get them.
  size_t start = 0;
  while (start < fix.size()) {
    size_t end = fix.find(" && ", start);
    std::string cmd = fix.substr(start, end == std::string::npos ? std::string::npos : end - start);
    ASSERT_EQ(cmd.rfind("nft ", 0), 0u) << cmd;
    auto r = nftIn(cmd.substr(4));
    ASSERT_TRUE(r) << cmd << ": " << r.error().message();
    if (end == std::string::npos) break;
    start = end + 4;
  }
  checks = doctorIn();
  v = check(checks, "firewall:forward:lan");
  EXPECT_EQ(v["status"], "ok") << v.dump();

  // Only the first half of the fix (a drop of replies remains): the warning says which.
  ASSERT_TRUE(nftIn(std::string("flush chain inet ") + kTable + " forward\nadd rule inet " + kTable +
                    " forward iifname \"" + br_ + "\" accept\n"));
  v = check(doctorIn(), "firewall:forward:lan");
  EXPECT_EQ(v["status"], "warn");
  EXPECT_THAT(v["message"].get<std::string>(), HasSubstr("drops the replies to the jails"));
  EXPECT_EQ(v["fix"], std::string("nft insert rule inet ") + kTable + " forward oifname \"" + br_ +
                          "\" ct state established,related accept");
  expectHostUntouched();
}

}  // namespace
}  // namespace vnetd
