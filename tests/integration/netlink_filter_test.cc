// NetlinkSocket::dropBridgePortNotifications on the real kernel: a link-group listener with
// the filter gets every whole-link notification an unfiltered one gets, and none of the
// bridge's port notifications (ifi_family AF_BRIDGE); and readPendingDatagrams reads a
// queue longer than one recvmmsg call takes, in order, without losing any.
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <set>
#include <string>
#include <vector>

#include "platform/linux/netlink.h"
#include "platform/netif.h"
#include "tests/support/testnet.h"

namespace vnetd::platform::lnx {
namespace {

using vnetd::testing::TestNet;

struct Seen {
  std::vector<std::string> whole;  // "<type> <index>" of AF_UNSPEC link messages, in order
  unsigned bridge_ports = 0;       // AF_BRIDGE link messages
  unsigned datagrams = 0;           // of the test's own interfaces
};

// Only the test's own interfaces count: other processes change links meanwhile, and a
// notification of theirs may land between the two drains.
Seen drain(NetlinkSocket& sock, const std::set<int>& ours) {
  Seen out;
  bool overflow = false;
  auto r = readPendingDatagrams(sock.fd(), "read", overflow, [&](std::span<const std::byte> d) {
    auto* h = reinterpret_cast<const nlmsghdr*>(d.data());
    if (d.size() < NLMSG_HDRLEN + sizeof(ifinfomsg)) return;
    if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) return;
    auto* ifi = reinterpret_cast<const ifinfomsg*>(d.data() + NLMSG_HDRLEN);
    if (!ours.count(ifi->ifi_index)) return;
    ++out.datagrams;
    if (ifi->ifi_family == AF_BRIDGE) ++out.bridge_ports;
    else out.whole.push_back(std::to_string(h->nlmsg_type) + " " + std::to_string(ifi->ifi_index));
  });
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_FALSE(overflow);
  return out;
}

NetlinkSocket listener(bool filtered) {
  auto s = NetlinkSocket::open(NETLINK_ROUTE);
  EXPECT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->joinGroup(RTNLGRP_LINK));
  if (filtered) {
    EXPECT_TRUE(s->dropBridgePortNotifications());
  }
  s->setReceiveBuffer(4 << 20);
  return std::move(*s);
}

TEST(NetlinkFilter, BridgePortNotificationsAreDroppedAndNothingElse) {
  ASSERT_TRUE(vnetd::testing::isRoot());
  TestNet net;
  NetlinkSocket plain = listener(false), filtered = listener(true);
  auto host = openHostStack();
  ASSERT_TRUE(host) << host.error().message();
  const std::string br = net.bridgeName("nfb");
  std::set<int> ours;
  auto note = [&](const std::string& name) {
    auto l = (*host)->link(name);
    ASSERT_TRUE(l && *l) << name;
    ours.insert(static_cast<int>((*l)->index));
  };
  ASSERT_TRUE((*host)->createBridge(br, std::nullopt));
  note(br);
  ASSERT_TRUE((*host)->setUp(br, true));
  // Ports join, come up, leave: each makes whole-link and bridge-port notifications.
  // More than one recvmmsg call's worth in all (kDatagramsPerCall).
  for (int i = 0; i < 4; ++i) {
    PairSpec spec;
    spec.host_name = net.bridgeName("nfa" + std::to_string(i));
    spec.jail_name = net.bridgeName("nfj" + std::to_string(i));
    spec.host_mac = *MacAddress::parse("02:00:00:00:31:0" + std::to_string(i));
    spec.jail_mac = *MacAddress::parse("02:00:00:00:32:0" + std::to_string(i));
    spec.bridge = br;
    ASSERT_TRUE((*host)->createPair(spec));
    note(spec.host_name);
    note(spec.jail_name);
    ASSERT_TRUE((*host)->setUp(spec.host_name, true));
    ASSERT_TRUE((*host)->setUp(spec.jail_name, true));
    ASSERT_TRUE((*host)->destroyLink(spec.host_name));
  }
  // Every change above was acknowledged, and the kernel queues a change's notifications
  // before its ack (rtnl_notify): both queues are complete now.
  Seen p = drain(plain, ours), f = drain(filtered, ours);
  EXPECT_GT(p.bridge_ports, 0u) << "the test made no bridge-port notification to drop";
  EXPECT_GT(p.datagrams, kDatagramsPerCall) << "the test must queue more than one call reads";
  EXPECT_EQ(f.bridge_ports, 0u);
  EXPECT_EQ(f.whole, p.whole) << "the filter dropped (or reordered) whole-link notifications";
  EXPECT_EQ(f.datagrams, p.datagrams - p.bridge_ports);
}

}  // namespace
}  // namespace vnetd::platform::lnx
