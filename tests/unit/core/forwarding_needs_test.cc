#include "core/forwarding_needs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace vnetd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

Config parse(const std::string& text) {
  ConfigLoadResult r = parseConfig(text, "vnetd.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().toString());
  return r.config.value_or(Config{});
}
IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

TEST(ForwardingNeeds, NatNeedsIpv4Only) {
  Config c = parse(R"([bridge.lan]
interface = "br0"
address = "198.18.238.1/24"
address6 = "2001:db8:238::1/64"
nat = "eth0"
)");
  auto n = forwardingNeeds(c);
  EXPECT_THAT(n.ipv4.nat, ElementsAre("lan"));
  EXPECT_TRUE(n.ipv4.needed());
  EXPECT_FALSE(n.ipv6.needed());  // NAT translates IPv4; address6 alone routes nothing
}

TEST(ForwardingNeeds, NatWithoutAddressTranslatesNothing) {
  BridgeConfig b;
  b.name = b.interface = "br0";
  b.nat = "eth0";
  Config c;
  c.bridges["br0"] = b;
  EXPECT_FALSE(natWanted(b));
  EXPECT_FALSE(forwardingNeeds(c).ipv4.needed());
}

TEST(ForwardingNeeds, JailsRoutingViaTheBridgeAddress) {
  // The jail's gateways default to the bridge's addresses (the loader fills them in).
  Config c = parse(R"([bridge.lan]
interface = "br0"
address = "198.18.238.1/24"
address6 = "2001:db8:238::1/64"

[bridge.other]
interface = "br1"
address = "198.18.239.1/24"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
address = "198.18.238.2/24"
address6 = "2001:db8:238::2/64"

[jail.db]
[[jail.db.interface]]
bridge = "other"
address = "198.18.239.2/24"
gateway = "198.18.239.254"
)");
  auto n = forwardingNeeds(c);
  EXPECT_THAT(n.ipv4.nat, IsEmpty());
  EXPECT_THAT(n.ipv4.gateways, ElementsAre(Pair("lan", ip("198.18.238.1"))));
  EXPECT_THAT(n.ipv6.gateways, ElementsAre(Pair("lan", ip("2001:db8:238::1"))));
  // A running jail that routes via the other bridge (doctor knows it from the state):
  // listed once however many name it.
  n = forwardingNeeds(c, {ip("198.18.239.1"), ip("198.18.239.1"), ip("198.18.238.1")});
  EXPECT_THAT(n.ipv4.gateways, ElementsAre(Pair("lan", ip("198.18.238.1")), Pair("other", ip("198.18.239.1"))));
}

TEST(ForwardingNeeds, Ipv6OnlyWithAddress6) {
  // The jail has IPv6 and a gateway6 that is not the host: no IPv6 forwarding needed.
  Config c = parse(R"([bridge.lan]
interface = "br0"
address = "198.18.238.1/24"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
address = "198.18.238.2/24"
address6 = "2001:db8:238::2/64"
gateway6 = "2001:db8:238::fe"
)");
  auto n = forwardingNeeds(c);
  EXPECT_TRUE(n.ipv4.needed());
  EXPECT_FALSE(n.ipv6.needed());
}

TEST(ForwardingNeeds, NothingWithoutBridgeAddresses) {
  Config c = parse(R"([bridge.lan]
interface = "br0"

[jail.web]
[[jail.web.interface]]
bridge = "lan"
)");
  auto n = forwardingNeeds(c);
  EXPECT_FALSE(n.ipv4.needed());
  EXPECT_FALSE(n.ipv6.needed());
}

// Issue 19: a bridge advertising itself as router routes for the jails that learn their
// default route from it; without router_advertisements nothing on it routes IPv6.
TEST(ForwardingNeeds, RouterAdvertisementsMakeTheBridgeAnIpv6Gateway) {
  const std::string base = R"([bridge.lan]
interface = "br0"
address6 = "2001:db8:180::1/64"
)";
  EXPECT_FALSE(forwardingNeeds(parse(base)).ipv6.needed());
  auto n = forwardingNeeds(parse(base + "router_advertisements = true\n"));
  EXPECT_THAT(n.ipv6.gateways, ElementsAre(Pair("lan", ip("2001:db8:180::1"))));
  EXPECT_FALSE(n.ipv4.needed());
}

}  // namespace
}  // namespace vnetd
