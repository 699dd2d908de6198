#include "platform/host.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

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

// top -H / ps -T show the name; longer names are cut to the 15 characters the kernel keeps.
TEST(ThreadName, TheCallingThreadIsNamed) {
  auto nameOf = [](const char* name) {
    std::string seen;
    std::thread t([&] {
      nameThisThread(name);
      char buf[64] = {};
      ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
      seen = buf;
    });
    t.join();
    return seen;
  };
  EXPECT_EQ(nameOf("vnetd-mutator"), "vnetd-mutator");
  EXPECT_EQ(nameOf("vnetd-a-much-longer-name"), "vnetd-a-much-lo");
}

}  // namespace
}  // namespace vnetd::platform
