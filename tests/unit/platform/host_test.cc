#include "platform/host.h"

#include <gtest/gtest.h>

namespace vnetd::platform {
namespace {

// The host id must be stable between calls (MACs derive from it) and non-empty on any
// machine that can run vnetd; the test machines have a machine-id / hostuuid.
TEST(HostId, StableAndNonEmpty) {
  auto a = readHostId();
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_FALSE(a->empty());
  EXPECT_EQ(a->find_first_of(" \t\r\n"), std::string::npos);
  auto b = readHostId();
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
}

}  // namespace
}  // namespace vnetd::platform
