// The model of what Linux's forwarding switch rewrites (platform/linux/forwarding_effects.h),
// checked against the kernel in a namespace by tests/integration/forwarding_test.cc.
#include "platform/linux/forwarding_effects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnetd::platform::linux_forwarding {
namespace {

using ::testing::ElementsAre;

TEST(ForwardingEffects, LeavesPerFamily) {
  // inet_forward_change: all/accept_redirects, default and every interface's forwarding.
  EXPECT_THAT(sideEffectLeaves(IpFamily::V4, "all"), ElementsAre("accept_redirects"));
  EXPECT_THAT(sideEffectLeaves(IpFamily::V4, "default"), ElementsAre("forwarding"));
  EXPECT_THAT(sideEffectLeaves(IpFamily::V4, "eth0"), ElementsAre("forwarding"));
  // addrconf_fixup_forwarding: default and every interface's forwarding; switching off
  // zeroes all's and every interface's force_forwarding.
  EXPECT_THAT(sideEffectLeaves(IpFamily::V6, "all"), ElementsAre("force_forwarding"));
  EXPECT_THAT(sideEffectLeaves(IpFamily::V6, "default"), ElementsAre("forwarding"));
  EXPECT_THAT(sideEffectLeaves(IpFamily::V6, "eth0"), ElementsAre("forwarding", "force_forwarding"));
}

TEST(ForwardingEffects, ValueAfterSwitchOn) {
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V4, "conf/eth0/forwarding", 0), 1);
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V4, "conf/default/forwarding", 0), 1);
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V4, "conf/all/accept_redirects", 1), 0);
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V6, "conf/eth0/forwarding", 0), 1);
  // The switch-on leaves force_forwarding alone (only the switch-off writes it).
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V6, "conf/eth0/force_forwarding", 1), 1);
  EXPECT_EQ(valueAfterSwitchOn(IpFamily::V6, "conf/all/force_forwarding", 0), 0);
}

TEST(ForwardingEffects, OnlyKnownKeysAreWritable) {
  EXPECT_TRUE(isSideEffectKey(IpFamily::V4, "conf/eth0/forwarding"));
  EXPECT_TRUE(isSideEffectKey(IpFamily::V4, "conf/eth0.100/forwarding"));
  EXPECT_TRUE(isSideEffectKey(IpFamily::V4, "conf/all/accept_redirects"));
  EXPECT_TRUE(isSideEffectKey(IpFamily::V4, "conf/default/forwarding"));
  EXPECT_TRUE(isSideEffectKey(IpFamily::V6, "conf/eth0/force_forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/all/forwarding")) << "the switch itself";
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/eth0/accept_redirects"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/eth0/force_forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V6, "conf/all/forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V6, "conf/default/force_forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/../../../../etc/forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/a/b/forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "ip_forward"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf//forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "neigh/eth0/forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/./forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/../forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/eth0:1/forwarding"));
  EXPECT_FALSE(isSideEffectKey(IpFamily::V4, "conf/sixteen-chars-xx/forwarding"));
}

TEST(ForwardingEffects, InterfaceNamesByTheKernelsRule) {
  // Host interfaces vnetd did not name still get their flag back.
  EXPECT_TRUE(isConfName("wg+home"));
  EXPECT_TRUE(isConfName("veth@x"));
  EXPECT_TRUE(isConfName("all"));
  EXPECT_TRUE(isConfName("fifteen-chars-x"));
  EXPECT_FALSE(isConfName("sixteen-chars-xx"));
  EXPECT_FALSE(isConfName("."));
  EXPECT_FALSE(isConfName(".."));
  EXPECT_FALSE(isConfName("a b"));
  EXPECT_FALSE(isConfName(""));
}

}  // namespace
}  // namespace vnetd::platform::linux_forwarding
