// NAT parity of the two Policy backends: what the Linux nftables backend must do — exact
// removal, repair after a flush by hand, reload adding and removing `nat`, a changed egress,
// rules vnetd would not write — is checked with the SAME tests, at the Policy level and
// through the reconciler's own rule (daemon/reconciler.h planReconcile), for
//  - FreeBSD: the pf anchor code (platform/freebsd/pf_nat.h, PfNatPolicy) over a model of
//    pfctl and pf's rulesets (tests/support/fake_pf.h);
//  - Linux: the real Policy of platform::openPolicy(), in a private network namespace that
//    main() below makes before any thread starts, so vnetd's nftables table lives there and
//    nothing of the host is read or changed.
// The tests only use the Policy interface (and nftables by hand, through the wrapper, for what an administrator does),
// so they hold whatever the Linux backend's table layout is. The file lives under linux/
// because the Linux half needs a Linux host (unshare(CLONE_NEWNET), libnftables, ip); the FreeBSD
// half is platform-neutral code and runs here with it.
// Further down: FreeBSD-only checks of the exact pfctl commands and of the model itself.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "daemon/reconciler.h"
#include "platform/child_process.h"
#include "platform/freebsd/pf_nat.h"
#include "platform/linux/nftables.h"
#include "platform/policy.h"
#include "tests/support/fake_pf.h"

namespace vnetd {
namespace {

using daemon::ReconcileAction;
using Kind = ReconcileAction::Kind;
using platform::BridgeNat;
using platform::Policy;

// Why the Linux backend cannot run here ("" = it can); set by main() before the tests run.
std::string g_no_private_netns = "main() did not run";

// ---------------------------------------------------------------------------------------
// Backends

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Policy& policy() = 0;
  // Two interface names NAT may go out of.
  virtual std::string egress(int i) const = 0;
  // An administrator flushes vnetd's NAT by hand: at least `bridge`'s rules are gone
  // (FreeBSD: pfctl -a vnetd/<bridge> -F nat; Linux: nft flush table ip vnetd, all bridges).
  virtual void flushByHand(const std::string& bridge) = 0;
  // An administrator flushes the whole packet filter (pfctl -F all; nft flush ruleset).
  virtual void flushEverything() = 0;
  // Whether flushEverything() leaves vnetd's rules loaded (FreeBSD: the anchors stay, only
  // main's nat-anchor goes, so natHooked() turns false) or removes them (Linux).
  virtual bool flushEverythingKeepsRules() const = 0;
  // After flushEverything() with kept rules: the administrator loads pf.conf again.
  virtual void reloadFilterConfig() {}
  // Someone replaces `bridge`'s rule with a translation vnetd would not write (a fixed
  // source address instead of following the egress).
  virtual void writeForeign(const std::string& bridge, const Cidr& subnet, const std::string& egress) = 0;
};

// FreeBSD: PfNatPolicy over FakePf, with pf.conf's `nat-anchor "vnetd/*"` loaded.
class FreebsdBackend final : public Backend {
 public:
  FreebsdBackend() { EXPECT_EQ(pf_.loadMain(kPfConf), 0); }
  Policy& policy() override { return policy_; }
  std::string egress(int i) const override { return i == 0 ? "vtnet0" : "vtnet1"; }
  void flushByHand(const std::string& bridge) override {
    EXPECT_EQ(pf_.pfctl({"-a", "vnetd/" + bridge, "-F", "nat"}), 0);
  }
  void flushEverything() override { EXPECT_EQ(pf_.pfctl({"-F", "all"}), 0); }
  bool flushEverythingKeepsRules() const override { return true; }
  void reloadFilterConfig() override { EXPECT_EQ(pf_.loadMain(kPfConf), 0); }
  void writeForeign(const std::string& bridge, const Cidr& subnet, const std::string& egress) override {
    EXPECT_EQ(pf_.pfctl({"-a", "vnetd/" + bridge, "-f", "-"},
                        "nat on " + egress + " from " + subnet.toString() + " to any -> 198.19.255.1\n"),
              0);
  }

 private:
  static constexpr const char* kPfConf = "nat-anchor \"vnetd/*\"\n";
  // The limits half is rctl's, not under test here.
  class NatOnlyPolicy final : public platform::fbsd::PfNatPolicy {
   public:
    using PfNatPolicy::PfNatPolicy;
    Result<void> applyJailLimits(const std::string&, const RctlLimits&) override { return success(); }
    Result<void> removeJailLimits(const std::string&, const RctlLimits&) override { return success(); }
  };
  testing::FakePf pf_;
  NatOnlyPolicy policy_{pf_};
};

// What an administrator does to nftables by hand, in this process's network namespace,
// through the product's libnftables wrapper (the nft(8) CLI is not a dependency).
Result<void> nftRunByHand(const std::string& commands) { return platform::lnx::nftRun(commands, "test: by hand"); }
Result<std::string> nftListJsonByHand(const std::string& command) {
  return platform::lnx::nftListJson(command, "test: list by hand");
}

Result<void> runTool(const std::string& program, const std::vector<std::string>& argv) {
  platform::ChildSpec spec;
  spec.program = program;
  spec.argv = argv;
  spec.timeout = std::chrono::seconds(10);
  auto ran = platform::runChild(spec);
  if (!ran) return ran.error();
  if (!ran->exited || ran->status != 0) return plainError(argv.front() + " failed: " + ran->output);
  return success();
}

// Linux: the real backend, in the private namespace main() made (nothing of the host).
class LinuxBackend final : public Backend {
 public:
  LinuxBackend() : policy_(platform::openPolicy()) {
    if (!g_no_private_netns.empty()) return;
    // Each test starts from an empty ruleset: this namespace is the test binary's own.
    auto flushed = nftRunByHand("flush ruleset\n");
    EXPECT_TRUE(flushed) << flushed.error().message();
    // Real egress interfaces (a veth pair, created once per namespace), in case the backend
    // checks that the interface exists.
    static bool made = false;
    if (!made) {
      auto r = runTool("/usr/sbin/ip", {"ip", "link", "add", egress(0), "type", "veth", "peer", "name", egress(1)});
      EXPECT_TRUE(r) << r.error().message();
      made = true;
    }
  }
  Policy& policy() override { return *policy_; }
  std::string egress(int i) const override {
    // Unique per run, as the test network rules ask (the namespace is private anyway).
    return "pp" + std::to_string(::getpid() % 100000) + "e" + std::to_string(i);
  }
  void flushByHand(const std::string&) override {
    auto r = nftRunByHand("flush table ip vnetd\n");
    EXPECT_TRUE(r) << r.error().message();
  }
  void flushEverything() override {
    auto r = nftRunByHand("flush ruleset\n");
    EXPECT_TRUE(r) << r.error().message();
  }
  bool flushEverythingKeepsRules() const override { return false; }
  void writeForeign(const std::string& bridge, const Cidr& subnet, const std::string& egress) override {
    // Whatever the table's layout, the bridge's rule matches `ip saddr <subnet>`: replace it
    // in place (same chain, same comment) by a snat to a fixed address.
    auto listed = nftListJsonByHand("list table ip vnetd");
    ASSERT_TRUE(listed) << listed.error().message();
    auto json = nlohmann::json::parse(*listed);
    int replaced = 0;
    for (const auto& item : json.at("nftables")) {
      if (!item.contains("rule")) continue;
      const auto& rule = item["rule"];
      bool ours = false;
      for (const auto& e : rule.value("expr", nlohmann::json::array())) {
        if (!e.contains("match")) continue;
        const auto& m = e["match"];
        if (m.value("left", nlohmann::json::object()).contains("payload") &&
            m["left"]["payload"].value("field", "") == "saddr" && m.value("right", nlohmann::json::object()).contains("prefix") &&
            m["right"]["prefix"].value("addr", "") == subnet.network().toString() &&
            m["right"]["prefix"].value("len", -1) == subnet.prefix)
          ours = true;
      }
      if (!ours) continue;
      std::string cmd = "replace rule ip vnetd " + rule.at("chain").get<std::string>() + " handle " +
                        std::to_string(rule.at("handle").get<int>()) + " ip saddr " +
                        Cidr{subnet.network(), subnet.prefix}.toString() + " oifname \"" + egress +
                        "\" snat to 198.19.255.1";
      if (rule.contains("comment")) cmd += " comment \"" + rule["comment"].get<std::string>() + "\"";
      auto r = nftRunByHand(cmd + "\n");
      ASSERT_TRUE(r) << r.error().message();
      ++replaced;
    }
    ASSERT_EQ(replaced, 1) << "the rule of bridge " << bridge << " in:\n" << *listed;
  }

 private:
  std::unique_ptr<Policy> policy_;
};

struct BackendParam {
  const char* name;
  std::unique_ptr<Backend> (*make)();
  std::string (*unavailable)();
};

const BackendParam kFreebsd{"FreebsdPfAnchor", [] { return std::unique_ptr<Backend>(new FreebsdBackend); },
                            [] { return std::string(); }};
const BackendParam kLinux{"LinuxNftables", [] { return std::unique_ptr<Backend>(new LinuxBackend); }, [] {
                            if (!g_no_private_netns.empty()) return g_no_private_netns;
                            if (!std::filesystem::exists("/usr/sbin/ip")) return std::string("no /usr/sbin/ip");
                            return std::string();
                          }};

// ---------------------------------------------------------------------------------------
// The bridges and the configuration, as the daemon would load them.

struct TestBridge {
  const char* key;
  const char* interface;
  const char* address;
};
constexpr TestBridge kBridges[] = {{"lan0", "vpbr0", "198.18.40.1/24"}, {"lan1", "vpbr1", "198.18.41.1/24"}};

Cidr subnetOf(int b) {
  Cidr a = *Cidr::parse(kBridges[b].address);
  return Cidr{a.network(), a.prefix};
}

// Both bridges; bridge i translates out of nat[i] ("" = no nat).
Config configWith(const std::string& nat0, const std::string& nat1) {
  std::string text;
  const std::string nat[] = {nat0, nat1};
  for (int b = 0; b < 2; ++b) {
    text += std::string("[bridge.") + kBridges[b].key + "]\ninterface = \"" + kBridges[b].interface +
            "\"\naddress = \"" + kBridges[b].address + "\"\n";
    if (!nat[b].empty()) text += "nat = \"" + nat[b] + "\"\n";
  }
  auto loaded = parseConfig(text, "parity.toml");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.toString();
  return *loaded.config;
}

class PolicyParity : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    if (auto why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
    backend_ = GetParam().make();
  }

  Policy& policy() { return backend_->policy(); }
  std::string egress(int i) { return backend_->egress(i); }
  BridgeNat expected(int b, int e) { return BridgeNat{egress(e), {subnetOf(b)}, true}; }

  std::optional<BridgeNat> read(int b) {
    auto r = policy().bridgeNat(kBridges[b].interface);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::nullopt;
  }
  void apply(int b, int e) {
    auto r = policy().applyBridgeNat(kBridges[b].interface, *Cidr::parse(kBridges[b].address), egress(e));
    ASSERT_TRUE(r) << r.error().message();
  }

  // One reconcile pass's NAT decisions, planned as the daemon plans them: the NAT of both
  // bridges read back through the Policy, both bridges present, up and addressed, both
  // egress interfaces present.
  std::vector<ReconcileAction> plan(const Config& cfg) {
    std::map<std::string, std::optional<BridgeNat>> loaded;
    for (int b = 0; b < 2; ++b) loaded[kBridges[b].interface] = read(b);
    std::vector<platform::LinkInfo> links;
    std::vector<platform::AddressInfo> addrs;
    uint32_t index = 10;
    for (const auto& [key, br] : cfg.bridges) {
      platform::LinkInfo l;
      l.index = ++index;
      l.name = br.interface;
      l.kind = platform::LinkKind::Bridge;
      l.admin_up = true;
      links.push_back(l);
      if (br.address) addrs.push_back({l.index, *br.address});
    }
    for (int e = 0; e < 2; ++e) {  // both egress interfaces exist (NAT waits for a missing one)
      platform::LinkInfo l;
      l.index = ++index;
      l.name = egress(e);
      l.admin_up = true;
      links.push_back(l);
    }
    State state;
    std::set<std::string> none;
    daemon::OrphanClock clock;
    daemon::ReconcileInput in;
    in.config = &cfg;
    in.state = &state;
    in.host_links = &links;
    in.host_addresses = &addrs;
    in.running_jails = &none;
    in.known_jails = &none;
    in.nat_loaded = &loaded;
    in.host_id = "parity";
    return daemon::planReconcile(in, clock);
  }

  // Executes NAT actions the way the daemon's reconcile pass does (daemon/mutator.cc).
  void execute(const Config& cfg, const std::vector<ReconcileAction>& actions) {
    for (const auto& a : actions) {
      Result<void> done = success();
      if (a.kind == Kind::EnsureNat) {
        const BridgeConfig& br = cfg.bridges.at(a.bridge);
        auto want = daemon::wantedNat(br);
        ASSERT_TRUE(want);
        done = policy().applyBridgeNat(br.interface, want->subnets.front(), want->egress);
      } else if (a.kind == Kind::RemoveNat) {
        done = policy().removeBridgeNat(a.bridge);
      } else {
        ADD_FAILURE() << "unexpected action " << daemon::actionKindName(a.kind) << ": " << a.reason;
      }
      ASSERT_TRUE(done) << done.error().message();
    }
  }

  static std::vector<std::pair<Kind, std::string>> summary(const std::vector<ReconcileAction>& plan) {
    std::vector<std::pair<Kind, std::string>> out;
    for (const auto& a : plan) out.emplace_back(a.kind, a.bridge);
    return out;
  }

  std::unique_ptr<Backend> backend_;
};

std::string backendName(const ::testing::TestParamInfo<BackendParam>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Backends, PolicyParity, ::testing::Values(kFreebsd, kLinux), backendName);

TEST_P(PolicyParity, AppliedNatReadsBackExactly) {
  EXPECT_EQ(read(0), std::nullopt) << "nothing loaded yet";
  apply(0, 0);
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), std::nullopt) << "another bridge's NAT is not this one's";
  apply(0, 0);  // loading again replaces, never adds
  EXPECT_EQ(read(0), expected(0, 0));
  auto hooked = policy().natHooked();
  ASSERT_TRUE(hooked) << hooked.error().message();
  EXPECT_TRUE(*hooked);
  // A healthy world needs nothing.
  EXPECT_TRUE(plan(configWith(egress(0), "")).empty());
}

TEST_P(PolicyParity, RemovingOneBridgesNatLeavesTheOther) {
  apply(0, 0);
  apply(1, 1);
  ASSERT_TRUE(policy().removeBridgeNat(kBridges[0].interface));
  EXPECT_EQ(read(0), std::nullopt);
  EXPECT_EQ(read(1), expected(1, 1));
  // Removing what is not there is success and changes nothing.
  auto again = policy().removeBridgeNat(kBridges[0].interface);
  EXPECT_TRUE(again) << again.error().message();
  EXPECT_EQ(read(0), std::nullopt);
  EXPECT_EQ(read(1), expected(1, 1));
}

TEST_P(PolicyParity, NatFlushedByHandIsPlannedAndLoadedAgainExactly) {
  const Config cfg = configWith(egress(0), egress(1));
  apply(0, 0);
  apply(1, 1);
  backend_->flushByHand(kBridges[0].interface);
  EXPECT_EQ(read(0), std::nullopt);
  auto actions = plan(cfg);
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(summary(actions).front(), std::make_pair(Kind::EnsureNat, std::string("lan0")));
  for (const auto& a : actions) EXPECT_EQ(a.kind, Kind::EnsureNat) << a.reason;
  execute(cfg, actions);
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), expected(1, 1));
  EXPECT_TRUE(plan(cfg).empty()) << "repaired: nothing more to do";
}

TEST_P(PolicyParity, FlushingTheWholeFilter) {
  const Config cfg = configWith(egress(0), egress(1));
  apply(0, 0);
  apply(1, 1);
  backend_->flushEverything();
  auto hooked = policy().natHooked();
  ASSERT_TRUE(hooked) << hooked.error().message();
  if (backend_->flushEverythingKeepsRules()) {
    // FreeBSD: the anchors keep their rules, pf no longer calls them; vnetd cannot load
    // pf.conf itself (the daemon warns through NatHookWatch), so nothing is planned.
    EXPECT_FALSE(*hooked);
    EXPECT_EQ(read(0), expected(0, 0));
    EXPECT_EQ(read(1), expected(1, 1));
    EXPECT_TRUE(plan(cfg).empty());
    backend_->reloadFilterConfig();
    hooked = policy().natHooked();
    ASSERT_TRUE(hooked);
    EXPECT_TRUE(*hooked);
  } else {
    // Linux: vnetd's table went with the ruleset; its own chain is its hook.
    EXPECT_TRUE(*hooked);
    EXPECT_EQ(read(0), std::nullopt);
    EXPECT_EQ(read(1), std::nullopt);
    auto actions = plan(cfg);
    EXPECT_EQ(summary(actions), (std::vector<std::pair<Kind, std::string>>{{Kind::EnsureNat, "lan0"},
                                                                            {Kind::EnsureNat, "lan1"}}));
    execute(cfg, actions);
  }
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), expected(1, 1));
  EXPECT_TRUE(plan(cfg).empty());
}

TEST_P(PolicyParity, ReloadRemovesAndAddsNat) {
  const Config both = configWith(egress(0), egress(1));
  // Never loaded (nat came with the configuration): both planned, both loaded.
  auto actions = plan(both);
  EXPECT_EQ(summary(actions),
            (std::vector<std::pair<Kind, std::string>>{{Kind::EnsureNat, "lan0"}, {Kind::EnsureNat, "lan1"}}));
  execute(both, actions);
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), expected(1, 1));

  // `nat` taken out of lan0: its rules go, lan1's stay.
  const Config one = configWith("", egress(1));
  actions = plan(one);
  EXPECT_EQ(summary(actions), (std::vector<std::pair<Kind, std::string>>{{Kind::RemoveNat, "vpbr0"}}));
  execute(one, actions);
  EXPECT_EQ(read(0), std::nullopt);
  EXPECT_EQ(read(1), expected(1, 1));
  EXPECT_TRUE(plan(one).empty());

  // Added back.
  actions = plan(both);
  EXPECT_EQ(summary(actions), (std::vector<std::pair<Kind, std::string>>{{Kind::EnsureNat, "lan0"}}));
  execute(both, actions);
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), expected(1, 1));

  // No NAT anywhere: both removed.
  const Config none = configWith("", "");
  actions = plan(none);
  EXPECT_EQ(summary(actions),
            (std::vector<std::pair<Kind, std::string>>{{Kind::RemoveNat, "vpbr0"}, {Kind::RemoveNat, "vpbr1"}}));
  execute(none, actions);
  EXPECT_EQ(read(0), std::nullopt);
  EXPECT_EQ(read(1), std::nullopt);
  EXPECT_TRUE(plan(none).empty());
}

TEST_P(PolicyParity, AChangedEgressIsReplacedNotAdded) {
  apply(0, 0);
  apply(1, 0);
  const Config moved = configWith(egress(1), egress(0));
  auto actions = plan(moved);
  EXPECT_EQ(summary(actions), (std::vector<std::pair<Kind, std::string>>{{Kind::EnsureNat, "lan0"}}));
  execute(moved, actions);
  EXPECT_EQ(read(0), expected(0, 1)) << "one rule, out of the new egress only";
  EXPECT_EQ(read(1), expected(1, 0));
  EXPECT_TRUE(plan(moved).empty());
}

TEST_P(PolicyParity, RulesVnetdWouldNotWriteAreReplaced) {
  const Config cfg = configWith(egress(0), egress(1));
  apply(0, 0);
  apply(1, 1);
  backend_->writeForeign(kBridges[0].interface, subnetOf(0), egress(0));
  auto foreign = read(0);
  ASSERT_TRUE(foreign) << "a foreign rule is something loaded, not nothing";
  EXPECT_FALSE(foreign->recognised);
  EXPECT_EQ(read(1), expected(1, 1));
  auto actions = plan(cfg);
  ASSERT_EQ(summary(actions), (std::vector<std::pair<Kind, std::string>>{{Kind::EnsureNat, "lan0"}}));
  // Judged as foreign, not as merely another egress or subnet: the log says what was found.
  EXPECT_NE(actions[0].reason.find("holds rules vnetd did not write"), std::string::npos) << actions[0].reason;
  execute(cfg, actions);
  EXPECT_EQ(read(0), expected(0, 0));
  EXPECT_EQ(read(1), expected(1, 1));
}

// ---------------------------------------------------------------------------------------
// FreeBSD only: the exact pfctl commands PfNatPolicy runs (the rule text and anchor name
// themselves: freebsd_abi/policy_text_test.cc PfNat.AnchorAndRules), and the model.

class PfPolicy final : public platform::fbsd::PfNatPolicy {
 public:
  using PfNatPolicy::PfNatPolicy;
  Result<void> applyJailLimits(const std::string&, const RctlLimits&) override { return success(); }
  Result<void> removeJailLimits(const std::string&, const RctlLimits&) override { return success(); }
};

using Argv = std::vector<std::string>;

TEST(PfNatPolicy, RunsExactlyThesePfctlCommands) {
  testing::FakePf pf;
  PfPolicy policy(pf);
  ASSERT_TRUE(policy.applyBridgeNat("vpbr0", *Cidr::parse("198.18.40.1/24"), "vtnet0"));
  ASSERT_EQ(pf.calls().size(), 1u);
  EXPECT_EQ(pf.calls()[0].argv, (Argv{"pfctl", "-a", "vnetd/vpbr0", "-f", "-"}));
  EXPECT_EQ(pf.calls()[0].input, "nat on vtnet0 from 198.18.40.0/24 to any -> (vtnet0)\n");
  EXPECT_EQ(pf.natRules("vnetd/vpbr0"),
            (Argv{"nat on vtnet0 inet from 198.18.40.0/24 to any -> (vtnet0) round-robin"}));

  pf.clearCalls();
  ASSERT_TRUE(policy.bridgeNat("vpbr0"));
  ASSERT_EQ(pf.calls().size(), 1u);
  EXPECT_EQ(pf.calls()[0].argv, (Argv{"pfctl", "-a", "vnetd/vpbr0", "-s", "nat"}));
  EXPECT_EQ(pf.calls()[0].input, "");

  pf.clearCalls();
  ASSERT_TRUE(policy.natHooked());
  ASSERT_EQ(pf.calls().size(), 1u);
  EXPECT_EQ(pf.calls()[0].argv, (Argv{"pfctl", "-s", "nat"})) << "the main ruleset";

  pf.clearCalls();
  ASSERT_TRUE(policy.removeBridgeNat("vpbr0"));
  ASSERT_EQ(pf.calls().size(), 1u);
  EXPECT_EQ(pf.calls()[0].argv, (Argv{"pfctl", "-a", "vnetd/vpbr0", "-f", "-"}));
  EXPECT_EQ(pf.calls()[0].input, "") << "an empty ruleset replaces the anchor's";
  EXPECT_FALSE(pf.anchorExists("vnetd/vpbr0"));
}

TEST(PfNatPolicy, BadNamesNeverReachPfctl) {
  testing::FakePf pf;
  PfPolicy policy(pf);
  EXPECT_FALSE(policy.applyBridgeNat("br 0", *Cidr::parse("198.18.40.1/24"), "vtnet0"));
  EXPECT_FALSE(policy.applyBridgeNat("vpbr0", *Cidr::parse("198.18.40.1/24"), "vtnet0\"; pass all"));
  EXPECT_FALSE(policy.applyBridgeNat("vpbr0", *Cidr::parse("2001:db8::1/64"), "vtnet0"));
  EXPECT_FALSE(policy.removeBridgeNat("br/0"));
  EXPECT_FALSE(policy.bridgeNat("br 0"));
  EXPECT_TRUE(pf.calls().empty());
}

TEST(PfNatPolicy, APfctlFailureIsOneLineAndNothingIsTakenAsLoaded) {
  testing::FakePf pf;
  PfPolicy policy(pf);
  pf.failNext(1, "pfctl: /dev/pf: No such file or directory\n");
  auto r = policy.applyBridgeNat("vpbr0", *Cidr::parse("198.18.40.1/24"), "vtnet0");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "load NAT rules into pf anchor vnetd/vpbr0: pfctl exited with status 1: pfctl: /dev/pf: No such file or "
            "directory");
  EXPECT_FALSE(pf.anchorExists("vnetd/vpbr0"));

  pf.failNext(1, "pfctl: DIOCGETRULES: Operation not permitted\nsecond line\n");
  auto read = policy.bridgeNat("vpbr0");
  ASSERT_FALSE(read) << "a failed read is not 'nothing loaded'";
  EXPECT_EQ(read.error().message(),
            "pfctl -s nat: pfctl exited with status 1: pfctl: DIOCGETRULES: Operation not permitted;second line");
  // The anchor pf does not have is nothing loaded, whether pfctl exits 0 (as main() does)
  // or not.
  pf.failNext(1, "pfctl: DIOCGETRULES: Invalid argument\n");
  read = policy.bridgeNat("vpbr0");
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, std::nullopt);
}

// The model against what pfctl prints (the fixtures of freebsd_abi/pf_show_test.cc) and
// how pf keeps anchors (fake_pf.h cites the sources).
TEST(FakePf, PrintsRulesAsPfctlDoes) {
  testing::FakePf pf;
  EXPECT_EQ(pf.pfctl({"-a", "vnetd/b", "-f", "-"},
                     "# comment\n\nnat on em0 from 198.18.0.0/24 to any -> (em0)\n"
                     "nat on em0 inet from 198.18.0.9 to any -> 203.0.113.1\n"),
            0);
  EXPECT_EQ(pf.natRules("vnetd/b"), (Argv{"nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin",
                                          "nat on em0 inet from 198.18.0.9 to any -> 203.0.113.1"}));
  auto shown = pf.run({"pfctl", "-a", "vnetd/b", "-s", "nat"}, "", 4096);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->output,
            "nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin\n"
            "nat on em0 inet from 198.18.0.9 to any -> 203.0.113.1\n");
  EXPECT_EQ(pf.loadMain("nat-anchor \"vnetd/*\"\n"), 0);
  shown = pf.run({"pfctl", "-s", "nat"}, "", 4096);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->output, "nat-anchor \"vnetd/*\" all\n");
}

TEST(FakePf, AnAnchorPfDoesNotHaveWarnsAndExitsZero) {
  testing::FakePf pf;
  auto shown = pf.run({"pfctl", "-a", "vnetd/none", "-s", "nat"}, "", 4096);
  ASSERT_TRUE(shown);
  EXPECT_TRUE(shown->exited);
  EXPECT_EQ(shown->status, 0);
  EXPECT_EQ(shown->output, "pfctl: DIOCGETRULES: Invalid argument\n");
}

TEST(FakePf, ABadRulesetLoadsNothing) {
  testing::FakePf pf;
  ASSERT_EQ(pf.pfctl({"-a", "vnetd/b", "-f", "-"}, "nat on em0 from 198.18.0.0/24 to any -> (em0)\n"), 0);
  auto bad = pf.run({"pfctl", "-a", "vnetd/b", "-f", "-"}, "nat on em1 from 198.18.0.0/24 to any -> (em1)\npass all\n",
                    4096);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 1);
  EXPECT_EQ(bad->output, "stdin:2: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n");
  EXPECT_EQ(pf.natRules("vnetd/b"), (Argv{"nat on em0 inet from 198.18.0.0/24 to any -> (em0) round-robin"}));
}

TEST(FakePf, FlushingAllOfMainKeepsTheAnchorsAndDropsTheHook) {
  testing::FakePf pf;
  ASSERT_EQ(pf.loadMain("nat-anchor \"vnetd/*\"\n"), 0);
  EXPECT_TRUE(pf.anchorExists("vnetd")) << "created and referenced by the anchor call";
  ASSERT_EQ(pf.pfctl({"-a", "vnetd/b0", "-f", "-"}, "nat on em0 from 198.18.0.0/24 to any -> (em0)\n"), 0);
  ASSERT_EQ(pf.pfctl({"-a", "vnetd/b1", "-f", "-"}, "nat on em0 from 198.18.1.0/24 to any -> (em0)\n"), 0);
  ASSERT_EQ(pf.pfctl({"-F", "all"}), 0);
  EXPECT_TRUE(pf.natRules("").empty());
  EXPECT_EQ(pf.natRules("vnetd/b0").size(), 1u);
  EXPECT_EQ(pf.natRules("vnetd/b1").size(), 1u);
  // Emptying the anchors removes them, then their parent, no longer referenced.
  ASSERT_EQ(pf.pfctl({"-a", "vnetd/b0", "-F", "nat"}), 0);
  EXPECT_FALSE(pf.anchorExists("vnetd/b0"));
  EXPECT_TRUE(pf.anchorExists("vnetd"));
  ASSERT_EQ(pf.pfctl({"-a", "vnetd/b1", "-F", "a"}), 0);  // "a" = all, pfctl_lookup_option
  EXPECT_FALSE(pf.anchorExists("vnetd/b1"));
  EXPECT_FALSE(pf.anchorExists("vnetd"));
}

TEST(FakePf, CommandsOutsideTheModelAreRefused) {
  testing::FakePf pf;
  for (const Argv& argv : {Argv{"pfctl", "-s", "info"}, Argv{"pfctl", "-a", "vnetd/*", "-s", "nat"},
                           Argv{"pfctl", "-a", "x", "-f", "/etc/pf.conf"}, Argv{"pfctl", "-e"}, Argv{"nft"}}) {
    auto r = pf.run(argv, "", 4096);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 64) << argv.back();
  }
}

}  // namespace
}  // namespace vnetd

int main(int argc, char** argv) {
  // Before any thread exists (gtest starts none; nothing else runs yet): this process gets a
  // network namespace of its own, so the Linux backend's nftables table and the test's
  // interfaces are there and the host's stay untouched. Child processes (nft, ip) inherit it.
  if (::unshare(CLONE_NEWNET) == 0)
    vnetd::g_no_private_netns.clear();
  else
    vnetd::g_no_private_netns = std::string("Linux backend skipped: unshare(CLONE_NEWNET): ") + std::strerror(errno) +
                                " (needs root)";
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
