#include "platform/linux/link_table.h"

#include <gtest/gtest.h>
#include <linux/if.h>

#include "tests/unit/platform/linux/rtnl_fixtures.h"

namespace vnetd::platform::lnx {
namespace {

using testing::linkMsg;
using testing::statsMsg;

std::vector<StatsMessage> counters(std::initializer_list<int> indexes) {
  std::vector<StatsMessage> out;
  for (int i : indexes) out.push_back(*decodeStatsMessage(statsMsg(i)));
  return out;
}

LinkInfo link(uint32_t index, const std::string& name) {
  LinkInfo l;
  l.index = index;
  l.name = name;
  return l;
}

TEST(LinkTable, WantsAFullDumpUntilItHasOne) {
  LinkTable t;
  EXPECT_TRUE(t.needsResync());
  EXPECT_FALSE(t.withCounters({}));
  t.reset({link(1, "lo"), link(5, "e0a_web")});
  EXPECT_FALSE(t.needsResync());
  auto links = t.withCounters(counters({5, 1}));  // any order in, index order out
  ASSERT_TRUE(links);
  ASSERT_EQ(links->size(), 2u);
  EXPECT_EQ((*links)[0].name, "lo");
  EXPECT_EQ((*links)[1].name, "e0a_web");
  EXPECT_EQ((*links)[1].counters.rx_bytes, 5005u);  // the counters come from the dump
}

TEST(LinkTable, NotificationsKeepItCurrent) {
  LinkTable t;
  t.reset({link(1, "lo"), link(5, "e0a_web")});
  // A new link, a rename (same index, new state), and one carrier change: each notification
  // carries the link's whole state, several can share a datagram.
  auto created = linkMsg(RTM_NEWLINK, 9, "e0a_db", IFF_UP | IFF_RUNNING);
  auto renamed = linkMsg(RTM_NEWLINK, 5, "e0a_www", IFF_UP);
  std::vector<std::byte> datagram = created;
  datagram.insert(datagram.end(), renamed.begin(), renamed.end());
  t.apply(datagram);
  EXPECT_FALSE(t.needsResync());
  auto links = t.withCounters(counters({1, 5, 9}));
  ASSERT_TRUE(links);
  ASSERT_EQ(links->size(), 3u);
  EXPECT_EQ((*links)[1].name, "e0a_www");
  EXPECT_FALSE((*links)[1].running);
  EXPECT_EQ((*links)[1].mac.toString(), "02:00:00:00:00:05");
  EXPECT_EQ((*links)[2].name, "e0a_db");
  EXPECT_TRUE((*links)[2].running);
  EXPECT_EQ((*links)[2].counters.rx_bytes, 5009u);  // not the notification's stale counters

  // find(): by name, as the notifications left it.
  ASSERT_TRUE(t.find("e0a_www"));
  EXPECT_EQ(t.find("e0a_www")->index, 5u);
  EXPECT_FALSE(t.find("e0a_web")) << "the old name of a renamed link";
  EXPECT_TRUE(t.find("e0a_db")->running);

  t.apply(linkMsg(RTM_DELLINK, 5, "e0a_www", 0));
  EXPECT_FALSE(t.find("e0a_www"));
  links = t.withCounters(counters({1, 9}));
  ASSERT_TRUE(links);
  EXPECT_EQ(links->size(), 2u);
  // Other message types (addresses, routes) are not the table's business.
  uint8_t v4[4] = {198, 18, 0, 1};
  t.apply(testing::addrMsg(RTM_NEWADDR, 9, AF_INET, v4, 24));
  EXPECT_FALSE(t.needsResync());
}

TEST(LinkTable, DisagreementWithTheCounterDumpMeansAFullDump) {
  LinkTable t;
  t.reset({link(1, "lo"), link(5, "e0a_web")});
  EXPECT_FALSE(t.withCounters(counters({1})));           // one went away since
  EXPECT_FALSE(t.withCounters(counters({1, 5, 7})));     // one came since
  EXPECT_FALSE(t.withCounters(counters({1, 7})));        // same count, other links
  EXPECT_FALSE(t.withCounters(counters({5, 5})));        // a duplicate is no match either
  EXPECT_TRUE(t.withCounters(counters({1, 5})));
}

TEST(LinkTable, LostOrUndecodableNotificationsAskForAFullDump) {
  LinkTable t;
  t.reset({link(1, "lo")});
  auto bytes = linkMsg(RTM_NEWLINK, 9, "e0a_db", IFF_UP);
  std::vector<std::byte> cut(bytes.begin(), bytes.begin() + 20);
  t.apply(cut);
  EXPECT_TRUE(t.needsResync());
  EXPECT_FALSE(t.withCounters(counters({1})));
  t.reset({link(1, "lo")});
  auto lying = bytes;
  auto* first_attr = reinterpret_cast<rtattr*>(lying.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg)));
  first_attr->rta_len = 0xfff0;
  t.apply(lying);
  EXPECT_TRUE(t.needsResync());
  t.reset({link(1, "lo")});
  t.requestResync();  // what the socket's ENOBUFS does
  EXPECT_FALSE(t.withCounters(counters({1})));
}

// The bridge's port notifications (AF_BRIDGE) share the link group but describe only the
// port: they neither replace the link's state nor, as RTM_DELLINK ("left the bridge"),
// remove a link that still exists. links() answers without counters being asked for.
TEST(LinkTable, BridgePortMessagesDoNotReplaceTheLink) {
  LinkTable t;
  t.reset({link(1, "lo")});
  t.apply(linkMsg(RTM_NEWLINK, 5, "e0a_web", IFF_UP));
  auto port = linkMsg(RTM_NEWLINK, 5, "e0a_web", IFF_UP | IFF_RUNNING, "");
  reinterpret_cast<ifinfomsg*>(port.data() + NLMSG_HDRLEN)->ifi_family = AF_BRIDGE;
  t.apply(port);
  auto left = linkMsg(RTM_DELLINK, 5, "e0a_web", IFF_UP, "");
  reinterpret_cast<ifinfomsg*>(left.data() + NLMSG_HDRLEN)->ifi_family = AF_BRIDGE;
  t.apply(left);
  EXPECT_FALSE(t.needsResync());
  auto links = t.links();
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[1].name, "e0a_web");
  EXPECT_EQ(links[1].kind, LinkKind::Pair) << "replaced by the port message";
  EXPECT_FALSE(links[1].running) << "the port message's flags were applied";
  t.apply(linkMsg(RTM_DELLINK, 5, "e0a_web", 0));
  EXPECT_EQ(t.links().size(), 1u) << "an AF_UNSPEC RTM_DELLINK does remove it";
}

}  // namespace
}  // namespace vnetd::platform::lnx
