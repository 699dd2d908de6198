// JailNetwork against recording fakes of the platform: the order of state-store writes
// and kernel calls, and what each phase does on failure, checked without a kernel. The
// real thing on Linux is tests/integration/hook_test.cc and jail_order_test.cc.
#include "core/jail_network.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/state_store.h"

namespace vnetd {
namespace {

using platform::JailInfo;
using platform::LinkInfo;

// One "kernel": the host's links and each jail's links, by name.
struct World {
  std::map<std::string, LinkInfo> host;
  std::map<std::string, std::map<std::string, LinkInfo>> jails;  // jail name → links inside
  std::map<std::string, JailInfo> running;
  std::map<std::string, bool> ipv6_on;  // jail/link → IPv6 enabled
  // Addresses each stack reports ("" = the host), and the host's neighbour entries. Only
  // what a test puts here: addAddress does not record (the calls log says what was added).
  std::map<std::string, std::vector<platform::AddressInfo>> addresses;
  std::vector<platform::NeighbourInfo> neighbours;
  std::vector<std::string> calls;       // "createPair e0a_web", "save", ...
  std::string fail_on;                  // a call (prefix) that fails with EIO
  std::function<void(const std::string& call)> on_call;
  std::vector<RctlLimits> removed_limits;  // every removeJailLimits call's argument, in order

  Result<void> call(const std::string& what) {
    calls.push_back(what);
    if (on_call) on_call(what);
    if (!fail_on.empty() && what.rfind(fail_on, 0) == 0) return Error{EIO, what + ": injected failure"};
    return success();
  }
};

class FakeStack final : public platform::NetStack {
 public:
  FakeStack(World& w, std::string jail) : w_(w), jail_(std::move(jail)) {}

  std::map<std::string, LinkInfo>& links_() { return jail_.empty() ? w_.host : w_.jails[jail_]; }
  std::string where() const { return jail_.empty() ? "" : " in " + jail_; }

  Result<std::vector<LinkInfo>> links() override {
    std::vector<LinkInfo> out;
    for (auto& [n, l] : links_()) out.push_back(l);
    return out;
  }
  Result<std::optional<LinkInfo>> link(const std::string& name) override {
    auto it = links_().find(name);
    if (it == links_().end()) return std::optional<LinkInfo>();
    return std::optional<LinkInfo>(it->second);
  }
  Result<void> createPair(const platform::PairSpec& spec) override {
    VNETD_TRY(w_.call("createPair " + spec.host_name));
    LinkInfo a, b;
    a.name = spec.host_name;
    a.mac = spec.host_mac;
    a.description = spec.description;
    b.name = spec.jail_name;
    b.mac = spec.jail_mac;
    b.description = spec.description;
    w_.host[a.name] = a;
    if (spec.peer_in_jail) w_.jails[spec.peer_in_jail->name][b.name] = b;
    else w_.host[b.name] = b;
    return success();
  }
  Result<void> createBridge(const std::string& name, std::optional<uint32_t>) override {
    VNETD_TRY(w_.call("createBridge " + name));
    LinkInfo l;
    l.name = name;
    l.kind = platform::LinkKind::Bridge;
    w_.host[name] = l;
    return success();
  }
  Result<void> createVlan(const std::string&, const std::string&, uint16_t) override { return success(); }
  Result<void> destroyLink(const std::string& name) override {
    VNETD_TRY(w_.call("destroy " + name + where()));
    auto it = links_().find(name);
    if (it == links_().end()) return Error{ENODEV, "no " + name};
    // Either end of a pair destroys both, wherever the other is (same description).
    std::string desc = it->second.description;
    links_().erase(it);
    auto drop = [&](std::map<std::string, LinkInfo>& m) {
      std::erase_if(m, [&](const auto& kv) { return !desc.empty() && kv.second.description == desc; });
    };
    drop(w_.host);
    for (auto& [j, m] : w_.jails) drop(m);
    return success();
  }
  Result<void> addBridgeMember(const std::string&, const std::string&, bool) override { return success(); }
  Result<void> moveToJail(const std::string& name, const JailInfo& jail) override {
    VNETD_TRY(w_.call("move " + name + " to " + jail.name));
    auto node = w_.host.extract(name);
    if (node.empty()) return Error{ENODEV, "no " + name};
    w_.jails[jail.name].insert(std::move(node));
    return success();
  }
  Result<void> reclaimFromJail(const std::string& name, const JailInfo& jail) override {
    VNETD_TRY(w_.call("reclaim " + name + " from " + jail.name));
    auto node = w_.jails[jail.name].extract(name);
    if (node.empty()) return Error{ENODEV, "no " + name + " in " + jail.name};
    w_.host.insert(std::move(node));
    return success();
  }
  Result<void> rename(const std::string& from, const std::string& to) override {
    VNETD_TRY(w_.call("rename " + from + " " + to + where()));
    if (links_().count(to)) return Error{EEXIST, to + " exists"};
    auto node = links_().extract(from);
    if (node.empty()) return Error{ENODEV, "no " + from};
    node.key() = to;
    node.mapped().name = to;
    links_().insert(std::move(node));
    return success();
  }
  Result<void> setMtu(const std::string&, uint32_t) override { return success(); }
  Result<void> setMac(const std::string&, const MacAddress&) override { return success(); }
  Result<void> setDescription(const std::string& name, const std::string& text) override {
    if (links_().count(name)) links_()[name].description = text;
    return success();
  }
  Result<void> setUp(const std::string& name, bool up) override {
    VNETD_TRY(w_.call(std::string(up ? "up " : "down ") + name + where()));
    if (links_().count(name)) links_()[name].admin_up = up;
    return success();
  }
  Result<std::vector<platform::AddressInfo>> addresses(uint32_t index) override {
    std::vector<platform::AddressInfo> out;
    for (const auto& a : w_.addresses[jail_])
      if (index == 0 || a.link_index == index) out.push_back(a);
    return out;
  }
  Result<void> addAddress(const std::string& name, const Cidr& cidr) override {
    return w_.call("address " + cidr.toString() + " " + name + where());
  }
  Result<std::vector<platform::NeighbourInfo>> neighbours(uint32_t index) override {
    VNETD_TRY(w_.call("neighbours" + where()));
    std::vector<platform::NeighbourInfo> out;
    if (jail_.empty())
      for (const auto& n : w_.neighbours)
        if (index == 0 || n.link_index == index) out.push_back(n);
    return out;
  }
  Result<std::vector<platform::RouteInfo>> defaultRoutes() override { return std::vector<platform::RouteInfo>{}; }
  Result<void> setDefaultRoute(const IpAddress& gw) override { return w_.call("route " + gw.toString() + where()); }
  Result<void> loopbackUp() override { return w_.call("lo" + where()); }
  Result<bool> ipv6Enabled(const std::string& name) override { return w_.ipv6_on[jail_ + "/" + name]; }
  Result<void> enableIpv6(const std::string& name) override {
    VNETD_TRY(w_.call("ipv6 " + name + where()));
    w_.ipv6_on[jail_ + "/" + name] = true;
    return success();
  }
  Result<void> enableAutoconf(const std::string& name) override {
    return w_.call("autoconf " + name + where());
  }
  Result<void> solicitRouters(const std::string& name) override {
    return w_.call("solicit " + name + where());
  }

 private:
  World& w_;
  std::string jail_;
};

class FakeJails final : public platform::Jails {
 public:
  explicit FakeJails(World& w) : w_(w) {}
  Result<std::vector<JailInfo>> list() override {
    std::vector<JailInfo> out;
    for (auto& [n, j] : w_.running) out.push_back(j);
    return out;
  }
  Result<std::optional<JailInfo>> find(const std::string& name) override {
    auto it = w_.running.find(name);
    if (it == w_.running.end()) return std::optional<JailInfo>();
    return std::optional<JailInfo>(it->second);
  }
  Result<std::unique_ptr<platform::NetStack>> openStack(const JailInfo& jail) override {
    return std::unique_ptr<platform::NetStack>(new FakeStack(w_, jail.name));
  }

 private:
  World& w_;
};

class FakePolicy final : public platform::Policy {
 public:
  explicit FakePolicy(World& w) : w_(w) {}
  Result<void> applyJailLimits(const std::string& jail, const RctlLimits& l) override {
    return l.empty() ? success() : w_.call("limits " + jail);
  }
  Result<void> removeJailLimits(const std::string& jail, const RctlLimits& l) override {
    if (!l.empty()) w_.removed_limits.push_back(l);
    return l.empty() ? success() : w_.call("unlimit " + jail);
  }
  Result<void> applyBridgeNat(const std::string&, const Cidr&, const std::string&) override { return success(); }
  Result<void> removeBridgeNat(const std::string&) override { return success(); }
  Result<std::optional<platform::BridgeNat>> bridgeNat(const std::string&) override {
    return std::optional<platform::BridgeNat>();
  }
  Result<bool> natHooked() override { return true; }

 private:
  World& w_;
};

class JailNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("jail_network_test." + std::to_string(::getpid()) + "." +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = StateStore::open(dir_.string());
    ASSERT_TRUE(s);
    store_.emplace(std::move(*s));
    configure("");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void configure(const std::string& jail_extra) {
    auto loaded = parseConfig(
        "[bridge.lan]\ninterface = \"br0\"\naddress = \"198.18.7.1/24\"\naddress6 = \"2001:db8:7::1/64\"\n"
        "[jail.web]\n[[jail.web.interface]]\nbridge = \"lan\"\naddress = \"198.18.7.10/24\"\n"
        "address6 = \"2001:db8:7::10/64\"\ngateway6 = \"2001:db8:7::1\"\n" + jail_extra,
        "test.toml");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].toString());
    config_ = std::make_unique<Config>(*loaded.config);
  }

  JailNetwork network() { return JailNetwork(*config_, *store_, host_, jails_, policy_, "host-1"); }
  State state() {
    auto lock = store_->lock();
    auto s = store_->load(*lock);
    return s ? *s : State{};
  }
  void startJail(const std::string& name) { world_.running[name] = JailInfo{name, 7, true}; }
  void stopJail(const std::string& name) {
    world_.running.erase(name);
    // The jail's stack is gone; FreeBSD returns the jail side to the host, Linux destroys it.
    for (auto& [n, l] : world_.jails[name]) world_.host[n] = l;
    world_.jails.erase(name);
  }

  World world_;
  FakeStack host_{world_, ""};
  FakeJails jails_{world_};
  FakePolicy policy_{world_};
  std::filesystem::path dir_;
  std::optional<StateStore> store_;
  std::unique_ptr<Config> config_;
};

// Intent before the kernel: when createPair runs, the state on disk already names the
// pair's interfaces and MACs, so a crash in between leaves a recognisable leftover.
TEST_F(JailNetworkTest, PrestartRecordsThePairBeforeCreatingIt) {
  bool checked = false;
  world_.on_call = [&](const std::string& call) {
    if (call.rfind("createPair", 0) != 0) return;
    auto on_disk = store_->peek();
    ASSERT_TRUE(on_disk);
    ASSERT_TRUE(on_disk->jails.count("web")) << "no record before the kernel call";
    const auto& ir = on_disk->jails.at("web").interfaces.at(0);
    EXPECT_EQ(ir.host_name, "e0a_web");
    EXPECT_EQ(ir.host_mac, deriveMac("host-1", "web", 0, Side::A).toString());
    checked = true;
  };
  auto out = network().prestart("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(checked);
  EXPECT_EQ(state().jails.at("web").phase, "prestart");
}

// Reading the jail's stack once more after `created` is for the daemon's status only: a
// standalone hook (nobody asked) skips those two dumps; the daemon asks and gets it.
TEST_F(JailNetworkTest, CreatedReportsTheInsideOnlyWhenAsked) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  auto plain = network().created("web");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_FALSE(plain->inside.has_value()) << "read again although nobody asked";
  JailNetwork daemons = network();
  daemons.reportInside(true);
  auto asked = daemons.created("web");
  ASSERT_TRUE(asked) << asked.error().message();
  ASSERT_TRUE(asked->inside.has_value());
  bool seen = false;
  for (const auto& l : asked->inside->links) seen = seen || l.name == "e0b_web";
  EXPECT_TRUE(seen) << "the inside as the phase left it";
}

// A failed prestart puts the record back as it was (no record at all here).
TEST_F(JailNetworkTest, AFailedPrestartRestoresTheRecord) {
  world_.fail_on = "createPair";
  EXPECT_FALSE(network().prestart("web"));
  EXPECT_TRUE(state().jails.empty());
  EXPECT_FALSE(world_.host.count("e0a_web"));
}

// The leftover of a creation interrupted before the rename (FreeBSD: epairNa/b carrying
// the description and MACs) is destroyed by the next prestart, which then makes the
// pair under its names.
TEST_F(JailNetworkTest, PrestartDestroysAnUnrenamedLeftoverOfAnInterruptedCreation) {
  ASSERT_TRUE(network().prestart("web"));
  // The crash: the record is there, the pair exists only under the kernel's names.
  auto a = world_.host.extract("e0a_web");
  auto b = world_.host.extract("e0b_web");
  a.key() = a.mapped().name = "epair3a";
  b.key() = b.mapped().name = "epair3b";
  world_.host.insert(std::move(a));
  world_.host.insert(std::move(b));
  world_.calls.clear();
  ASSERT_TRUE(network().prestart("web"));
  EXPECT_FALSE(world_.host.count("epair3a"));
  EXPECT_FALSE(world_.host.count("epair3b"));
  ASSERT_TRUE(world_.host.count("e0a_web"));
  EXPECT_EQ(world_.host["e0a_web"].mac, deriveMac("host-1", "web", 0, Side::A));
}

// The record goes first, so a prestart killed inside createPair leaves a recorded pair
// that exists but may be down and undescribed (Linux sets the alias and brings the host
// side up after the RTM_NEWLINK that makes it): the next prestart finishes it.
TEST_F(JailNetworkTest, PrestartFinishesARecordedPairThatWasHalfMade) {
  ASSERT_TRUE(network().prestart("web"));
  world_.host["e0a_web"].admin_up = false;
  world_.host["e0a_web"].description = "";
  world_.calls.clear();
  auto out = network().prestart("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(world_.host["e0a_web"].admin_up);
  EXPECT_EQ(world_.host["e0a_web"].description, "vnetd:web:0");
  EXPECT_EQ(std::count(world_.calls.begin(), world_.calls.end(), "createPair e0a_web"), 0) << "kept, not made again";
}

TEST_F(JailNetworkTest, APairCreationLeftoverIsRecognisedByDescriptionAndRecordedMacOnly) {
  JailRecord rec;
  rec.name = "web";
  InterfaceRecord ir;
  ir.host_name = "e0a_web";
  ir.jail_name = "net0";
  ir.host_mac = "02:00:00:00:00:02";
  ir.jail_mac = "02:00:00:00:00:03";
  rec.interfaces.push_back(ir);
  LinkInfo l;
  l.name = "epair9a";
  l.description = "vnetd:web:0";
  l.mac = *MacAddress::parse("02:00:00:00:00:02");
  EXPECT_TRUE(isPairCreationLeftover(l, "web", 0, rec));
  l.mac = *MacAddress::parse("02:00:00:00:00:03");
  EXPECT_TRUE(isPairCreationLeftover(l, "web", 0, rec));
  LinkInfo live = l;
  for (const char* name : {"e0a_web", "net0", "e0b_web", "webhost", "epair", "epaira", "epair1c", "xepair1a"}) {
    live.name = name;
    EXPECT_FALSE(isPairCreationLeftover(live, "web", 0, rec)) << name << " is not a name the kernel gives an epair";
  }
  LinkInfo other = l;
  other.mac = *MacAddress::parse("02:00:00:00:00:04");
  EXPECT_FALSE(isPairCreationLeftover(other, "web", 0, rec)) << "another MAC: not ours";
  other = l;
  other.description = "vnetd:web:1";
  EXPECT_FALSE(isPairCreationLeftover(other, "web", 1, rec)) << "no interface 1 recorded";
  other.description = "";
  EXPECT_FALSE(isPairCreationLeftover(other, "web", 0, rec)) << "no description";
}

// The first created after prestart fails: jail(8) will not run poststop, so created
// removes the pair, the limits and the record itself.
TEST_F(JailNetworkTest, AFailedFirstCreatedRemovesWhatPrestartMade) {
  configure("[jail.web.limits]\nmemoryuse = \"1G\"\n");
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  world_.fail_on = "route";
  auto out = network().created("web");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("removed the jail's interfaces"), std::string::npos) << out.error().message();
  EXPECT_FALSE(world_.host.count("e0a_web"));
  EXPECT_TRUE(world_.jails["web"].empty());
  EXPECT_TRUE(state().jails.empty());
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "unlimit web"), world_.calls.end());
}

// poststop removes the limits prestart applied, as recorded in the state, not what the
// configuration says by then: a limit dropped from the config (and reloaded) while the
// jail ran must not survive into the next jail of that name.
TEST_F(JailNetworkTest, PoststopRemovesTheRecordedLimitsEvenWhenTheConfigDroppedThem) {
  configure("[jail.web.limits]\nmemoryuse = \"1G\"\nreadbps = \"100M\"\n");
  ASSERT_TRUE(network().prestart("web"));
  const RctlLimits applied = {{"memoryuse", {"deny", 1ull << 30}}, {"readbps", {"throttle", 100ull << 20}}};
  EXPECT_EQ(state().jails.at("web").limits, std::optional<RctlLimits>(applied));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  EXPECT_EQ(state().jails.at("web").limits, std::optional<RctlLimits>(applied)) << "created keeps the record";
  configure("[jail.web.limits]\nmemoryuse = \"1G\"\n");  // readbps removed, reloaded
  stopJail("web");
  auto out = network().poststop("web");
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(world_.removed_limits.size(), 1u);
  EXPECT_EQ(world_.removed_limits[0], applied);
}

// A record migrated from state format 1 names no limits: poststop falls back to the
// configuration's, as before format 2.
TEST_F(JailNetworkTest, PoststopOfAnUnrecordedRecordRemovesTheConfiguredLimits) {
  configure("[jail.web.limits]\nmemoryuse = \"1G\"\n");
  ASSERT_TRUE(network().prestart("web"));
  {
    auto lock = store_->lock();
    auto s = store_->load(*lock);
    ASSERT_TRUE(s);
    s->jails.at("web").limits.reset();
    ASSERT_TRUE(store_->save(*lock, *s));
  }
  auto out = network().poststop("web");
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(world_.removed_limits.size(), 1u);
  EXPECT_EQ(world_.removed_limits[0], (RctlLimits{{"memoryuse", {"deny", 1ull << 30}}}));
}

// A new start after a reload that dropped a limit (no poststop in between: the earlier
// start was unwound) takes the dropped one away before recording the new set.
TEST_F(JailNetworkTest, ANewStartRemovesRecordedLimitsTheConfigNoLongerHas) {
  configure("[jail.web.limits]\nmemoryuse = \"1G\"\nmaxproc = \"100\"\n");
  ASSERT_TRUE(network().prestart("web"));
  configure("[jail.web.limits]\nmemoryuse = \"2G\"\n");
  ASSERT_TRUE(network().prestart("web"));
  ASSERT_EQ(world_.removed_limits.size(), 1u);
  EXPECT_EQ(world_.removed_limits[0], (RctlLimits{{"maxproc", {"deny", 100}}}));
  EXPECT_EQ(state().jails.at("web").limits, std::optional<RctlLimits>(RctlLimits{{"memoryuse", {"deny", 2ull << 30}}}));
}

// A later created (by hand, or jail(8) re-running exec.created while it unwinds another
// failure) that fails never tears down a running jail's network.
TEST_F(JailNetworkTest, AFailedRepeatOfCreatedLeavesTheRunningJailAlone) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  world_.fail_on = "route";
  EXPECT_FALSE(network().created("web"));
  EXPECT_TRUE(world_.host.count("e0a_web"));
  EXPECT_TRUE(world_.jails["web"].count("e0b_web"));
  EXPECT_EQ(state().jails.at("web").phase, "created");
}

// IPv6 is switched on before the addresses (Linux refuses IPv6 addresses while it is
// off), only on interfaces vnetd gives an IPv6 address; poststart does it again.
TEST_F(JailNetworkTest, CreatedAndPoststartSwitchIpv6OnBeforeTheAddresses) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  auto pos = [&](const std::string& call) {
    return std::find(world_.calls.begin(), world_.calls.end(), call) - world_.calls.begin();
  };
  EXPECT_LT(pos("ipv6 e0b_web in web"), pos("address 2001:db8:7::10/64 e0b_web in web"));
  world_.calls.clear();
  world_.ipv6_on.clear();  // the jail's rc switched it off
  auto out = network().poststart("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(world_.ipv6_on["web/e0b_web"]);
  EXPECT_LT(pos("ipv6 e0b_web in web"), pos("address 2001:db8:7::10/64 e0b_web in web"));
  EXPECT_NE(pos("route 2001:db8:7::1 in web"), static_cast<long>(world_.calls.size()));
  EXPECT_EQ(pos("move e0b_web to web"), static_cast<long>(world_.calls.size())) << "poststart moves nothing";
}

// address6 = "slaac" (issue 19): IPv6 and its autoconfiguration are switched on before
// the link comes up (the kernel forms the link-local address and solicits routers then),
// no static IPv6 address and no IPv6 route is set; poststart does it again (the jail's rc
// may have switched IPv6 off). Interfaces without "slaac" are not touched.
TEST_F(JailNetworkTest, SlaacInterfacesGetAutoconfigurationBeforeTheyComeUp) {
  configure("[jail.six]\n[[jail.six.interface]]\nbridge = \"lan\"\naddress = \"198.18.7.20/24\"\n"
            "address6 = \"slaac\"\n");
  for (const char* jail : {"web", "six"}) {
    ASSERT_TRUE(network().prestart(jail));
    startJail(jail);
    ASSERT_TRUE(network().created(jail));
  }
  auto pos = [&](const std::string& call) {
    return std::find(world_.calls.begin(), world_.calls.end(), call) - world_.calls.begin();
  };
  const long none = static_cast<long>(world_.calls.size());
  EXPECT_LT(pos("ipv6 e0b_six in six"), pos("autoconf e0b_six in six"));
  EXPECT_LT(pos("autoconf e0b_six in six"), pos("up e0b_six in six"));
  EXPECT_NE(pos("up e0b_six in six"), none);
  EXPECT_EQ(pos("autoconf e0b_web in web"), none) << "a static address6 is not autoconfigured";
  EXPECT_NE(pos("route 198.18.7.1 in six"), none) << "IPv4 keeps its default route";
  for (const auto& call : world_.calls) {
    EXPECT_FALSE(call.rfind("address 2001:", 0) == 0 && call.find(" in six") != std::string::npos) << call;
    EXPECT_FALSE(call.rfind("route 2001:", 0) == 0 && call.find(" in six") != std::string::npos) << call;
  }
  world_.calls.clear();
  ASSERT_TRUE(network().poststart("six"));
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "autoconf e0b_six in six"), world_.calls.end());
}

// FreeBSD's kernel sends no router solicitation (NetStack::solicitRouters): created asks
// the jail's stack for one on each slaac interface once that interface is up (it leaves
// from the link-local address, which exists only then), and on no other interface;
// poststart again (the jail's rc may have switched IPv6 off and on meanwhile).
TEST_F(JailNetworkTest, SlaacInterfacesSolicitRoutersOnceTheyAreUp) {
  configure("[jail.six]\n[[jail.six.interface]]\nbridge = \"lan\"\naddress = \"198.18.7.20/24\"\n"
            "address6 = \"slaac\"\n[[jail.six.interface]]\nbridge = \"lan\"\naddress = \"198.18.7.21/24\"\n");
  for (const char* jail : {"web", "six"}) {
    ASSERT_TRUE(network().prestart(jail));
    startJail(jail);
    ASSERT_TRUE(network().created(jail));
  }
  auto pos = [&](const std::string& call) {
    return std::find(world_.calls.begin(), world_.calls.end(), call) - world_.calls.begin();
  };
  const long none = static_cast<long>(world_.calls.size());
  ASSERT_NE(pos("solicit e0b_six in six"), none);
  EXPECT_LT(pos("autoconf e0b_six in six"), pos("solicit e0b_six in six"));
  EXPECT_LT(pos("up e0b_six in six"), pos("solicit e0b_six in six"));
  EXPECT_EQ(std::count(world_.calls.begin(), world_.calls.end(), "solicit e0b_six in six"), 1);
  for (const auto& call : world_.calls) {
    if (call.rfind("solicit ", 0) == 0) {
      EXPECT_EQ(call, "solicit e0b_six in six") << "only the slaac interface";
    }
  }
  world_.calls.clear();
  ASSERT_TRUE(network().poststart("six"));
  EXPECT_LT(pos("up e0b_six in six"), pos("solicit e0b_six in six"));
  EXPECT_NE(pos("solicit e0b_six in six"), static_cast<long>(world_.calls.size()));
}

// A solicitation that cannot be sent fails nothing: the jail is configured, and the next
// periodic router advertisement still reaches it (a warning in the log says so).
TEST_F(JailNetworkTest, AFailedSolicitationDoesNotFailTheHook) {
  configure("[jail.six]\n[[jail.six.interface]]\nbridge = \"lan\"\naddress6 = \"slaac\"\n");
  ASSERT_TRUE(network().prestart("six"));
  startJail("six");
  world_.fail_on = "solicit";
  auto created = network().created("six");
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "solicit e0b_six in six"), world_.calls.end());
  EXPECT_EQ(state().jails.at("six").phase, "created");
  auto poststart = network().poststart("six");
  EXPECT_TRUE(poststart) << poststart.error().message();
}

TEST_F(JailNetworkTest, PoststartWithoutCreatedIsAnError) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  auto out = network().poststart("web");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("created"), std::string::npos);
}

// prestop: back to the host under its generated name (a configured name may exist on the
// host), found by MAC; nothing inside → nothing to do, no error.
TEST_F(JailNetworkTest, PrestopTakesARenamedJailSideBackUnderItsGeneratedName) {
  configure("name = \"net0\"\n");
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  ASSERT_TRUE(world_.jails["web"].count("net0"));
  auto out = network().prestop("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->changed);
  EXPECT_TRUE(world_.host.count("e0b_web"));
  EXPECT_TRUE(world_.jails["web"].empty());
  out = network().prestop("web");
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->changed);
  stopJail("web");
  ASSERT_TRUE(network().poststop("web"));
  EXPECT_FALSE(world_.host.count("e0a_web"));
  EXPECT_FALSE(world_.host.count("e0b_web"));
}

// Issue 15: a poststop that comes late (its hook gave up, the jail was started again
// meanwhile) must not destroy the running jail's pair — whose MACs are the recorded ones.
// A jail running with its own stack is not the removed one poststop is about (on FreeBSD
// a removed jail is dying, and jail_get without JAIL_DYING does not find it).
TEST_F(JailNetworkTest, PoststopRefusesWhileAJailOfThatNameRunsAndChangesNothing) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  const State before = state();
  const auto host_before = world_.host;
  const auto inside_before = world_.jails["web"];
  auto out = network().poststop("web");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message(),
            "jail web is running (jid 7): not destroying its interfaces; nothing changed (a poststop from before it "
            "was started again? run poststop only after the jail is removed)");
  EXPECT_EQ(state().jails, before.jails);
  EXPECT_EQ(world_.host.size(), host_before.size());
  EXPECT_TRUE(world_.host.count("e0a_web"));
  EXPECT_EQ(world_.jails["web"].size(), inside_before.size());
  // A jail of that name without its own stack is not the vnet jail vnetd made the pair for.
  world_.running["web"].own_stack = false;
  EXPECT_TRUE(network().poststop("web"));
}

TEST_F(JailNetworkTest, PoststopAfterTheJailIsRemovedDestroysThePair) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  stopJail("web");
  auto out = network().poststop("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->changed);
  EXPECT_FALSE(world_.host.count("e0a_web"));
  EXPECT_TRUE(state().jails.empty());
}

TEST_F(JailNetworkTest, PrestopLeavesAnInterfaceWithAnotherMacInside) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  world_.jails["web"]["e0b_web"].mac = *MacAddress::parse("02:99:99:99:99:99");
  auto out = network().prestop("web");
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->changed);
  EXPECT_TRUE(world_.jails["web"].count("e0b_web"));
}

// A start that got past created and was then unwound by jail(8) (no poststop): the next
// prestart, with the jail gone, makes the pairs anew and keeps the recorded identity.
TEST_F(JailNetworkTest, PrestartAfterAnUnwoundStartMakesThePairsAnew) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  auto before = state().jails.at("web");
  stopJail("web");  // jail(8) removed it; no poststop ran
  world_.calls.clear();
  ASSERT_TRUE(network().prestart("web"));
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "destroy e0a_web"), world_.calls.end());
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "createPair e0a_web"), world_.calls.end());
  auto after = state().jails.at("web");
  EXPECT_EQ(after.phase, "prestart");
  EXPECT_EQ(after.interfaces, before.interfaces);
}

// Interfaces added to a running jail (prestart, then created, by hand): a failing
// created there is not the first of a start and leaves the running jail alone.
TEST_F(JailNetworkTest, InterfacesAddedToARunningJailNeverTearItDown) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  configure("[[jail.web.interface]]\nbridge = \"lan\"\naddress = \"198.18.7.11/24\"\n");
  ASSERT_TRUE(network().prestart("web"));
  EXPECT_EQ(state().jails.at("web").phase, "created");
  world_.fail_on = "route";
  EXPECT_FALSE(network().created("web"));
  EXPECT_TRUE(world_.host.count("e0a_web"));
  EXPECT_TRUE(world_.host.count("e1a_web"));
  EXPECT_TRUE(world_.jails["web"].count("e0b_web"));
}

bool called(const World& w, const std::string& call) {
  return std::find(w.calls.begin(), w.calls.end(), call) != w.calls.end();
}

// The daemon's repair of a running jail whose pair was deleted by hand: made anew with
// the record's identity, inside the jail and configured as `created` does; the record
// stays as it was.
TEST_F(JailNetworkTest, RepairRunningMakesALostPairAnewWithTheRecordsIdentity) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  const State before = state();
  const InterfaceRecord ir = before.jails.at("web").interfaces.at(0);
  ASSERT_TRUE(host_.destroyLink("e0a_web"));  // either end destroys both
  ASSERT_FALSE(world_.jails["web"].count("e0b_web"));
  world_.calls.clear();
  JailNetwork daemons = network();
  daemons.reportInside(true);
  auto out = daemons.repairRunning("web", before.jails.at("web"));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->changed);
  EXPECT_TRUE(out->inside.has_value()) << "the daemon's status learns the jail's stack";
  ASSERT_TRUE(world_.host.count("e0a_web"));
  EXPECT_EQ(world_.host["e0a_web"].mac.toString(), ir.host_mac);
  ASSERT_TRUE(world_.jails["web"].count("e0b_web")) << "made directly inside the running jail";
  EXPECT_EQ(world_.jails["web"]["e0b_web"].mac.toString(), ir.jail_mac);
  EXPECT_FALSE(called(world_, "move e0b_web to web"));
  EXPECT_TRUE(called(world_, "ipv6 e0b_web in web"));
  EXPECT_TRUE(called(world_, "address 198.18.7.10/24 e0b_web in web"));
  EXPECT_TRUE(called(world_, "address 2001:db8:7::10/64 e0b_web in web"));
  EXPECT_TRUE(called(world_, "route 2001:db8:7::1 in web"));
  EXPECT_FALSE(called(world_, "limits web")) << "a repair touches no limits";
  EXPECT_EQ(state().jails, before.jails);
  // Done: a second call finds nothing to do.
  world_.calls.clear();
  auto again = network().repairRunning("web", before.jails.at("web"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_FALSE(called(world_, "createPair e0a_web"));
}

// Re-checked under the lock: whatever changed since the daemon planned wins.
TEST_F(JailNetworkTest, RepairRunningChangesNothingUnlessTheLossIsStillThere) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  const JailRecord seen = state().jails.at("web");
  auto nothing = [&](const char* why) {
    world_.calls.clear();
    auto out = network().repairRunning("web", seen);
    ASSERT_TRUE(out) << why << ": " << out.error().message();
    EXPECT_FALSE(out->changed) << why;
    EXPECT_FALSE(called(world_, "createPair e0a_web")) << why;
  };
  nothing("the pair is there");
  // The host side renamed by hand: the jail side is still inside, the pair exists.
  auto node = world_.host.extract("e0a_web");
  node.key() = "webhost";
  node.mapped().name = "webhost";
  world_.host.insert(std::move(node));
  nothing("the jail side is still inside");
  ASSERT_TRUE(host_.destroyLink("webhost"));
  JailRecord other = seen;
  other.updated_at += 1;
  world_.calls.clear();
  auto changed = network().repairRunning("web", other);
  ASSERT_TRUE(changed);
  EXPECT_FALSE(changed->changed) << "a hook changed the record since";
  world_.running["web"].own_stack = false;
  nothing("no own stack");
  stopJail("web");
  nothing("the jail stopped");
}

TEST_F(JailNetworkTest, RepairRunningLeavesAPrestartRecordToCreated) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(host_.destroyLink("e0a_web"));
  const JailRecord seen = state().jails.at("web");
  ASSERT_EQ(seen.phase, "prestart");
  auto out = network().repairRunning("web", seen);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->changed);
  EXPECT_FALSE(world_.host.count("e0a_web"));
}

// All or nothing: a pair made but not configured would hide the loss from the next pass.
TEST_F(JailNetworkTest, AFailedRepairTakesTheNewPairAwayAgain) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  const JailRecord seen = state().jails.at("web");
  ASSERT_TRUE(host_.destroyLink("e0a_web"));
  world_.fail_on = "route";
  EXPECT_FALSE(network().repairRunning("web", seen));
  EXPECT_FALSE(world_.host.count("e0a_web"));
  EXPECT_FALSE(world_.jails["web"].count("e0b_web"));
  EXPECT_EQ(state().jails.at("web"), seen);
  world_.fail_on.clear();
  auto out = network().repairRunning("web", seen);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->changed) << "the next try makes it";
}

// Killed between the two renames (FreeBSD): e0a_web is there, its jail side is still the
// kernel's epairNb. The next prestart makes the pair anew instead of taking it as done.
TEST_F(JailNetworkTest, APairKilledBetweenTheRenamesIsMadeAnew) {
  ASSERT_TRUE(network().prestart("web"));
  auto b = world_.host.extract("e0b_web");
  b.key() = b.mapped().name = "epair4b";
  world_.host.insert(std::move(b));
  world_.calls.clear();
  auto out = network().prestart("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(world_.host.count("epair4b"));
  EXPECT_TRUE(world_.host.count("e0a_web"));
  EXPECT_TRUE(world_.host.count("e0b_web"));
  EXPECT_EQ(std::count(world_.calls.begin(), world_.calls.end(), "createPair e0a_web"), 1);
}

// poststop (or orphan collection) of a start interrupted inside the creation: the record
// is the last thing that recognises the unrenamed leftover, so it goes first.
TEST_F(JailNetworkTest, PoststopOfAnInterruptedCreationDestroysItsLeftover) {
  ASSERT_TRUE(network().prestart("web"));
  for (const char* side : {"e0a_web", "e0b_web"}) {
    auto n = world_.host.extract(side);
    n.key() = n.mapped().name = side == std::string("e0a_web") ? "epair6a" : "epair6b";
    world_.host.insert(std::move(n));
  }
  ASSERT_TRUE(network().poststop("web"));
  EXPECT_FALSE(world_.host.count("epair6a"));
  EXPECT_FALSE(world_.host.count("epair6b"));
  EXPECT_TRUE(state().jails.empty());
}

// The jail's rc renamed the jail side (ifconfig_e0b_web_name="lan0"): poststart finds it
// by MAC and configures it under the jail's name for it; prestop finds it the same way.
TEST_F(JailNetworkTest, PoststartAndPrestopFindAJailSideTheJailRenamed) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  auto n = world_.jails["web"].extract("e0b_web");
  n.key() = n.mapped().name = "lan0";
  world_.jails["web"].insert(std::move(n));
  world_.calls.clear();
  auto out = network().poststart("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(world_.jails["web"].count("lan0")) << "not renamed back";
  EXPECT_NE(std::find(world_.calls.begin(), world_.calls.end(), "address 2001:db8:7::10/64 lan0 in web"),
            world_.calls.end());
  ASSERT_TRUE(network().prestop("web"));
  EXPECT_TRUE(world_.host.count("e0b_web"));
  EXPECT_TRUE(world_.jails["web"].empty());
}

// FreeBSD would make a second interface of the name (if_vmove_reclaim checks nothing on
// the host): prestop leaves the jail side where it is when the host has that name.
TEST_F(JailNetworkTest, PrestopNeverMakesASecondInterfaceOfAName) {
  ASSERT_TRUE(network().prestart("web"));
  startJail("web");
  ASSERT_TRUE(network().created("web"));
  LinkInfo other;
  other.name = "e0b_web";
  other.mac = *MacAddress::parse("02:55:55:55:55:55");
  world_.host["e0b_web"] = other;
  auto out = network().prestop("web");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(out->changed);
  EXPECT_TRUE(world_.jails["web"].count("e0b_web"));
}

// ------------------------------------------------------------ "auto" and the kernel (issue 15 item 6)

// A jail "app" with an "auto" address on bridge lan (198.18.7.1/24; web has .10 static),
// and the bridge already on the host under index 10. Without any kernel knowledge the
// allocation would hand out 198.18.7.2.
class AutoAddressTest : public JailNetworkTest {
 protected:
  void SetUp() override {
    JailNetworkTest::SetUp();
    configure("[jail.app]\n[[jail.app.interface]]\nbridge = \"lan\"\naddress = \"auto\"\n");
    LinkInfo br;
    br.name = "br0";
    br.index = 10;
    br.kind = platform::LinkKind::Bridge;
    br.admin_up = true;
    world_.host["br0"] = br;
  }
  std::vector<std::string> appAddresses() {
    auto s = state();
    if (!s.jails.count("app")) return {};
    return s.jails.at("app").interfaces.at(0).addresses;
  }
  static platform::AddressInfo addr(uint32_t index, const char* cidr) { return {index, *Cidr::parse(cidr)}; }
  // A running jail `name` with a pair vnetd made (host side on br0, inside end with
  // `address`), as it is after `created` — with no record (the state was lost).
  void runUnrecordedJail(const std::string& name, uint32_t host_index, const char* address) {
    startJail(name);
    LinkInfo a, b;
    a.name = interfaceName(name, 0, Side::A);
    a.index = host_index;
    a.kind = platform::LinkKind::Pair;
    a.master_index = 10;
    a.mac = deriveMac("host-1", name, 0, Side::A);
    a.description = pairDescription(name, 0);
    b.name = interfaceName(name, 0, Side::B);
    b.index = 2;
    b.kind = platform::LinkKind::Pair;
    b.mac = deriveMac("host-1", name, 0, Side::B);
    b.description = pairDescription(name, 0);
    world_.host[a.name] = a;
    world_.jails[name][b.name] = b;
    world_.addresses[name].push_back(addr(2, address));
  }
};

TEST_F(AutoAddressTest, WithNothingInTheKernelTheLowestFreeAddressIsUsed) {
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.2/24"});
}

// Something answered ARP for .2 on the bridge (a jail the state does not know): taken.
TEST_F(AutoAddressTest, SkipsNeighboursOnTheBridge) {
  world_.neighbours.push_back({10, *IpAddress::parse("198.18.7.2"), MacAddress::parse("02:00:00:00:00:02")});
  world_.neighbours.push_back({99, *IpAddress::parse("198.18.7.3"), std::nullopt});  // another link: not ours
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.3/24"});
}

// The host still remembers the jail's previous start (a neighbour entry with the MAC its
// interface 0 always gets): that address is the jail's again, so a restart keeps it.
TEST_F(AutoAddressTest, ARestartedJailGetsItsAddressBackDespiteTheHostsNeighbourEntry) {
  world_.neighbours.push_back({10, *IpAddress::parse("198.18.7.2"), deriveMac("host-1", "app", 0, Side::B)});
  world_.neighbours.push_back({10, *IpAddress::parse("198.18.7.3"), deriveMac("host-1", "other", 0, Side::B)});
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.2/24"});
}

// A second address on the bridge itself (not the configured gateway) is the host's.
TEST_F(AutoAddressTest, SkipsTheBridgesOwnAddresses) {
  world_.addresses[""].push_back(addr(10, "198.18.7.1/24"));
  world_.addresses[""].push_back(addr(10, "198.18.7.2/24"));
  world_.addresses[""].push_back(addr(11, "198.18.7.3/24"));  // another link: not the bridge's
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.3/24"});
}

// A running jail with vnetd's pair on the bridge but no record, that cannot be rebuilt
// (its inside end lost its mark): the addresses in its stack are taken all the same.
TEST_F(AutoAddressTest, SkipsAddressesInsideRunningJailsWithoutARecord) {
  runUnrecordedJail("other", 11, "198.18.7.2/24");
  world_.jails["other"]["e0b_other"].description.clear();
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.3/24"});
  EXPECT_FALSE(state().jails.count("other"));
}

// The state was lost while "db" ran with an "auto" .2: the next "auto" is not .2, and db's
// record is back (phase created, its address as found, its pair provably vnetd's).
TEST_F(AutoAddressTest, AfterTheStateWasLostRunningJailsAreRebuiltFirst) {
  runUnrecordedJail("db", 11, "198.18.7.2/24");
  ASSERT_TRUE(state().jails.empty());
  auto out = network().prestart("app");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(appAddresses(), std::vector<std::string>{"198.18.7.3/24"});
  auto s = state();
  ASSERT_TRUE(s.jails.count("db"));
  const JailRecord& db = s.jails.at("db");
  EXPECT_EQ(db.phase, "created");
  ASSERT_EQ(db.interfaces.size(), 1u);
  EXPECT_EQ(db.interfaces[0].host_name, "e0a_db");
  EXPECT_EQ(db.interfaces[0].jail_name, "e0b_db");
  EXPECT_EQ(db.interfaces[0].bridge, "br0");
  EXPECT_EQ(db.interfaces[0].addresses, std::vector<std::string>{"198.18.7.2/24"});
  EXPECT_TRUE(db.interfaces[0].created_by_vnetd);
  // Rebuilt means poststop can take it down again when db stops.
  stopJail("db");
  ASSERT_TRUE(network().poststop("db"));
  EXPECT_FALSE(world_.host.count("e0a_db"));
  EXPECT_FALSE(state().jails.count("db"));
}

// The rebuilt record is saved at once: a prestart that then fails — before it records
// its own jail, or after — keeps it.
TEST_F(AutoAddressTest, RebuiltRecordsSurviveAFailingPrestart) {
  runUnrecordedJail("db", 11, "198.18.7.2/24");
  for (const char* failing : {"neighbours", "createPair"}) {
    world_.fail_on = failing;
    EXPECT_FALSE(network().prestart("app")) << failing;
    auto s = state();
    EXPECT_TRUE(s.jails.count("db")) << failing;
    EXPECT_FALSE(s.jails.count("app")) << failing;
    // Start over from a lost state for the next round.
    auto lock = store_->lock();
    State empty;
    ASSERT_TRUE(store_->save(*lock, empty));
  }
}

// A jail with a static address never reads the kernel for it: no jail stack is opened.
TEST_F(AutoAddressTest, StaticAddressesReadNothingFromJails) {
  runUnrecordedJail("db", 11, "198.18.7.2/24");
  ASSERT_TRUE(network().prestart("web"));
  EXPECT_FALSE(state().jails.count("db"));
}

TEST(HookPhase, NamesRoundTripInJailOrder) {
  std::vector<std::string> names;
  for (HookPhase p : {HookPhase::Prestart, HookPhase::Created, HookPhase::Poststart, HookPhase::Prestop,
                      HookPhase::Poststop}) {
    names.push_back(hookPhaseName(p));
    EXPECT_EQ(parseHookPhase(hookPhaseName(p)), p);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"prestart", "created", "poststart", "prestop", "poststop"}));
  EXPECT_FALSE(parseHookPhase("start"));
  EXPECT_FALSE(parseHookPhase(""));
}

}  // namespace
}  // namespace vnetd
