// The pure rebuild of jail records from what the kernel shows (state_rebuild.h), after
// the state store lost them. The kernel side is tests/integration/hook_test.cc
// (AutoAddressesAfterTheStateIsLost); prestart's use of it is jail_network_test.cc.
#include "core/state_rebuild.h"

#include <gtest/gtest.h>

#include "core/jail_network.h"
#include "core/naming.h"

namespace vnetd {
namespace {

using platform::AddressInfo;
using platform::LinkInfo;
using platform::LinkKind;

constexpr const char* kHostId = "host-1";

LinkInfo link(uint32_t index, const std::string& name, LinkKind kind, MacAddress mac, std::string description,
              uint32_t master = 0) {
  LinkInfo l;
  l.index = index;
  l.name = name;
  l.kind = kind;
  l.mac = mac;
  l.description = std::move(description);
  l.master_index = master;
  return l;
}

AddressInfo addr(uint32_t index, const char* cidr) { return {index, *Cidr::parse(cidr)}; }

class StateRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.push_back(link(10, "br0", LinkKind::Bridge, *MacAddress::parse("02:00:00:00:00:10"), "vnetd:bridge:lan"));
    host_.push_back(link(3, "eth0", LinkKind::Other, *MacAddress::parse("02:00:00:00:00:03"), ""));
  }
  // Jail `jail`'s interface `index` as vnetd leaves it after `created`: host side on br0,
  // jail side inside with `addresses`.
  void addPair(const std::string& jail, unsigned index, uint32_t host_index, std::vector<const char*> addresses) {
    host_.push_back(link(host_index, interfaceName(jail, index, Side::A), LinkKind::Pair,
                         deriveMac(kHostId, jail, index, Side::A), pairDescription(jail, index), 10));
    JailStackView& v = view(jail);
    uint32_t inside = static_cast<uint32_t>(v.links.size() + 2);
    v.links.push_back(link(inside, interfaceName(jail, index, Side::B), LinkKind::Pair,
                           deriveMac(kHostId, jail, index, Side::B), pairDescription(jail, index)));
    for (const char* a : addresses) v.addresses.push_back(addr(inside, a));
  }
  JailStackView& view(const std::string& jail) {
    for (auto& v : jails_)
      if (v.jail == jail) return v;
    JailStackView v;
    v.jail = jail;
    v.links.push_back(link(1, "lo", LinkKind::Loopback, MacAddress{}, ""));
    v.addresses.push_back(addr(1, "127.0.0.1/8"));
    jails_.push_back(std::move(v));
    return jails_.back();
  }
  std::vector<JailRecord> rebuild() {
    RebuildInput in;
    in.state = &state_;
    in.host_links = &host_;
    in.jails = &jails_;
    in.bridges = &bridges_;
    in.host_id = kHostId;
    in.now = 1700000000;
    return rebuildRecords(in);
  }

  State state_;
  std::set<std::string> bridges_{"br0"};
  std::vector<LinkInfo> host_;
  std::vector<JailStackView> jails_;
};

TEST_F(StateRebuildTest, ARunningJailGetsItsRecordBackAsFound) {
  addPair("db", 0, 11, {"198.18.7.2/24", "2001:db8:7::2/64", "fe80::1/64"});
  auto out = rebuild();
  ASSERT_EQ(out.size(), 1u);
  const JailRecord& r = out[0];
  EXPECT_EQ(r.name, "db");
  EXPECT_EQ(r.phase, "created");
  EXPECT_EQ(r.updated_at, 1700000000);
  // Not "no limits": which ones its start applied is unknown, so poststop removes the
  // configuration's (an empty set would leave the jail's rctl rules behind).
  EXPECT_EQ(r.limits, std::nullopt);
  ASSERT_EQ(r.interfaces.size(), 1u);
  const InterfaceRecord& ir = r.interfaces[0];
  EXPECT_EQ(ir.index, 0u);
  EXPECT_EQ(ir.host_name, "e0a_db");
  EXPECT_EQ(ir.jail_name, "e0b_db");
  EXPECT_EQ(ir.host_mac, deriveMac(kHostId, "db", 0, Side::A).toString());
  EXPECT_EQ(ir.jail_mac, deriveMac(kHostId, "db", 0, Side::B).toString());
  EXPECT_EQ(ir.bridge, "br0");
  // Link-local IPv6 is the kernel's, never recorded; the loopback's address is not the pair's.
  EXPECT_EQ(ir.addresses, (std::vector<std::string>{"198.18.7.2/24", "2001:db8:7::2/64"}));
  EXPECT_TRUE(ir.created_by_vnetd);
  // What is rebuilt can be saved and read back.
  state_.jails["db"] = r;
  EXPECT_TRUE(validateState(state_)) << validateState(state_).error().message();
  auto decoded = decodeState(encodeState(state_));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->jails.at("db"), r);
}

TEST_F(StateRebuildTest, EveryInterfaceOfAJailInIndexOrder) {
  addPair("db", 1, 12, {"198.18.8.2/24"});
  addPair("db", 0, 11, {"198.18.7.2/24"});
  auto out = rebuild();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].interfaces.size(), 2u);
  EXPECT_EQ(out[0].interfaces[0].index, 0u);
  EXPECT_EQ(out[0].interfaces[0].addresses, std::vector<std::string>{"198.18.7.2/24"});
  EXPECT_EQ(out[0].interfaces[1].index, 1u);
  EXPECT_EQ(out[0].interfaces[1].addresses, std::vector<std::string>{"198.18.8.2/24"});
}

// A jail side renamed inside the jail (its rc's ifconfig_<if>_name) is found by its mark.
TEST_F(StateRebuildTest, AJailSideRenamedInsideIsFoundByItsDescription) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  view("db").links.back().name = "vnet0";
  auto out = rebuild();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].interfaces[0].jail_name, "vnet0");
}

TEST_F(StateRebuildTest, JailsThatAreNotRunningAreNotRebuilt) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  jails_.clear();  // its stack could not be read: not running
  EXPECT_TRUE(rebuild().empty());
}

TEST_F(StateRebuildTest, ARecordThatExistsIsNeverReplaced) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  JailRecord kept;
  kept.name = "db";
  kept.phase = "prestart";
  state_.jails["db"] = kept;
  EXPECT_TRUE(rebuild().empty());
  EXPECT_TRUE(rebuildCandidates(state_, host_, bridges_).empty());
}

// The reconciler's proof (the MAC this host's vnetd derives) decides whether poststop may
// ever destroy it; without it the pair is only observed.
TEST_F(StateRebuildTest, APairWithoutVnetdsMacIsRecordedAsNotCreatedByVnetd) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  host_.back().mac = *MacAddress::parse("02:aa:bb:cc:dd:ee");
  auto out = rebuild();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].interfaces[0].created_by_vnetd);
  EXPECT_EQ(out[0].interfaces[0].host_mac, "02:aa:bb:cc:dd:ee");
}

TEST_F(StateRebuildTest, WithoutItsInsideEndAnInterfaceIsNotRebuilt) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  view("db").links.back().description.clear();
  EXPECT_TRUE(rebuild().empty());
}

TEST_F(StateRebuildTest, TwoBridgeMembersClaimingOneIndexAreAmbiguous) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  host_.push_back(link(12, "other0", LinkKind::Pair, *MacAddress::parse("02:aa:bb:cc:dd:ee"),
                       pairDescription("db", 0), 10));
  EXPECT_TRUE(rebuild().empty());
}

// Both ends on the host (the jail side was moved back, or never in): the bridge member is
// the host side.
TEST_F(StateRebuildTest, TheBridgeMemberIsTheHostSideWhenBothEndsAreOnTheHost) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  host_.push_back(link(12, "e0b_db", LinkKind::Pair, deriveMac(kHostId, "db", 0, Side::B), pairDescription("db", 0)));
  auto out = rebuild();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].interfaces[0].host_name, "e0a_db");
}

TEST_F(StateRebuildTest, AHostNameAnotherRecordClaimsIsNotRebuilt) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  JailRecord other;
  other.name = "web";
  other.phase = "created";
  InterfaceRecord ir;
  ir.host_name = "e0a_db";
  other.interfaces.push_back(ir);
  state_.jails["web"] = other;
  EXPECT_TRUE(rebuild().empty());
}

TEST_F(StateRebuildTest, OnlyPairsWithVnetdsDescriptionCount) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  host_.back().kind = LinkKind::Bridge;  // a bridge described like a pair is no pair
  EXPECT_TRUE(rebuild().empty());
  EXPECT_TRUE(rebuildCandidates(state_, host_, bridges_).empty());
}

// Pairs on a bridge this configuration does not name belong to someone else (another
// instance, another test run on the same kernel); a pair on no bridge is no host side.
TEST_F(StateRebuildTest, OnlyMembersOfConfiguredBridgesCount) {
  addPair("db", 0, 11, {"198.18.7.2/24"});
  bridges_ = {"br1"};
  EXPECT_TRUE(rebuild().empty());
  EXPECT_TRUE(rebuildCandidates(state_, host_, bridges_).empty());
  bridges_ = {"br0"};
  host_.back().master_index = 0;
  EXPECT_TRUE(rebuild().empty());
  EXPECT_TRUE(rebuildCandidates(state_, host_, bridges_).empty());
}

TEST_F(StateRebuildTest, CandidatesAreTheUnrecordedJailsNamedOnHostPairs) {
  addPair("db", 0, 11, {});
  addPair("web", 0, 12, {});
  JailRecord web;
  web.name = "web";
  web.phase = "created";
  state_.jails["web"] = web;
  EXPECT_EQ(rebuildCandidates(state_, host_, bridges_), std::set<std::string>{"db"});
}

}  // namespace
}  // namespace vnetd
