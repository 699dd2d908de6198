// VLAN uplinks ([vlan.X], a bridge's "vlan:X" uplink) on the Linux backend, end to end
// through vnetd-hook: the vlan is created on a test veth with its tag, made a member of
// the bridge, carries a jail's traffic tagged to a "router" namespace on the same VLAN,
// stays when the jail stops (poststop destroys the jail's pairs only: docs/jail-conf.md),
// and goes with its parent.
//
// Kernels without 802.1Q support (8021q neither built in nor loadable, as on some CI
// and container hosts) cannot run this: the test finds that out by trying, in a namespace
// of its own, and skips with the kernel's answer. Any other failure is a failure.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/naming.h"
#include "platform/netif.h"
#include "tests/integration/backend_fixture.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::CommandResult;
using testing::TestNet;

class VlanTest : public BackendFixture {
 protected:
  void SetUp() override {
    BackendFixture::SetUp();
    if (HasFatalFailure()) return;
    auto why = vlanUnsupported();
    if (HasFailure()) return;
    if (why) GTEST_SKIP() << *why;
  }

  // nullopt when this kernel makes vlan links; else the one-line reason to skip. Tried on
  // a veth in a namespace of this test, so the host is never touched. A link kind without
  // a driver is refused with EOPNOTSUPP (net/core/rtnetlink.c, rtnl_newlink: no
  // rtnl_link_ops for "vlan" even after request_module), which ip(8) reports as "Unknown
  // device type" (with extended ack) or "Operation not supported".
  std::optional<std::string> vlanUnsupported() {
    const std::string ns = net_.jailName("probe");
    net_.addNamespace(ns);
    CommandResult r = testing::run({"ip", "-n", ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1"});
    if (r.status != 0) {
      ADD_FAILURE() << "probe: ip link add veth in " << ns << ": " << r.err;
      return std::nullopt;
    }
    r = testing::run({"ip", "-n", ns, "link", "add", "link", "p0", "name", "p0.100", "type", "vlan", "id", "100"});
    net_.deleteNamespace(ns);
    if (r.status == 0) return std::nullopt;
    if (r.err.find("Unknown device type") != std::string::npos ||
        r.err.find("Operation not supported") != std::string::npos) {
      std::string said = r.err.substr(0, r.err.find('\n'));
      return "this kernel has no 802.1Q vlan support (8021q not built in or loadable): creating a vlan link "
             "in a test namespace said '" + said + "'";
    }
    ADD_FAILURE() << "probe: creating a vlan link failed for another reason than missing 8021q: " << r.err;
    return std::nullopt;
  }

  void writeConfig(const std::string& body) {
    dir_.write("vnetd.toml", "[daemon]\nstate_dir = \"" + dir_.file("state") + "\"\n\n" + body);
  }

  CommandResult hook(const std::string& phase, const std::string& jail) {
    return testing::run({VNETD_HOOK_BINARY, "--standalone", "--config", dir_.file("vnetd.toml"), phase, jail});
  }

  static bool ok(const std::vector<std::string>& argv) {
    CommandResult r = testing::run(argv);
    EXPECT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 3 ? argv[3] : "") << ": " << r.err;
    return r.status == 0;
  }

  // ip -d link show: "NAME@PARENT: ..." and "vlan protocol 802.1Q id TAG" (test code may
  // read ip(8): the product's LinkInfo does not carry the tag).
  static std::string details(const std::string& name) {
    return testing::run({"ip", "-d", "link", "show", "dev", name}).out;
  }
};

TEST_F(VlanTest, VlanUplinkIsTaggedOnItsParentJoinsTheBridgeAndOutlivesTheJail) {
  // The seed tutorial's example (vlan100 on em0, tag 100, member of bridge0), with a veth
  // of this test as em0 and a "router" namespace on VLAN 100 at its other end.
  const std::string parent = net_.bridgeName("up"), peer = net_.bridgeName("upr");
  const std::string vlan = net_.bridgeName("v100"), br = net_.bridgeName("vbr");
  const std::string router = net_.jailName("rt"), jail = net_.jailName("j");
  net_.addNamespace(router);
  ASSERT_TRUE(ok({"ip", "link", "add", parent, "type", "veth", "peer", "name", peer}));
  ASSERT_TRUE(ok({"ip", "link", "set", peer, "netns", router}));
  ASSERT_TRUE(ok({"ip", "link", "set", parent, "up"}));
  ASSERT_TRUE(ok({"ip", "-n", router, "link", "set", peer, "up"}));
  ASSERT_TRUE(ok({"ip", "-n", router, "link", "add", "link", peer, "name", "vl100", "type", "vlan", "id", "100"}));
  ASSERT_TRUE(ok({"ip", "-n", router, "addr", "add", "198.18.120.2/24", "dev", "vl100"}));
  ASSERT_TRUE(ok({"ip", "-n", router, "link", "set", "vl100", "up"}));

  writeConfig("[vlan." + vlan + "]\nparent = \"" + parent + "\"\ntag = 100\n\n" +
              "[bridge.vl]\ninterface = \"" + br + "\"\nuplinks = [\"vlan:" + vlan + "\"]\n\n" +
              "[jail." + jail + "]\n[[jail." + jail + ".interface]]\nbridge = \"vl\"\naddress = \"198.18.120.10/24\"\n");
  auto r = hook("prestart", jail);
  ASSERT_EQ(r.status, 0) << r.err;
  net_.addNamespace(jail);
  r = hook("created", jail);
  ASSERT_EQ(r.status, 0) << r.err;

  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  auto vl = hostLink(vlan);
  ASSERT_TRUE(vl) << "prestart created the vlan of the bridge's uplink";
  EXPECT_EQ(vl->kind, platform::LinkKind::Vlan);
  EXPECT_TRUE(vl->admin_up);
  EXPECT_EQ(vl->master_index, bridge->index) << "the vlan is a member of " << br;
  std::string d = details(vlan);
  EXPECT_NE(d.find(vlan + "@" + parent + ":"), std::string::npos) << d;
  EXPECT_NE(d.find("vlan protocol 802.1Q id 100 "), std::string::npos) << d;
  // Tagged both ways: the router hears the jail only on its VLAN 100 interface.
  EXPECT_TRUE(TestNet::pingWithin(jail, "198.18.120.2", 10)) << "the jail reaches the router on VLAN 100";

  // jail(8) removes the jail, then poststop: the jail's pair goes, the vlan (the bridge's
  // uplink, shared by every jail on it) stays a member of the bridge.
  net_.deleteNamespace(jail);
  r = hook("poststop", jail);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(hostLink(interfaceName(jail, 0, Side::A))) << "poststop destroyed the jail's pair";
  vl = hostLink(vlan);
  ASSERT_TRUE(vl) << "poststop leaves the bridge's vlan uplink";
  EXPECT_EQ(vl->master_index, bridge->index);

  // Teardown: the vlan goes with its parent (the kernel unregisters a parent's vlans).
  ASSERT_TRUE(ok({"ip", "link", "del", parent}));
  EXPECT_FALSE(hostLink(vlan)) << "no vlan left once its parent is gone";
  ASSERT_TRUE(ok({"ip", "link", "del", br}));
}

}  // namespace
}  // namespace vnetd
