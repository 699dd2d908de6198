// The Linux event source on the real kernel: interface changes arrive as
// platform-neutral events, and a socket overflow is reported as ResyncNeeded.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>

#include "platform/events.h"
#include "platform/netif.h"
#include "tests/support/testnet.h"

namespace vnetd::platform {
namespace {

using Type = InterfaceEvent::Type;
using testing::TestNet;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vnetd::testing::isRoot());
    auto s = openHostEvents();
    ASSERT_TRUE(s) << s.error().message();
    src_ = std::move(*s);
    auto h = openHostStack();
    ASSERT_TRUE(h);
    host_ = std::move(*h);
  }

  // Waits (poll with a deadline, no sleeps) until `pred` holds over the events seen so far.
  template <typename Pred>
  bool waitFor(Pred pred, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (pred()) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      std::vector<pollfd> pfds;
      for (int fd : src_->fds()) pfds.push_back({fd, POLLIN, 0});
      ::poll(pfds.data(), pfds.size(), static_cast<int>(left.count()));
      auto r = src_->drain(events_);
      if (!r) ADD_FAILURE() << r.error().message();
    }
  }

  bool seen(Type type, const std::string& name, const char* source = "rtnetlink") {
    for (const auto& e : events_)
      if (e.type == type && e.name == name && std::string(e.source) == source) return true;
    return false;
  }

  TestNet net_;
  std::unique_ptr<EventSource> src_;
  std::unique_ptr<NetStack> host_;
  std::vector<InterfaceEvent> events_;
};

TEST_F(EventsTest, ArrivalRenameLinkAddressDeparture) {
  std::string a = net_.bridgeName("eva"), b = net_.bridgeName("evb"), renamed = net_.bridgeName("evr");
  PairSpec spec;
  spec.host_name = a;
  spec.jail_name = b;
  spec.host_mac = *MacAddress::parse("02:00:00:00:10:0a");
  spec.jail_mac = *MacAddress::parse("02:00:00:00:10:0b");
  ASSERT_TRUE(host_->createPair(spec));  // host side is brought up by createPair
  EXPECT_TRUE(waitFor([&] { return seen(Type::Arrived, a) && seen(Type::Arrived, b); }));
  ASSERT_TRUE(host_->setUp(b, true));  // both ends up → carrier on both
  EXPECT_TRUE(waitFor([&] { return seen(Type::LinkUp, a); }));
  ASSERT_TRUE(host_->addAddress(a, *Cidr::parse("198.18.90.1/24")));
  EXPECT_TRUE(waitFor([&] {
    for (const auto& e : events_)
      if (e.type == Type::AddressAdded && e.name == a && e.address && e.address->toString() == "198.18.90.1/24")
        return true;
    return false;
  }));
  ASSERT_TRUE(host_->setUp(b, false));
  ASSERT_TRUE(host_->setUp(a, false));
  ASSERT_TRUE(host_->rename(a, renamed));
  EXPECT_TRUE(waitFor([&] {
    for (const auto& e : events_)
      if (e.type == Type::Renamed && e.name == renamed && e.old_name == a) return true;
    return false;
  }));
  ASSERT_TRUE(host_->destroyLink(renamed));
  EXPECT_TRUE(waitFor([&] { return seen(Type::Departed, renamed) && seen(Type::Departed, b); }));
  // Kernel uevents report the same life cycle on their own channel (when the kernel
  // delivers uevents to this network namespace).
  bool uevents = waitFor([&] { return seen(Type::Arrived, b, "uevent"); }, 1000);
  if (uevents) {
    EXPECT_TRUE(waitFor([&] { return seen(Type::Departed, renamed, "uevent"); }));
  }
}

TEST_F(EventsTest, OverflowIsReportedAsResyncNeeded) {
  // Shrink the rtnetlink socket's buffer and create many links without reading: the
  // kernel drops messages and the next drain must say "resync", not guess.
  int tiny = 1024;
  ASSERT_EQ(::setsockopt(src_->fds()[0], SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny), 0);
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back(net_.bridgeName("o" + std::to_string(i)));
    ASSERT_TRUE(host_->createBridge(names.back(), std::nullopt));
  }
  ASSERT_TRUE(src_->drain(events_));
  bool resync = false;
  for (const auto& e : events_) resync |= e.type == Type::ResyncNeeded;
  EXPECT_TRUE(resync);
  for (const auto& n : names) (void)host_->destroyLink(n);
}

// After an overflow the source replaces the overflowed socket (fds() and fdsGeneration()
// change), and the fresh socket delivers: an address added afterwards is an rtnetlink
// message only (no uevent), so it can only arrive through the new rtnetlink socket.
TEST_F(EventsTest, OverflowReplacesTheSocketAndTheFreshOneDelivers) {
  std::vector<int> before = src_->fds();
  uint64_t generation = src_->fdsGeneration();
  struct stat old_rtnl {};
  ASSERT_EQ(::fstat(before[0], &old_rtnl), 0);
  int tiny = 1024;
  ASSERT_EQ(::setsockopt(before[0], SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny), 0);
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back(net_.bridgeName("f" + std::to_string(i)));
    ASSERT_TRUE(host_->createBridge(names.back(), std::nullopt));
  }
  ASSERT_TRUE(src_->drain(events_));
  bool resync = false;
  for (const auto& e : events_) resync |= e.type == Type::ResyncNeeded;
  EXPECT_TRUE(resync);
  EXPECT_NE(src_->fdsGeneration(), generation);
  std::vector<int> after = src_->fds();
  ASSERT_EQ(after.size(), before.size());
  struct stat new_rtnl {};
  ASSERT_EQ(::fstat(after[0], &new_rtnl), 0);
  EXPECT_NE(new_rtnl.st_ino, old_rtnl.st_ino) << "the rtnetlink socket was not replaced";
  EXPECT_EQ(after[1], before[1]) << "the uevent socket did not overflow and stays";

  events_.clear();
  ASSERT_TRUE(host_->addAddress(names[0], *Cidr::parse("198.18.91.1/24")));
  EXPECT_TRUE(waitFor([&] {
    for (const auto& e : events_)
      if (e.type == Type::AddressAdded && e.name == names[0]) return true;
    return false;
  }));
  for (const auto& n : names) (void)host_->destroyLink(n);
}

}  // namespace
}  // namespace vnetd::platform
