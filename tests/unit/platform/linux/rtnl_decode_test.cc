#include "platform/linux/rtnl_decode.h"

#include <gtest/gtest.h>
#include <linux/if.h>

#include "platform/linux/event_decode.h"
#include "tests/unit/platform/linux/rtnl_fixtures.h"

namespace vnetd::platform::lnx {
namespace {

using testing::addrMsg;
using testing::linkMsg;
using Type = InterfaceEvent::Type;

TEST(RtnlDecode, LinkMessage) {
  auto bytes = linkMsg(RTM_NEWLINK, 7, "e0a_web", IFF_UP | IFF_RUNNING, "veth");
  auto m = decodeLinkMessage(bytes);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_FALSE(m->deleted);
  EXPECT_EQ(m->info.index, 7u);
  EXPECT_EQ(m->info.name, "e0a_web");
  EXPECT_EQ(m->info.kind, LinkKind::Pair);
  EXPECT_EQ(m->kind, "veth");
  EXPECT_EQ(m->info.mtu, 1500u);
  EXPECT_TRUE(m->info.admin_up);
  EXPECT_TRUE(m->info.running);
  EXPECT_EQ(m->info.mac.toString(), "02:00:00:00:00:07");
  EXPECT_EQ(m->info.counters.rx_bytes, 1007u);
  EXPECT_EQ(m->info.counters.tx_packets, 7u);
  auto br = decodeLinkMessage(linkMsg(RTM_DELLINK, 3, "br0", 0, "bridge"));
  ASSERT_TRUE(br);
  EXPECT_TRUE(br->deleted);
  EXPECT_EQ(br->info.kind, LinkKind::Bridge);
}

TEST(RtnlDecode, TruncatedAtEveryOffsetIsAnErrorNotACrash) {
  auto bytes = linkMsg(RTM_NEWLINK, 7, "e0a_web", IFF_UP, "veth");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<std::byte> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decodeLinkMessage(t)) << "cut at " << cut;
  }
  // A length field that lies (claims more than the buffer) is rejected too.
  auto lying = bytes;
  reinterpret_cast<nlmsghdr*>(lying.data())->nlmsg_len += 8;
  EXPECT_FALSE(decodeLinkMessage(lying));
  // An attribute whose own length runs past the message end.
  auto bad_attr = bytes;
  auto* first_attr = reinterpret_cast<rtattr*>(bad_attr.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg)));
  first_attr->rta_len = 0xfff0;
  auto r = decodeLinkMessage(bad_attr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "RTM_NEWLINK for index 7: malformed attribute: " + std::string(strerror(EBADMSG)));
}

TEST(RtnlDecode, StatsMessage) {
  auto m = decodeStatsMessage(testing::statsMsg(12));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->index, 12u);
  EXPECT_EQ(m->counters.rx_bytes, 5012u);
  EXPECT_EQ(m->counters.tx_packets, 9u);
  EXPECT_EQ(m->counters.rx_dropped, 3u);
  EXPECT_EQ(m->counters.tx_bytes, 0u);
  // An older kernel's shorter struct: the fields it has, zeros for the rest.
  auto old = decodeStatsMessage(testing::statsMsg(4, 24));
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->counters.rx_bytes, 5004u);
  EXPECT_EQ(old->counters.rx_dropped, 0u);

  auto bytes = testing::statsMsg(12);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<std::byte> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decodeStatsMessage(t)) << "cut at " << cut;
  }
  // Without the attribute that was asked for, or not a stats message at all: errors.
  if_stats_msg ifsm{};
  ifsm.ifindex = 5;
  auto bare = decodeStatsMessage(testing::NlMsg(RTM_NEWSTATS, &ifsm, sizeof ifsm).bytes());
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().message(), "RTM_NEWSTATS for index 5: no IFLA_STATS_LINK_64: " + std::string(strerror(EBADMSG)));
  EXPECT_FALSE(decodeStatsMessage(linkMsg(RTM_NEWLINK, 7, "e0a_web", IFF_UP)));
}

TEST(RtnlDecode, AddressMessages) {
  uint8_t v4[4] = {198, 18, 0, 10};
  auto a = decodeAddrMessage(addrMsg(RTM_NEWADDR, 4, AF_INET, v4, 24));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address.link_index, 4u);
  EXPECT_EQ(a->address.cidr.toString(), "198.18.0.10/24");
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  auto b = decodeAddrMessage(addrMsg(RTM_DELADDR, 4, AF_INET6, v6, 64));
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->deleted);
  EXPECT_EQ(b->address.cidr.toString(), "2001:db8::1/64");
  EXPECT_FALSE(decodeAddrMessage(addrMsg(RTM_NEWADDR, 4, AF_INET, v4, 33)));
  EXPECT_FALSE(decodeAddrMessage(linkMsg(RTM_NEWLINK, 1, "x", 0)));
}

TEST(RtnlDecode, NeighbourMessages) {
  const uint8_t v4[4] = {198, 18, 7, 2};
  const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  auto a = decodeNeighbourMessage(testing::neighMsg(RTM_NEWNEIGH, 10, AF_INET, v4, NUD_REACHABLE, mac));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_FALSE(a->deleted);
  EXPECT_EQ(a->neighbour.link_index, 10u);
  EXPECT_EQ(a->neighbour.address.toString(), "198.18.7.2");
  ASSERT_TRUE(a->neighbour.mac);
  EXPECT_EQ(a->neighbour.mac->toString(), "02:11:22:33:44:55");
  EXPECT_TRUE(neighbourInUse(*a));

  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 7};
  v6[15] = 2;
  auto b = decodeNeighbourMessage(testing::neighMsg(RTM_NEWNEIGH, 10, AF_INET6, v6, NUD_STALE, mac));
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->neighbour.address.toString(), "2001:db8:7::2");
  EXPECT_TRUE(neighbourInUse(*b));

  // Nobody answered (yet): not in use. A deleted entry neither.
  for (uint16_t state : {uint16_t{NUD_INCOMPLETE}, uint16_t{NUD_FAILED}, uint16_t{NUD_NONE}}) {
    auto n = decodeNeighbourMessage(testing::neighMsg(RTM_NEWNEIGH, 10, AF_INET, v4, state));
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->neighbour.mac);
    EXPECT_FALSE(neighbourInUse(*n)) << "state " << state;
  }
  for (uint16_t state : {uint16_t{NUD_PERMANENT}, uint16_t{NUD_NOARP}, uint16_t{NUD_DELAY}, uint16_t{NUD_PROBE}})
    EXPECT_TRUE(neighbourInUse(*decodeNeighbourMessage(testing::neighMsg(RTM_NEWNEIGH, 10, AF_INET, v4, state))));
  auto gone = decodeNeighbourMessage(testing::neighMsg(RTM_DELNEIGH, 10, AF_INET, v4, NUD_REACHABLE, mac));
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->deleted);
  EXPECT_FALSE(neighbourInUse(*gone));

  // Bridge fdb entries (AF_BRIDGE) share the message type; other types are not neighbours.
  EXPECT_FALSE(decodeNeighbourMessage(testing::neighMsg(RTM_NEWNEIGH, 10, AF_BRIDGE, v4, NUD_REACHABLE)));
  EXPECT_FALSE(decodeNeighbourMessage(addrMsg(RTM_NEWADDR, 4, AF_INET, v4, 24)));
  auto bytes = testing::neighMsg(RTM_NEWNEIGH, 10, AF_INET, v4, NUD_REACHABLE, mac);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<std::byte> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decodeNeighbourMessage(t)) << "cut at " << cut;  // nlmsg_len claims more
  }
  std::vector<std::byte> no_dst(bytes.begin(), bytes.begin() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)));
  reinterpret_cast<nlmsghdr*>(no_dst.data())->nlmsg_len = static_cast<uint32_t>(no_dst.size());
  EXPECT_FALSE(decodeNeighbourMessage(no_dst));
}

TEST(RtnlDecode, PacketDiagMessageGivesTheInodeAndTheReceiveRing) {
  // 16 blocks of 256 KiB: what libpcap maps for a 4 MiB TPACKET_V3 buffer.
  auto m = decodePacketDiagMessage(testing::packetDiagMsg(64254, 262144, 16));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->inode, 64254u);
  EXPECT_EQ(m->rx_ring_bytes, 262144u * 16);
  // A packet socket without a ring (a plain recvfrom socket): no ring, not an error.
  auto plain = decodePacketDiagMessage(testing::packetDiagMsg(5, 0, 0));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->rx_ring_bytes, 0u);
  // Blocks x size past 32 bits: the product is taken in 64.
  auto big = decodePacketDiagMessage(testing::packetDiagMsg(6, 1u << 22, 2048));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->rx_ring_bytes, uint64_t{1} << 33);

  auto bytes = testing::packetDiagMsg(64254, 262144, 16);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<std::byte> t(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(decodePacketDiagMessage(t)) << "cut at " << cut;
  }
  // A ring attribute too short for packet_diag_ring, another family, another message.
  packet_diag_msg pdm{};
  pdm.pdiag_family = AF_PACKET;
  uint32_t half[2] = {4096, 4};
  EXPECT_FALSE(decodePacketDiagMessage(testing::NlMsg(SOCK_DIAG_BY_FAMILY, &pdm, sizeof pdm)
                                           .attr(PACKET_DIAG_RX_RING, half, sizeof half)
                                           .bytes()));
  pdm.pdiag_family = AF_INET;
  EXPECT_FALSE(decodePacketDiagMessage(testing::NlMsg(SOCK_DIAG_BY_FAMILY, &pdm, sizeof pdm).bytes()));
  EXPECT_FALSE(decodePacketDiagMessage(linkMsg(RTM_NEWLINK, 7, "e0a_web", IFF_UP)));
}

TEST(RtnlDecode, ForEachMessageValidatesLengths) {
  auto one = linkMsg(RTM_NEWLINK, 1, "a", 0);
  auto two = linkMsg(RTM_NEWLINK, 2, "b", 0);
  std::vector<std::byte> buf = one;
  buf.insert(buf.end(), two.begin(), two.end());
  int count = 0;
  EXPECT_TRUE(forEachMessage(buf, [&](auto) { ++count; }));
  EXPECT_EQ(count, 2);
  buf.resize(buf.size() - 3);
  count = 0;
  EXPECT_FALSE(forEachMessage(buf, [&](auto) { ++count; }));
  EXPECT_EQ(count, 1);
}

TEST(RtnlEvents, ArrivalRenameLinkStateDepartureAndAddresses) {
  RtnlEventTranslator t;
  LinkInfo lo;
  lo.index = 1;
  lo.name = "lo";
  t.seed({lo});
  std::vector<InterfaceEvent> ev;
  t.translate(linkMsg(RTM_NEWLINK, 9, "veth0", 0), ev);           // arrival
  t.translate(linkMsg(RTM_NEWLINK, 9, "e0a_web", 0), ev);         // rename
  t.translate(linkMsg(RTM_NEWLINK, 9, "e0a_web", IFF_UP | IFF_RUNNING), ev);  // link up
  t.translate(linkMsg(RTM_NEWLINK, 9, "e0a_web", IFF_UP | IFF_RUNNING), ev);  // no change
  uint8_t v4[4] = {198, 18, 0, 1};
  t.translate(addrMsg(RTM_NEWADDR, 9, AF_INET, v4, 24), ev);
  t.translate(linkMsg(RTM_NEWLINK, 9, "e0a_web", IFF_UP), ev);    // link down
  t.translate(linkMsg(RTM_DELLINK, 9, "e0a_web", 0), ev);         // departure
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0].type, Type::Arrived);
  EXPECT_EQ(ev[0].name, "veth0");
  EXPECT_EQ(ev[1].type, Type::Renamed);
  EXPECT_EQ(ev[1].old_name, "veth0");
  EXPECT_EQ(ev[1].name, "e0a_web");
  EXPECT_EQ(ev[2].type, Type::LinkUp);
  EXPECT_EQ(ev[3].type, Type::AddressAdded);
  EXPECT_EQ(ev[3].name, "e0a_web");
  EXPECT_EQ(ev[3].address->toString(), "198.18.0.1/24");
  EXPECT_EQ(ev[4].type, Type::LinkDown);
  EXPECT_EQ(ev[5].type, Type::Departed);
  EXPECT_EQ(ev[5].index, 9u);
  for (const auto& e : ev) EXPECT_STREQ(e.source, "rtnetlink");
  // Link events carry the link their message described (the daemon's view takes it from
  // there instead of asking the kernel again); address events and departures do not.
  for (size_t i : {0u, 1u, 2u, 4u}) {
    ASSERT_TRUE(ev[i].link) << i;
    EXPECT_EQ(ev[i].link->index, 9u);
    EXPECT_EQ(ev[i].link->name, i == 0 ? "veth0" : "e0a_web");
  }
  EXPECT_TRUE(ev[2].link->running);
  EXPECT_FALSE(ev[4].link->running);
  EXPECT_FALSE(ev[3].link);
  EXPECT_FALSE(ev[5].link);
  EXPECT_EQ(t.malformed(), 0u);
  auto garbage = linkMsg(RTM_NEWLINK, 2, "x", 0);
  garbage.resize(garbage.size() - 1);
  t.translate(garbage, ev);
  EXPECT_EQ(t.malformed(), 1u);
  EXPECT_EQ(ev.size(), 6u);
}

std::vector<std::byte> uevent(const std::string& text) {
  std::vector<std::byte> out;
  for (char c : text) out.push_back(static_cast<std::byte>(c == '|' ? '\0' : c));
  return out;
}

TEST(Uevent, NetAddRemoveMove) {
  InterfaceEvent e;
  ASSERT_TRUE(decodeUevent(uevent("add@/devices/virtual/net/e0a_web|ACTION=add|DEVPATH=/devices/virtual/net/e0a_web|"
                                  "SUBSYSTEM=net|INTERFACE=e0a_web|IFINDEX=12|SEQNUM=4711|"),
                           e));
  EXPECT_EQ(e.type, Type::Arrived);
  EXPECT_EQ(e.name, "e0a_web");
  EXPECT_EQ(e.index, 12u);
  EXPECT_STREQ(e.source, "uevent");
  ASSERT_TRUE(decodeUevent(uevent("remove@/devices/virtual/net/x|ACTION=remove|SUBSYSTEM=net|INTERFACE=x|IFINDEX=3"), e));
  EXPECT_EQ(e.type, Type::Departed);
  ASSERT_TRUE(decodeUevent(uevent("move@/devices/virtual/net/new|ACTION=move|SUBSYSTEM=net|INTERFACE=new|"
                                  "DEVPATH_OLD=/devices/virtual/net/old|IFINDEX=5|"),
                           e));
  EXPECT_EQ(e.type, Type::Renamed);
  EXPECT_EQ(e.old_name, "old");
  EXPECT_EQ(e.name, "new");
}

TEST(Uevent, IgnoresOtherSubsystemsUdevAndGarbage) {
  InterfaceEvent e;
  EXPECT_FALSE(decodeUevent(uevent("add@/devices/virtual/block/loop0|ACTION=add|SUBSYSTEM=block|"), e));
  EXPECT_FALSE(decodeUevent(uevent("libudev|\xfe\xed\xca\xfe garbage"), e));
  EXPECT_FALSE(decodeUevent(uevent("change@/x|ACTION=change|SUBSYSTEM=net|INTERFACE=x|"), e));
  EXPECT_FALSE(decodeUevent(uevent(""), e));
  EXPECT_FALSE(decodeUevent(uevent("add@/x|ACTION=add|SUBSYSTEM=net|INTERFACE=waytoolonginterfacename|"), e));
  EXPECT_FALSE(decodeUevent(uevent("no separator at all"), e));
}

}  // namespace
}  // namespace vnetd::platform::lnx
