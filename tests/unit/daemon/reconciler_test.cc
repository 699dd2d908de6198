#include "daemon/reconciler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vnetd::daemon {
namespace {

using Kind = ReconcileAction::Kind;
using platform::LinkInfo;
using platform::LinkKind;

constexpr const char* kHost = "host-1";

Config config() {
  auto loaded = parseConfig(R"(
[bridge.lan]
interface = "bridge0"
address = "198.18.0.1/24"
private = true

[bridge.out]
interface = "bridge1"
address = "198.18.5.1/24"
nat = "uplink0"

[jail_defaults]
[[jail_defaults.interface]]
bridge = "lan"
address = "auto"
)",
                            "test.toml");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.toString();
  return *loaded.config;
}

InterfaceRecord record(const std::string& jail) {
  InterfaceRecord ir;
  ir.index = 0;
  ir.host_name = interfaceName(jail, 0, Side::A);
  ir.jail_name = interfaceName(jail, 0, Side::B);
  ir.host_mac = deriveMac(kHost, jail, 0, Side::A).toString();
  ir.jail_mac = deriveMac(kHost, jail, 0, Side::B).toString();
  ir.bridge = "bridge0";
  ir.addresses = {"198.18.0.2/24"};
  return ir;
}

LinkInfo link(uint32_t index, const std::string& name, LinkKind kind, uint32_t master = 0) {
  LinkInfo l;
  l.index = index;
  l.name = name;
  l.kind = kind;
  l.admin_up = true;
  l.master_index = master;
  return l;
}

// One jail "web" recorded and running, bridge0 (index 10) up with its address, the host
// side (index 11) a member: the healthy baseline every test perturbs.
struct World {
  Config cfg = config();
  State state;
  std::vector<LinkInfo> links;
  std::vector<platform::AddressInfo> addrs;
  std::set<std::string> running{"web"};
  std::set<std::string> known{"web"};
  OrphanClock clock;
  std::map<std::string, std::optional<platform::BridgeNat>> nat;  // as read back
  bool nat_read = true;
  int64_t now_ms = 100000;
  int64_t now_unix_s = 1'700'000'000;  // records are stamped updated_at = 0: long ago
  RepairBackoffs backoffs;
  int64_t repair_backoff_max_ms = 10000;

  World() {
    JailRecord rec;
    rec.name = "web";
    rec.phase = "created";
    rec.interfaces = {record("web")};
    state.jails["web"] = rec;
    links.push_back(link(10, "bridge0", LinkKind::Bridge));
    links.push_back(link(20, "bridge1", LinkKind::Bridge));
    links.push_back(link(30, "uplink0", LinkKind::Other));  // bridge1's NAT egress
    addrs.push_back({20, *Cidr::parse("198.18.5.1/24")});
    nat["bridge1"] = platform::BridgeNat{"uplink0", {*Cidr::parse("198.18.5.0/24")}, true};
    LinkInfo hs = link(11, "e0a_web", LinkKind::Pair, 10);
    hs.mac = deriveMac(kHost, "web", 0, Side::A);
    hs.description = "vnetd:web:0";
    links.push_back(hs);
    addrs.push_back({10, *Cidr::parse("198.18.0.1/24")});
  }

  std::vector<ReconcileAction> plan() {
    ReconcileInput in;
    in.config = &cfg;
    in.state = &state;
    in.host_links = &links;
    in.host_addresses = &addrs;
    in.running_jails = &running;
    in.known_jails = &known;
    in.nat_loaded = nat_read ? &nat : nullptr;
    in.host_id = kHost;
    in.now_ms = now_ms;
    in.now_unix_s = now_unix_s;
    in.orphan_grace_ms = 60000;
    in.repair_backoff_max_ms = repair_backoff_max_ms;
    return planReconcile(in, clock, &backoffs);
  }
  LinkInfo& byName(const std::string& n) {
    for (auto& l : links)
      if (l.name == n) return l;
    throw std::runtime_error(n);
  }
};

std::vector<Kind> kinds(const std::vector<ReconcileAction>& plan) {
  std::vector<Kind> out;
  for (const auto& a : plan) out.push_back(a.kind);
  return out;
}

TEST(Reconciler, AHealthyWorldNeedsNothing) {
  World w;
  EXPECT_TRUE(w.plan().empty());
  EXPECT_TRUE(w.clock.empty());
}

TEST(Reconciler, UnknownRecordsAreAdoptedNotRecreated) {
  World w;
  w.known.clear();
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::Adopt});
  EXPECT_EQ(plan[0].jail, "web");
}

TEST(Reconciler, MissingDownOrUnaddressedBridgeIsEnsuredAndMembersWait) {
  World w;
  w.byName("bridge0").admin_up = false;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::EnsureBridge});
  EXPECT_EQ(plan[0].bridge, "lan");

  World x;
  std::erase_if(x.addrs, [](const platform::AddressInfo& a) { return a.link_index == 10; });
  plan = x.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::EnsureBridge});
  EXPECT_NE(plan[0].reason.find("lacks its address 198.18.0.1/24"), std::string::npos);

  // Bridge gone: its members are re-added by the pass after the re-creation, not now.
  World y;
  y.links.erase(y.links.begin());
  y.byName("e0a_web").master_index = 0;
  EXPECT_EQ(kinds(y.plan()), std::vector<Kind>{Kind::EnsureBridge});
}

TEST(Reconciler, MissingNatIsLoadedAgain) {
  // Never loaded (the bridge existed before vnetd started, or `nat` came with a reload),
  // or flushed by hand: nothing is loaded.
  World w;
  w.nat["bridge1"] = std::nullopt;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::EnsureNat});
  EXPECT_EQ(plan[0].bridge, "out");
  EXPECT_NE(plan[0].reason.find("is not loaded"), std::string::npos) << plan[0].reason;
}

TEST(Reconciler, NatThatDiffersFromTheConfigIsReplaced) {
  World w;
  w.nat["bridge1"]->egress = "eth9";
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::EnsureNat}) << "another egress";
  World x;
  x.nat["bridge1"]->subnets = {*Cidr::parse("198.18.6.0/24")};
  EXPECT_EQ(kinds(x.plan()), std::vector<Kind>{Kind::EnsureNat}) << "another subnet";
  World y;
  y.nat["bridge1"]->subnets.push_back(*Cidr::parse("198.18.6.0/24"));
  EXPECT_EQ(kinds(y.plan()), std::vector<Kind>{Kind::EnsureNat}) << "an extra subnet";
  World z;
  z.nat["bridge1"]->recognised = false;
  EXPECT_EQ(kinds(z.plan()), std::vector<Kind>{Kind::EnsureNat}) << "rules vnetd does not write";
}

TEST(Reconciler, NatIsOnlyJudgedWhereItWasReadAndTheBridgeIsOurs) {
  World w;
  w.nat_read = false;
  w.nat.clear();
  EXPECT_TRUE(w.plan().empty()) << "NAT not read at all: nothing judged";
  World x;
  x.nat.erase("bridge1");
  EXPECT_TRUE(x.plan().empty()) << "this bridge's NAT could not be read";
  World y;
  y.nat["bridge1"] = std::nullopt;
  y.byName("bridge1").kind = LinkKind::Other;
  EXPECT_TRUE(y.plan().empty()) << "an interface of that name that is not a bridge is not ours";
  // A missing bridge is re-created, which loads its NAT: no second action for it.
  World z;
  z.nat["bridge1"] = std::nullopt;
  std::erase_if(z.links, [](const LinkInfo& l) { return l.name == "bridge1"; });
  auto plan = z.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::EnsureBridge});
  EXPECT_EQ(plan[0].bridge, "out");
}

TEST(Reconciler, NatOfABridgeThatNoLongerAsksForItIsRemoved) {
  // The config dropped `nat` from bridge1 (and kept the bridge).
  World w;
  w.cfg.bridges.at("out").nat.clear();
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::RemoveNat});
  EXPECT_EQ(plan[0].bridge, "bridge1");
  // The bridge itself left the config: its NAT (read back because the daemon had seen it)
  // goes too; the bridge is not touched.
  World x;
  x.cfg.bridges.erase("out");
  plan = x.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::RemoveNat});
  EXPECT_EQ(plan[0].bridge, "bridge1");
  // Nothing loaded any more: nothing to remove.
  x.nat["bridge1"] = std::nullopt;
  EXPECT_TRUE(x.plan().empty());
}

TEST(Reconciler, NatWithoutAnIpv4AddressIsNotWanted) {
  World w;
  EXPECT_TRUE(wantedNat(w.cfg.bridges.at("out")).has_value());
  EXPECT_EQ(wantedNat(w.cfg.bridges.at("out"))->subnets, std::vector<Cidr>{*Cidr::parse("198.18.5.0/24")});
  w.cfg.bridges.at("out").address.reset();
  EXPECT_FALSE(wantedNat(w.cfg.bridges.at("out")).has_value());
}

TEST(Reconciler, AMemberOutOfItsBridgeIsReaddedWithItsFlags) {
  World w;
  w.byName("e0a_web").master_index = 0;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::ReaddMember});
  EXPECT_EQ(plan[0].bridge, "bridge0");
  EXPECT_EQ(plan[0].interface, "e0a_web");
  EXPECT_TRUE(plan[0].private_member);
}

void losePair(World& w, const std::string& host_side = "e0a_web") {
  std::erase_if(w.links, [&](const LinkInfo& l) { return l.name == host_side; });
}

TEST(Reconciler, ARunningJailThatLostItsPairIsRepaired) {
  World w;
  losePair(w);
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::RepairJailPairs});
  EXPECT_EQ(plan[0].jail, "web");
  EXPECT_EQ(plan[0].interface, "e0a_web");
  EXPECT_EQ(plan[0].reason, "jail web lost its interface e0a_web");
  // No grace: the next pass plans it again until it is done (execution re-checks).
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::RepairJailPairs});
  EXPECT_TRUE(w.clock.empty()) << "a repair is no orphan candidate";

  // A record stamped just now is repaired too: the state lock, not an age, rules out a
  // phase half done (see the header).
  World fresh;
  fresh.state.jails["web"].updated_at = fresh.now_unix_s;
  losePair(fresh);
  EXPECT_EQ(kinds(fresh.plan()), std::vector<Kind>{Kind::RepairJailPairs});
}

bool plansRepair(World& w) {
  for (const auto& a : w.plan())
    if (a.kind == Kind::RepairJailPairs) return true;
  return false;
}

TEST(Reconciler, AFailedRepairWaitsADelayThatDoublesUpToTheInterval) {
  World w;
  losePair(w);
  ASSERT_TRUE(plansRepair(w));
  // Failures as the mutator notes them, each at the moment its repair was tried.
  const std::vector<int64_t> delays = {1000, 2000, 4000, 8000, 10000, 10000};
  for (int64_t want : delays) {
    ASSERT_EQ(noteRepairFailed(w.backoffs, "web", w.now_ms, w.repair_backoff_max_ms), want);
    // The pass the destroyed pair triggers 100 ms later, and any until the delay is over,
    // plans no repair of it.
    w.now_ms += 100;
    EXPECT_FALSE(plansRepair(w)) << "delay " << want;
    w.now_ms += want - 101;
    EXPECT_FALSE(plansRepair(w)) << "delay " << want;
    w.now_ms += 1;
    EXPECT_TRUE(plansRepair(w)) << "delay " << want;
  }
  // A repair that succeeds forgets the backoff (the mutator erases it): the next loss is
  // repaired at once, and its first failure waits the first delay again.
  w.backoffs.erase("web");
  EXPECT_TRUE(plansRepair(w));
  EXPECT_EQ(noteRepairFailed(w.backoffs, "web", w.now_ms, w.repair_backoff_max_ms), kRepairBackoffFirstMs);
}

TEST(Reconciler, ABackoffIsForgottenOnceTheJailNeedsNoRepair) {
  World w;
  const LinkInfo host_side = w.byName("e0a_web");
  losePair(w);
  noteRepairFailed(w.backoffs, "web", w.now_ms, w.repair_backoff_max_ms);
  noteRepairFailed(w.backoffs, "web", w.now_ms, w.repair_backoff_max_ms);
  EXPECT_FALSE(plansRepair(w));
  EXPECT_EQ(w.backoffs.size(), 1u) << "still lost: the backoff stays";
  // The pair is back (made by a hook, or by hand): nothing to repair, nothing to remember.
  w.links.push_back(host_side);
  EXPECT_FALSE(plansRepair(w));
  EXPECT_TRUE(w.backoffs.empty());
  // Lost again: repaired at once, not after the old delay.
  losePair(w);
  EXPECT_TRUE(plansRepair(w));
  // A jail that stopped forgets it too.
  noteRepairFailed(w.backoffs, "web", w.now_ms, w.repair_backoff_max_ms);
  w.running.clear();
  w.plan();
  EXPECT_TRUE(w.backoffs.empty());
  // Another jail's backoff does not hold this one's repair back.
  World two;
  losePair(two);
  noteRepairFailed(two.backoffs, "db", two.now_ms, two.repair_backoff_max_ms);
  EXPECT_TRUE(plansRepair(two));
}

TEST(Reconciler, TheBackoffIsAtLeastTheFirstDelayWhateverTheInterval) {
  RepairBackoffs b;
  EXPECT_EQ(noteRepairFailed(b, "web", 0, 0), kRepairBackoffFirstMs);
  EXPECT_EQ(noteRepairFailed(b, "web", 0, 0), kRepairBackoffFirstMs);
  EXPECT_EQ(b["web"].not_before_ms, kRepairBackoffFirstMs);
  // A long interval (max uint32 seconds) neither overflows nor stops doubling early.
  RepairBackoffs big;
  const int64_t max_ms = int64_t{0xffffffff} * 1000;
  int64_t d = 0;
  for (int i = 0; i < 80; ++i) d = noteRepairFailed(big, "web", 0, max_ms);
  EXPECT_EQ(d, max_ms);
}

TEST(Reconciler, NatWaitsForItsEgressInterfaceAndIsLoadedWhenItAppears) {
  World w;
  w.nat["bridge1"] = std::nullopt;
  std::erase_if(w.links, [](const LinkInfo& l) { return l.name == "uplink0"; });
  EXPECT_TRUE(w.plan().empty()) << "nothing to translate to: no EnsureNat while uplink0 is missing";
  EXPECT_EQ(natEgressesMissing(w.cfg, w.links), (std::map<std::string, std::string>{{"bridge1", "uplink0"}}));
  // NAT loaded earlier stays while the egress is away (a NIC unplugged comes back).
  w.nat["bridge1"] = platform::BridgeNat{"uplink0", {*Cidr::parse("198.18.5.0/24")}, true};
  EXPECT_TRUE(w.plan().empty());
  // A reload pointed `nat` at a missing interface: the old egress's rules must not keep
  // translating against the configuration; they go, and the new ones wait.
  w.nat["bridge1"] = platform::BridgeNat{"eth0", {*Cidr::parse("198.18.5.0/24")}, true};
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::RemoveNat});
  EXPECT_EQ(plan[0].bridge, "bridge1");
  EXPECT_NE(plan[0].reason.find("uplink0 does not exist"), std::string::npos) << plan[0].reason;
  w.nat["bridge1"] = platform::BridgeNat{"uplink0", {*Cidr::parse("198.18.5.0/24")}, false};
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::RemoveNat}) << "rules vnetd did not write";
  w.nat["bridge1"] = std::nullopt;
  w.links.push_back(link(31, "uplink0", LinkKind::Other));
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::EnsureNat}) << "it appeared";
  EXPECT_TRUE(natEgressesMissing(w.cfg, w.links).empty());
}

TEST(Reconciler, AMissingNatEgressIsReportedOncePerChange) {
  NatEgressWatch w;
  using M = std::map<std::string, std::string>;
  using N = std::vector<NatEgressNews>;
  EXPECT_EQ(noteNatEgresses(w, M{}), N{});
  EXPECT_EQ(noteNatEgresses(w, M{{"br1", "eth9"}}), (N{{"br1", "eth9", true}}));
  EXPECT_EQ(noteNatEgresses(w, M{{"br1", "eth9"}}), N{}) << "later passes stay quiet";
  EXPECT_EQ(noteNatEgresses(w, M{{"br1", "eth8"}}), (N{{"br1", "eth8", true}})) << "a reload named another one";
  EXPECT_EQ(noteNatEgresses(w, M{{"br1", "eth8"}, {"br2", "eth7"}}), (N{{"br2", "eth7", true}}));
  EXPECT_EQ(noteNatEgresses(w, M{{"br2", "eth7"}}), (N{{"br1", "eth8", false}})) << "br1's egress appeared";
  EXPECT_EQ(noteNatEgresses(w, M{}), (N{{"br2", "eth7", false}}));
  EXPECT_EQ(noteNatEgresses(w, M{}), N{});
}

TEST(Reconciler, NatIsActiveOnlyWhenExactlyLoadedWithItsEgressAndHooked) {
  World w;
  auto active = [&](std::optional<bool> hooked) { return natInPlace(w.cfg, w.links, w.nat, hooked); };
  using A = std::map<std::string, bool>;
  EXPECT_EQ(active(true), (A{{"bridge1", true}}));
  EXPECT_EQ(active(false), (A{{"bridge1", false}})) << "FreeBSD: nat-anchor missing from the main ruleset";
  EXPECT_EQ(active(std::nullopt), (A{{"bridge1", false}})) << "hook unknown: not claimed active";
  w.nat["bridge1"]->egress = "eth9";
  EXPECT_EQ(active(true), (A{{"bridge1", false}})) << "another egress";
  w.nat["bridge1"] = platform::BridgeNat{"uplink0", {*Cidr::parse("198.18.5.0/24")}, false};
  EXPECT_EQ(active(true), (A{{"bridge1", false}})) << "rules vnetd did not write";
  w.nat["bridge1"] = std::nullopt;
  EXPECT_EQ(active(true), (A{{"bridge1", false}})) << "flushed";
  w.nat["bridge1"] = platform::BridgeNat{"uplink0", {*Cidr::parse("198.18.5.0/24")}, true};
  std::erase_if(w.links, [](const LinkInfo& l) { return l.name == "uplink0"; });
  EXPECT_EQ(active(true), (A{{"bridge1", false}})) << "egress missing";
  w.nat.clear();
  EXPECT_EQ(active(true), A{}) << "not read: no series rather than a guess";
}

TEST(Reconciler, AMissingNatHookIsReportedOncePerChange) {
  NatHookWatch w;
  EXPECT_EQ(noteNatHook(w, true), NatHookNews::None) << "present from the start: nothing to say";
  EXPECT_EQ(noteNatHook(w, false), NatHookNews::Missing);
  EXPECT_EQ(noteNatHook(w, false), NatHookNews::None) << "every later pass stays quiet";
  EXPECT_EQ(noteNatHook(w, false), NatHookNews::None);
  EXPECT_EQ(noteNatHook(w, true), NatHookNews::Back);
  EXPECT_EQ(noteNatHook(w, true), NatHookNews::None);
  EXPECT_EQ(noteNatHook(w, false), NatHookNews::Missing) << "lost again after it came back: warned again";
  NatHookWatch first;
  EXPECT_EQ(noteNatHook(first, false), NatHookNews::Missing) << "missing at the first pass";
}

TEST(Reconciler, EveryLostPairOfAJailIsNamedInOneRepair) {
  World w;
  InterfaceRecord second = record("web");
  second.index = 1;
  second.host_name = interfaceName("web", 1, Side::A);
  second.jail_name = interfaceName("web", 1, Side::B);
  second.host_mac = deriveMac(kHost, "web", 1, Side::A).toString();
  second.jail_mac = deriveMac(kHost, "web", 1, Side::B).toString();
  w.state.jails["web"].interfaces.push_back(second);
  losePair(w);  // e1a_web was never in the links either
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::RepairJailPairs});
  EXPECT_EQ(plan[0].reason, "jail web lost its interfaces e0a_web, e1a_web");
}

TEST(Reconciler, NoRepairForAStoppedJailAPrestartOrAPresentHostSide) {
  World stopped;  // not running: orphan collection's business, after the grace
  stopped.running.clear();
  losePair(stopped);
  EXPECT_TRUE(stopped.plan().empty());

  World starting;  // phase prestart: `created` moves the jail sides in, not the reconciler
  starting.state.jails["web"].phase = "prestart";
  losePair(starting);
  EXPECT_TRUE(starting.plan().empty());

  World present;  // the healthy baseline: the host side exists
  EXPECT_TRUE(present.plan().empty());

  World renamed;  // renamed by hand: the pair (its MAC) is still there
  renamed.byName("e0a_web").name = "webhost";
  for (const auto& a : renamed.plan()) EXPECT_NE(a.kind, Kind::RepairJailPairs) << a.reason;

  World adopted;  // observed, not made by vnetd: never made anew either
  adopted.state.jails["web"].interfaces[0].created_by_vnetd = false;
  losePair(adopted);
  EXPECT_TRUE(adopted.plan().empty());
}

TEST(Reconciler, ARepairWaitsForItsBridge) {
  World w;
  losePair(w);
  w.links.erase(w.links.begin());  // bridge0 gone too: re-created first
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::EnsureBridge});
}

TEST(Reconciler, RepairsComeAfterMembersAndBeforeOrphans) {
  World w;
  losePair(w);
  JailRecord gone = w.state.jails["web"];
  gone.name = "old";
  gone.interfaces = {record("old")};
  w.state.jails["old"] = gone;
  w.known.insert("old");
  w.clock["jail:old"] = 0;  // not running for long
  EXPECT_EQ(kinds(w.plan()), (std::vector<Kind>{Kind::RepairJailPairs, Kind::CollectOrphan}));
}

TEST(Reconciler, ANameWithAnotherMacIsNotOurs) {
  World w;
  auto& hs = w.byName("e0a_web");
  hs.master_index = 0;
  hs.mac = deriveMac("other-host", "web", 0, Side::A);
  EXPECT_TRUE(w.plan().empty()) << "never touch an interface whose identity does not match";
}

TEST(Reconciler, OrphansWaitForTheGracePeriod) {
  World w;
  w.running.clear();
  EXPECT_TRUE(w.plan().empty());
  EXPECT_EQ(w.clock.at("jail:web"), 100000);
  w.now_ms += 59999;
  EXPECT_TRUE(w.plan().empty());
  w.now_ms += 1;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::CollectOrphan});
  EXPECT_EQ(plan[0].jail, "web");
}

TEST(Reconciler, APrestartStillAtWorkIsNotCollectedHoweverLongItsNameWasSeen) {
  // The daemon has seen a record of "web" not running for longer than the grace (an
  // earlier start), but the record's last phase change is recent: a prestart chain that
  // is still running. The grace counts from that change.
  World w;
  w.running.clear();
  w.state.jails["web"].phase = "prestart";
  (void)w.plan();
  w.now_ms += 600000;
  w.now_unix_s += 600;
  w.state.jails["web"].updated_at = w.now_unix_s - 5;
  EXPECT_TRUE(w.plan().empty()) << "a record changed 5 s ago is within the grace";
  w.state.jails["web"].updated_at = w.now_unix_s - 60;
  EXPECT_TRUE(w.plan().empty()) << "exactly one grace ago (1 s resolution) still counts as recent";
  // Its last change is older than the grace: collected.
  w.state.jails["web"].updated_at = w.now_unix_s - 61;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::CollectOrphan});
  EXPECT_EQ(plan[0].jail, "web");
}

TEST(Reconciler, AnOldRecordStillWaitsForTheGraceAfterTheDaemonFirstSeesIt) {
  // Both clocks must agree: an old record is not collected the moment a daemon starts.
  World w;
  w.running.clear();
  w.state.jails["web"].phase = "prestart";
  w.state.jails["web"].updated_at = w.now_unix_s - 3600;
  EXPECT_TRUE(w.plan().empty());
  w.now_ms += 60000;
  w.now_unix_s += 60;
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::CollectOrphan});
}

TEST(Reconciler, ARecordStampedInTheFutureFallsBackToTheMonotonicGrace) {
  // The wall clock was stepped back after the record was written: its age is unknown, so
  // only the time this daemon has seen it not running counts (never "recent forever").
  World w;
  w.running.clear();
  w.state.jails["web"].updated_at = w.now_unix_s + 86400;
  EXPECT_TRUE(w.plan().empty());
  w.now_ms += 60000;
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::CollectOrphan});
  // Extreme stamps from a file never overflow the comparison.
  w.state.jails["web"].updated_at = INT64_MIN;
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::CollectOrphan});
  w.state.jails["web"].updated_at = INT64_MAX;
  EXPECT_EQ(kinds(w.plan()), std::vector<Kind>{Kind::CollectOrphan});
}

TEST(Reconciler, AJailThatComesBackRestartsItsGrace) {
  World w;
  w.running.clear();
  (void)w.plan();
  w.now_ms += 30000;
  w.running.insert("web");
  (void)w.plan();
  EXPECT_TRUE(w.clock.empty());
  w.running.clear();
  w.now_ms += 40000;
  EXPECT_TRUE(w.plan().empty()) << "grace counts from the latest disappearance";
}

TEST(Reconciler, LeftoversOfAKilledPrestartAreDestroyedAfterTheGrace) {
  World w;
  LinkInfo left = link(20, interfaceName("db", 2, Side::A), LinkKind::Pair);
  left.mac = deriveMac(kHost, "db", 2, Side::A);
  left.description = "vnetd:db:2";
  w.links.push_back(left);
  LinkInfo peer = link(21, interfaceName("db", 2, Side::B), LinkKind::Pair);  // still on the host
  peer.mac = deriveMac(kHost, "db", 2, Side::B);
  peer.description = "vnetd:db:2";
  w.links.push_back(peer);
  EXPECT_TRUE(w.plan().empty());
  w.now_ms += 60000;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), std::vector<Kind>{Kind::DestroyLeftover});
  EXPECT_EQ(plan[0].interface, left.name);
  EXPECT_EQ(plan[0].jail, "db");
  EXPECT_EQ(plan[0].index, 2u);

  // While its jail runs, a prestart may be in flight: hands off.
  w.running.insert("db");
  EXPECT_TRUE(w.plan().empty());
}

TEST(Reconciler, ALeftoverKilledBeforeItsDescriptionIsFoundByNameAndMac) {
  World w;
  LinkInfo left = link(20, "e1a_cache", LinkKind::Pair);
  left.mac = deriveMac(kHost, "cache", 1, Side::A);  // description never set
  w.links.push_back(left);
  LinkInfo plain = link(21, "e0a_other", LinkKind::Pair);  // a name like ours, an admin's MAC
  plain.mac = *MacAddress::parse("02:00:00:00:00:07");
  w.links.push_back(plain);
  w.now_ms += 60000;
  (void)w.plan();
  w.now_ms += 60000;
  auto plan = w.plan();
  ASSERT_EQ(kinds(plan), (std::vector<Kind>{Kind::DestroyLeftover, Kind::ReportForeign}));
  EXPECT_EQ(plan[0].interface, "e1a_cache");
  EXPECT_EQ(plan[0].index, 1u);
  EXPECT_EQ(plan[1].interface, "e0a_other");
}

TEST(Reconciler, InterfacesThatOnlyClaimToBeOursAreReportedNeverDestroyed) {
  World w;
  LinkInfo fake = link(30, "e0a_db", LinkKind::Pair);
  fake.description = "vnetd:db:0";  // right words, wrong MAC (another host, or hand-made)
  fake.mac = *MacAddress::parse("02:00:00:00:00:01");
  w.links.push_back(fake);
  LinkInfo renamed = link(31, "mything", LinkKind::Pair);
  renamed.description = "vnetd:db:1";
  renamed.mac = deriveMac(kHost, "db", 1, Side::A);  // our MAC under another name
  w.links.push_back(renamed);
  LinkInfo bridge_desc = link(32, "bridge9", LinkKind::Bridge);
  bridge_desc.description = "vnetd:bridge:lan";  // the bridges' own mark, not a pair's
  w.links.push_back(bridge_desc);
  w.now_ms += 1000000;
  for (int pass = 0; pass < 2; ++pass) {
    auto plan = w.plan();
    ASSERT_EQ(kinds(plan), (std::vector<Kind>{Kind::ReportForeign, Kind::ReportForeign}));
    EXPECT_EQ(plan[0].interface, "e0a_db");
    EXPECT_EQ(plan[1].interface, "mything");
  }
}

// prestart records a pair before creating it, and FreeBSD sets MACs and the description
// before renaming the kernel's epairNa/b: a creation interrupted before the rename leaves
// epairNa/b carrying a recorded jail's MACs. They go after the grace once the jail is not
// running — never the live pair, whatever an administrator renamed it to.
TEST(Reconciler, AnUnrenamedPairOfARecordedJailIsALeftover) {
  World w;
  w.running.clear();
  LinkInfo a = link(40, "epair7a", LinkKind::Pair);
  a.mac = deriveMac(kHost, "web", 0, Side::A);
  a.description = "vnetd:web:0";
  LinkInfo b = link(41, "epair7b", LinkKind::Pair);
  b.mac = deriveMac(kHost, "web", 0, Side::B);
  b.description = "vnetd:web:0";
  w.links.push_back(a);
  w.links.push_back(b);
  EXPECT_TRUE(w.plan().empty()) << "within the grace";
  w.now_ms += 60000;
  auto plan = w.plan();
  // (The record itself is collected as an orphan too: its jail is gone.)
  ASSERT_EQ(kinds(plan), (std::vector<Kind>{Kind::CollectOrphan, Kind::DestroyLeftover, Kind::DestroyLeftover}));
  EXPECT_EQ(plan[1].interface, "epair7a");
  EXPECT_EQ(plan[1].jail, "web");
  EXPECT_EQ(plan[2].interface, "epair7b");
  auto destroys = [](const std::vector<ReconcileAction>& p) {
    return std::count_if(p.begin(), p.end(), [](const ReconcileAction& a) { return a.kind == Kind::DestroyLeftover; });
  };
  // While the jail runs: hands off.
  w.running.insert("web");
  EXPECT_EQ(destroys(w.plan()), 0);
  w.running.clear();
  EXPECT_EQ(destroys(w.plan()), 0) << "the grace starts again";
  w.now_ms += 60000;
  EXPECT_EQ(destroys(w.plan()), 2);
  // Another MAC under that description is someone else's: reported, never destroyed.
  w.byName("epair7a").mac = *MacAddress::parse("02:00:00:00:00:09");
  w.links.pop_back();
  (void)w.plan();
  w.now_ms += 60000;
  plan = w.plan();
  EXPECT_EQ(destroys(plan), 0);
  EXPECT_EQ(std::count_if(plan.begin(), plan.end(), [](const ReconcileAction& a) { return a.kind == Kind::ReportForeign; }),
            1);
}

// The live host side renamed by an administrator keeps the description and the MAC, but
// not the kernel's epairN name: never a leftover, jail running or not.
TEST(Reconciler, ARenamedLiveHostSideIsNeverALeftover) {
  World w;
  w.byName("e0a_web").name = "webhost";
  for (bool running : {true, false}) {
    if (!running) w.running.clear();
    w.now_ms += 1000000;
    for (const auto& a : w.plan()) EXPECT_NE(a.kind, Kind::DestroyLeftover) << a.reason;
  }
}

TEST(Reconciler, DescriptionsAreParsedStrictly) {
  World w;
  for (const char* d : {"vnetd:", "vnetd::0", "vnetd:db:", "vnetd:db:x", "vnetd:db:16", "vnetd:db:1 ",
                        "vnetd:../x:0", "xvnetd:db:0"}) {
    LinkInfo l = link(40, "odd", LinkKind::Pair);
    l.description = d;
    w.links.push_back(l);
    EXPECT_TRUE(w.plan().empty()) << d;
    w.links.pop_back();
  }
}

}  // namespace
}  // namespace vnetd::daemon
