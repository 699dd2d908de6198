// The cross-table rules (core/config_validate.h) without TOML: a Config and the positions
// the section reader would have recorded go in, errors at those positions come out.
#include "core/config_validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config_errors.h"
#include "core/config_positions.h"

namespace vnetd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> strings(std::vector<ConfigError> errors) {
  std::vector<std::string> out;
  for (const ConfigError& e : errors) out.push_back(e.toString());
  return out;
}

BridgeConfig bridge(const std::string& key, const char* address) {
  BridgeConfig b;
  b.name = key;
  b.interface = key;
  b.address = Cidr::parse(address);
  return b;
}

InterfaceConfig iface(const std::string& bridge_key) {
  InterfaceConfig i;
  i.bridge = bridge_key;
  return i;
}

TEST(ValidateConfig, ReportsAtTheRecordedPositionsInFileOrder) {
  Config c;
  ConfigPositions pos;
  c.bridges["a"] = bridge("a", "198.18.0.1/16");
  pos.bridges["a"].key = Pos{1, 9};
  pos.bridges["a"].address = Pos{2, 11};
  pos.bridges["a"].address_given = true;
  c.bridges["b"] = bridge("b", "198.18.5.1/24");
  pos.bridges["b"].key = Pos{3, 9};
  pos.bridges["b"].address = Pos{4, 11};
  pos.bridges["b"].address_given = true;
  JailConfig web;
  web.name = "web";
  web.interfaces.push_back(iface("c"));  // no such bridge
  c.jails["web"] = web;
  InterfacePositions ip;
  ip.who = "jail 'web' interface 0";
  ip.bridge = Pos{7, 10};
  pos.jails["web"].name_valid = true;
  pos.jails["web"].interfaces.push_back(ip);

  ConfigErrors errors("v.toml");
  validateConfig(c, pos, errors);
  EXPECT_THAT(strings(errors.take()),
              ElementsAre("v.toml:4:11: subnet 198.18.5.0/24 of bridge 'b' overlaps subnet "
                          "198.18.0.0/16 of bridge 'a' (give each bridge its own subnet)",
                          "v.toml:7:10: jail 'web' interface 0 refers to undefined bridge 'c' "
                          "(defined bridges: a, b)"));
}

TEST(ValidateConfig, FillsWhatFollowsFromTheBridge) {
  Config c;
  ConfigPositions pos;
  c.bridges["lan"] = bridge("lan", "198.18.0.1/24");
  c.bridges["lan"].mtu = 9000;
  pos.bridges["lan"].address_given = true;
  pos.bridges["lan"].mtu_given = true;
  JailConfig web;
  web.name = "web";
  web.interfaces.push_back(iface("lan"));
  web.interfaces[0].address_auto = true;
  c.jails["web"] = web;
  pos.jails["web"].name_valid = true;
  pos.jails["web"].interfaces.push_back(InterfacePositions{});

  ConfigErrors errors("v.toml");
  validateConfig(c, pos, errors);
  EXPECT_THAT(strings(errors.take()), IsEmpty());
  const InterfaceConfig& i = c.jails.at("web").interfaces.at(0);
  EXPECT_EQ(i.gateway, IpAddress::parse("198.18.0.1"));
  EXPECT_EQ(i.mtu, 9000u);
}

// "vlan:<key>" is the one spelling of a vlan uplink: the loader checks it, the bridge
// set-up (jail_network.cc) creates the vlan it names.
TEST(UplinkVlanKey, OnlyTheVlanPrefixNamesAVlan) {
  EXPECT_EQ(uplinkVlanKey("vlan:v100"), "v100");
  EXPECT_EQ(uplinkVlanKey("vlan:"), "");
  EXPECT_EQ(uplinkVlanKey("em0"), std::nullopt);
  EXPECT_EQ(uplinkVlanKey("vlan100"), std::nullopt);
  EXPECT_EQ(uplinkVlanKey("VLAN:v1"), std::nullopt);
}

TEST(ConfigErrors, SortsByPositionKeepingDiscoveryOrderAtOnePosition) {
  ConfigErrors errors("f");
  errors.add(Pos{3, 1}, "c");
  errors.add(Pos{1, 5}, "b", "h");
  errors.add(Pos{1, 2}, "a");
  errors.add(Pos{3, 1}, "d");
  EXPECT_THAT(strings(errors.take()), ElementsAre("f:1:2: a", "f:1:5: b (h)", "f:3:1: c", "f:3:1: d"));
}

}  // namespace
}  // namespace vnetd
