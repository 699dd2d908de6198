// The capture's pure aggregation: hand-built frames through decodeFrame into the
// per-jail counters, flows and peers, and the Prometheus families built from snapshots.
#include "collectors/capture_aggregator.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>
#include "tests/support/metric_families.h"

namespace vnetd::collectors {
namespace {

using Bytes = std::vector<std::byte>;
using Ip4 = std::array<uint8_t, 4>;

// ---- Frames -------------------------------------------------------------------------

void put8(Bytes& b, unsigned v) { b.push_back(static_cast<std::byte>(v & 0xff)); }
void put16(Bytes& b, unsigned v) {
  put8(b, v >> 8);
  put8(b, v);
}
template <typename R>
void putAll(Bytes& b, const R& r) {
  for (auto v : r) put8(b, v);
}

constexpr MacBytes kMacA{0x02, 0, 0, 0, 0, 0x0a}, kMacB{0x02, 0, 0, 0, 0, 0x0b}, kMacC{0x02, 0, 0, 0, 0, 0x0c};
constexpr MacBytes kGateway{0x02, 0, 0, 0, 0, 0x01}, kOther{0x02, 0, 0, 0, 0, 0x99};
constexpr MacBytes kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Ip4 kIpA{198, 18, 130, 2}, kIpB{198, 18, 130, 3}, kIpC{198, 18, 130, 4}, kIpOut{198, 18, 131, 9};

Bytes ethernet(MacBytes dst, MacBytes src, uint16_t type, const Bytes& payload, int vlan = -1) {
  Bytes b;
  putAll(b, dst);
  putAll(b, src);
  if (vlan >= 0) {
    put16(b, kEtherTypeVlan);
    put16(b, static_cast<unsigned>(vlan));
  }
  put16(b, type);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ipv4(Ip4 src, Ip4 dst, uint8_t proto, const Bytes& l4, int total_length = -1) {
  Bytes b;
  put8(b, 0x45);
  put8(b, 0);
  put16(b, total_length >= 0 ? static_cast<unsigned>(total_length) : 20 + l4.size());
  put16(b, 0);
  put16(b, 0x4000);  // DF, offset 0
  put8(b, 64);
  put8(b, proto);
  put16(b, 0);
  putAll(b, src);
  putAll(b, dst);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport, size_t payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, 8 + payload);
  put16(b, 0);
  b.resize(b.size() + payload, std::byte{0x78});
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, size_t payload = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  for (int i = 0; i < 8; ++i) put8(b, 0);  // seq, ack
  put8(b, 5 << 4);
  put8(b, flags);
  put16(b, 65535);
  put16(b, 0);
  put16(b, 0);
  b.resize(b.size() + payload, std::byte{0x61});
  return b;
}

Bytes icmpEcho() { return Bytes{std::byte{8}, std::byte{0}, std::byte{0}, std::byte{0}}; }

Bytes arpRequest(MacBytes sender, Ip4 sender_ip, Ip4 target_ip) {
  Bytes b;
  put16(b, 1);
  put16(b, kEtherTypeIpv4);
  put8(b, 6);
  put8(b, 4);
  put16(b, 1);
  putAll(b, sender);
  putAll(b, sender_ip);
  putAll(b, MacBytes{});
  putAll(b, target_ip);
  return ethernet(kBroadcast, sender, kEtherTypeArp, b);
}

using Ip6 = std::array<uint8_t, 16>;
constexpr Ip6 kIp6A{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
constexpr Ip6 kIp6B{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};

Bytes ipv6(Ip6 src, Ip6 dst, uint8_t next, const Bytes& l4) {
  Bytes b;
  put8(b, 0x60);
  putAll(b, std::array<uint8_t, 3>{});  // traffic class, flow label
  put16(b, static_cast<unsigned>(l4.size()));
  put8(b, next);
  put8(b, 64);
  putAll(b, src);
  putAll(b, dst);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes udpFrame(MacBytes dst, MacBytes src, Ip4 sip, Ip4 dip, uint16_t sport, uint16_t dport, size_t payload) {
  return ethernet(dst, src, kEtherTypeIpv4, ipv4(sip, dip, 17, udp(sport, dport, payload)));
}
Bytes tcpFrame(MacBytes dst, MacBytes src, Ip4 sip, Ip4 dip, uint16_t sport, uint16_t dport, uint8_t flags,
               size_t payload = 0) {
  return ethernet(dst, src, kEtherTypeIpv4, ipv4(sip, dip, 6, tcp(sport, dport, flags, payload)));
}

// ---- Helpers ------------------------------------------------------------------------

std::shared_ptr<const Attribution> table(std::map<std::string, MacBytes> jails, bool isolating = false) {
  std::vector<std::pair<MacBytes, std::string>> macs;
  for (const auto& [name, mac] : jails) macs.emplace_back(mac, name);
  return Attribution::build(std::move(macs), isolating);
}

void feed(Aggregator& agg, const Bytes& frame, uint32_t now = 0, size_t snaplen = 65535) {
  size_t kept = std::min(frame.size(), snaplen);
  agg.add(std::span(frame.data(), kept), static_cast<uint32_t>(frame.size()), now);
}

constexpr size_t kIpv4 = static_cast<size_t>(Family::IPv4), kOtherFamily = static_cast<size_t>(Family::Other);
constexpr size_t kUdp = static_cast<size_t>(Protocol::Udp), kTcp = static_cast<size_t>(Protocol::Tcp),
                 kIcmp = static_cast<size_t>(Protocol::Icmp), kArp = static_cast<size_t>(Protocol::Arp),
                 kOtherProto = static_cast<size_t>(Protocol::Other);

struct TwoJails {
  Aggregator agg{1024, 60};
  uint32_t a, b;
  explicit TwoJails(bool isolating = false) {
    agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}, isolating));
    a = agg.attribution()->slotOf("a");
    b = agg.attribution()->slotOf("b");
  }
  uint64_t peer(uint32_t jail, uint32_t to) {
    for (const auto& p : agg.snapshot(true).peers)
      if (p.jail == jail && p.peer == to) return p.bytes;
    return 0;
  }
};

// ---- Attribution --------------------------------------------------------------------

TEST(Attribution, SlotsAreNameOrderedAndMacsLookUp) {
  auto t = table({{"web", kMacB}, {"db", kMacA}});
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ(t->name(0), "db");
  EXPECT_EQ(t->name(1), "web");
  EXPECT_EQ(t->slot(kMacA), 0u);
  EXPECT_EQ(t->slot(kMacB), 1u);
  EXPECT_EQ(t->slot(kMacC), kNoSlot);
  EXPECT_EQ(t->slot(kBroadcast), kNoSlot);
  EXPECT_EQ(t->slotOf("web"), 1u);
  EXPECT_EQ(t->slotOf("nope"), kNoSlot);
  EXPECT_EQ(Attribution::build({})->slot(kMacA), kNoSlot);
}

TEST(Attribution, AJailWithTwoMacsHasOneSlotAndAMacKeepsItsFirstClaim) {
  auto t = Attribution::build({{kMacA, "a"}, {kMacB, "a"}, {kMacA, "z"}});
  ASSERT_EQ(t->size(), 2u);  // "a" and "z", although z's only MAC is a's
  EXPECT_EQ(t->slot(kMacA), t->slotOf("a"));
  EXPECT_EQ(t->slot(kMacB), t->slotOf("a"));
}

TEST(Attribution, FromStateTakesTheJailSideMacsOfInterfacesOnTheBridge) {
  State st;
  auto rec = [&](const std::string& name, const std::string& bridge, const std::string& jail_mac) {
    JailRecord r;
    r.name = name;
    InterfaceRecord ir;
    ir.host_name = "e0a_" + name;
    ir.host_mac = "02:00:00:00:01:01";
    ir.jail_mac = jail_mac;
    ir.bridge = bridge;
    r.interfaces.push_back(ir);
    st.jails[name] = r;
  };
  rec("a", "br0", "02:00:00:00:00:0a");
  rec("b", "br0", "02:00:00:00:00:0b");
  rec("c", "br1", "02:00:00:00:00:0c");
  auto t = Attribution::fromState(st, "br0");
  EXPECT_EQ(t->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t->slot(kMacA), t->slotOf("a"));
  EXPECT_EQ(t->slot(MacBytes{0x02, 0, 0, 0, 1, 1}), kNoSlot) << "host-side MACs are not the jail's";
  EXPECT_TRUE(t->sameAs(*Attribution::fromState(st, "br0")));
  EXPECT_FALSE(t->sameAs(*Attribution::fromState(st, "br1")));
  // The bridge's `private` setting is part of the table: a reload that flips it must
  // reach the capture even though no MAC changed.
  auto isolating = Attribution::fromState(st, "br0", true);
  EXPECT_TRUE(isolating->isolating());
  EXPECT_FALSE(t->isolating());
  EXPECT_FALSE(t->sameAs(*isolating));
  EXPECT_EQ(isolating->slot(kMacA), t->slot(kMacA));
  // Each jail's port (host side) with the MAC its frames must carry: the spoofing guards'.
  EXPECT_EQ(t->ports(), (std::vector<Attribution::Port>{{"e0a_a", kMacA, "a"}, {"e0a_b", kMacB, "b"}}));
  // A pair made anew under another host-side name is a new port: the table changes.
  st.jails["a"].interfaces[0].host_name = "e1a_a";
  EXPECT_FALSE(t->sameAs(*Attribution::fromState(st, "br0")));
}

// A frame whose port is known (a spoofing guard saw it come from jail a) is a's transmit
// whatever its source MAC; the next frame that looks the same but came by MAC only is the
// MAC owner's again (no repeat shortcut carries the port over).
TEST(Aggregator, AFrameOfAKnownSenderCountsForItNotForTheMacItCarries) {
  Aggregator agg(16, 60);
  agg.setAttribution(Attribution::build({{kMacA, "a"}, {kMacB, "b"}, {kMacC, "c"}}));
  const uint32_t a = agg.attribution()->slotOf("a"), b = agg.attribution()->slotOf("b"),
                 c = agg.attribution()->slotOf("c");
  Bytes f = udpFrame(kMacC, kMacB, kIpB, kIpC, 1000, 2000, 50);  // "from b" to c
  feed(agg, f);  // by MAC: b's; primes the repeat shortcut
  FrameSlots who = agg.add(std::span(f.data(), f.size()), static_cast<uint32_t>(f.size()), 0, a);
  EXPECT_EQ(who, (FrameSlots{a, c}));
  feed(agg, f);  // by MAC again
  EXPECT_EQ(agg.jail(a).traffic[kTransmit][kIpv4][kUdp].packets, 1u);
  EXPECT_EQ(agg.jail(b).traffic[kTransmit][kIpv4][kUdp].packets, 2u);
  EXPECT_EQ(agg.jail(c).traffic[kReceive][kIpv4][kUdp].packets, 3u);
}

TEST(Aggregator, SpoofedFramesCountForTheSendingJailCarryOverAndAreExported) {
  Aggregator agg(16, 60);
  agg.setAttribution(Attribution::build({{kMacA, "a"}, {kMacB, "b"}}));
  const uint32_t a = agg.attribution()->slotOf("a");
  for (int i = 0; i < 3; ++i) agg.addSpoofed(a);
  agg.addSpoofed(kNoSlot);  // a port of no jail any more: ignored
  EXPECT_EQ(agg.jail(a).spoofed, 3u);
  EXPECT_EQ(agg.jail(agg.attribution()->slotOf("b")).spoofed, 0u);
  // A new table with another jail ("0c" sorts before "a": the slots move): a keeps its count.
  agg.setAttribution(Attribution::build({{kMacA, "a"}, {kMacB, "b"}, {kMacC, "0c"}}));
  EXPECT_EQ(agg.jail(agg.attribution()->slotOf("a")).spoofed, 3u);
  std::vector<BridgeView> views = {
      {"br0", std::make_shared<const CaptureSnapshot>(agg.snapshot(true)), agg.attribution()}};
  auto fs = captureFamilies(views);
  const auto* f = testing::findFamily(fs, "vnetd_jail_spoofed_transmit_packets_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, prometheus::MetricType::Counter);
  ASSERT_EQ(f->metric.size(), 3u) << "every jail has the series, from 0";
  for (const auto& m : f->metric)
    EXPECT_EQ(m.counter.value, testing::labelValue(m, "jail") == "a" ? 3 : 0) << testing::labelValue(m, "jail");
}

// ---- Traffic ------------------------------------------------------------------------

TEST(Aggregator, JailToJailCountsForBothFromEachPointOfView) {
  TwoJails t;
  Bytes f = udpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 9999, 200);
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 200);
  for (int i = 0; i < 3; ++i) feed(t.agg, f);
  const auto& tx = t.agg.jail(t.a).traffic[kTransmit][kIpv4][kUdp];
  const auto& rx = t.agg.jail(t.b).traffic[kReceive][kIpv4][kUdp];
  EXPECT_EQ(tx.packets, 3u);
  EXPECT_EQ(tx.bytes, 3u * 242);
  EXPECT_EQ(rx.packets, 3u);
  EXPECT_EQ(rx.bytes, 3u * 242);
  EXPECT_EQ(t.agg.jail(t.a).traffic[kReceive][kIpv4][kUdp].packets, 0u);
  EXPECT_EQ(t.agg.jail(t.b).traffic[kTransmit][kIpv4][kUdp].packets, 0u);
  EXPECT_EQ(t.peer(t.a, t.b), 3u * 242);
  EXPECT_EQ(t.peer(t.b, t.a), 0u);
  EXPECT_EQ(t.agg.bridge().packets, 3u);
  EXPECT_EQ(t.agg.bridge().unattributed, 0u);
}

TEST(Aggregator, OnAPrivateBridgeAJailToJailFrameIsItsSendersTransmitAndNobodysReceive) {
  // Private members (IFBIF_PRIVATE / isolated ports): the bridge taps the frame, then
  // drops it. Whether the capture shortcut is taken must not matter (trains of 5).
  for (bool shortcut : {true, false}) {
    TwoJails t(true);
    t.agg.shortcutRepeats(shortcut);
    Bytes ab = udpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 9999, 200);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(t.agg.add(ab, static_cast<uint32_t>(ab.size()), 0), (FrameSlots{t.a, kNoSlot}));
    const JailTotals &a = t.agg.jail(t.a), &b = t.agg.jail(t.b);
    EXPECT_EQ(a.traffic[kTransmit][kIpv4][kUdp].packets, 5u) << "it did leave a";
    EXPECT_EQ(a.traffic[kTransmit][kIpv4][kUdp].bytes, 5u * ab.size());
    EXPECT_EQ(b.traffic[kReceive][kIpv4][kUdp].packets, 0u) << "b never got it";
    EXPECT_EQ(t.peer(t.a, t.b), 0u) << "not delivered to b";
    EXPECT_EQ(t.peer(t.a, kNoSlot), 0u) << "nor to anyone outside";
    EXPECT_EQ(t.agg.bridge().isolated, 5u);
    EXPECT_EQ(a.flows_opened[kTransmit], 1u);
    EXPECT_EQ(b.flows_opened[kReceive], 0u);
    EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
    EXPECT_EQ(t.agg.activeFlows(t.b), 0u) << "b takes no part in a flow it never saw";

    // TCP the other way: b's SYNs go nowhere either.
    for (int i = 0; i < 2; ++i) feed(t.agg, tcpFrame(kMacA, kMacB, kIpB, kIpA, 40001, 80, kTcpSyn));
    EXPECT_EQ(b.tcp_syn[kTransmit], 2u);
    EXPECT_EQ(a.tcp_syn[kReceive], 0u);
    EXPECT_EQ(t.agg.bridge().isolated, 7u);

    // The host and the uplinks are not private: their frames to a jail are delivered, and
    // a jail's frames to them are peer "external" as anywhere.
    feed(t.agg, udpFrame(kMacB, kGateway, kIpOut, kIpB, 53, 1000, 50));
    feed(t.agg, udpFrame(kGateway, kMacA, kIpA, kIpOut, 1000, 53, 30));
    EXPECT_EQ(b.traffic[kReceive][kIpv4][kUdp].packets, 1u);
    EXPECT_EQ(t.peer(t.a, kNoSlot), 14u + 20 + 8 + 30);
    EXPECT_EQ(t.agg.bridge().isolated, 7u);
  }
}

TEST(Aggregator, BroadcastsReachNoJailOnAnyBridge) {
  // A broadcast's destination is no jail's MAC: it counts for its sender alone, peer
  // "external" — on a private bridge (bridge_broadcast floods it to non-private members
  // only) as on any other. Not an isolated unicast either.
  for (bool isolating : {false, true}) {
    TwoJails t(isolating);
    Bytes arp = arpRequest(kMacA, kIpA, kIpB);
    Bytes mdns = udpFrame(MacBytes{0x01, 0x00, 0x5e, 0, 0, 0xfb}, kMacB, kIpB, Ip4{224, 0, 0, 251}, 5353, 5353, 40);
    feed(t.agg, arp);
    feed(t.agg, mdns);
    EXPECT_EQ(t.agg.jail(t.a).broadcast, 1u);
    EXPECT_EQ(t.agg.jail(t.b).traffic[kReceive][kOtherFamily][kArp].packets, 0u);
    EXPECT_EQ(t.agg.jail(t.a).traffic[kReceive][kIpv4][kUdp].packets, 0u);
    EXPECT_EQ(t.peer(t.a, kNoSlot), arp.size());
    EXPECT_EQ(t.peer(t.b, kNoSlot), mdns.size());
    EXPECT_EQ(t.agg.bridge().isolated, 0u);
  }
}

// ---- Router discovery (issue 19) ------------------------------------------------------

constexpr MacBytes kAllNodesMac{0x33, 0x33, 0, 0, 0, 1}, kAllRoutersMac{0x33, 0x33, 0, 0, 0, 2};
constexpr Ip6 kBridgeLinkLocal{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Ip6 kAllNodes{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Ip6 kAllRouters{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

// An ICMPv6 message of `type` in an IPv6 packet in an Ethernet frame (RFC 4861 4.1: a
// solicitation is 8 bytes, 4.2: an advertisement 16, before options).
Bytes icmp6Frame(MacBytes dst, MacBytes src, uint8_t type, Ip6 sip = kBridgeLinkLocal, Ip6 dip = kAllNodes) {
  Bytes msg{std::byte{type}, std::byte{0}, std::byte{0}, std::byte{0}};
  msg.resize(type == 134 ? 16 : 8, std::byte{0});
  return ethernet(dst, src, kEtherTypeIpv6, ipv6(sip, dip, 58, msg));
}
Bytes routerAdvertisement(MacBytes dst, MacBytes src) { return icmp6Frame(dst, src, 134); }
Bytes routerSolicitation(MacBytes src) { return icmp6Frame(kAllRoutersMac, src, 133, kIp6A, kAllRouters); }

// (solicitations sent, advertisements received, advertisements sent) of each jail, by name.
using RouterCounts = std::map<std::string, std::array<uint64_t, 3>>;
RouterCounts routerCounts(const Aggregator& agg) {
  RouterCounts out;
  const Attribution& t = *agg.attribution();
  for (uint32_t s = 0; s < t.size(); ++s) {
    const JailTotals& j = agg.jail(s);
    out[t.name(s)] = {j.router_solicitations, j.router_advertisements[kReceive], j.router_advertisements[kTransmit]};
  }
  return out;
}

struct ThreeJails {
  Aggregator agg{1024, 60};
  explicit ThreeJails(bool isolating = false) {
    agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}, {"c", kMacC}}, isolating));
  }
};

TEST(RouterDiscovery, ASolicitationCountsForItsSenderOnly) {
  ThreeJails t;
  feed(t.agg, routerSolicitation(kMacA));
  feed(t.agg, routerSolicitation(kMacA));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {2, 0, 0}}, {"b", {0, 0, 0}}, {"c", {0, 0, 0}}}));
  // The frames are in the generic counters as before: ICMPv6 the jail sent.
  EXPECT_EQ(t.agg.jail(0).traffic[kTransmit][static_cast<size_t>(Family::IPv6)][static_cast<size_t>(Protocol::Icmp6)].packets,
            2u);
  // From the bridge (not a jail): nobody's. From a jail to another (unicast): the
  // sender's only — a jail receiving one is not counted.
  feed(t.agg, icmp6Frame(kAllRoutersMac, kGateway, 133, kBridgeLinkLocal, kAllRouters));
  feed(t.agg, icmp6Frame(kMacB, kMacA, 133, kIp6A, kIp6B));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {3, 0, 0}}, {"b", {0, 0, 0}}, {"c", {0, 0, 0}}}));
}

TEST(RouterDiscovery, AMulticastAdvertisementFromTheBridgeReachesEveryJailOnce) {
  for (bool isolating : {false, true}) {  // the bridge's own frames reach private members too
    ThreeJails t(isolating);
    feed(t.agg, routerAdvertisement(kAllNodesMac, kGateway));
    EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 1, 0}}, {"b", {0, 1, 0}}, {"c", {0, 1, 0}}}))
        << "private " << isolating;
    feed(t.agg, routerAdvertisement(kBroadcast, kGateway));  // broadcast: the same
    EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 2, 0}}, {"b", {0, 2, 0}}, {"c", {0, 2, 0}}}));
    // Still nobody's traffic (multicast counts for its sender only, and the sender is no jail).
    EXPECT_EQ(t.agg.bridge().unattributed, 2u);
  }
}

TEST(RouterDiscovery, AUnicastAdvertisementCountsForItsDestinationOnly) {
  ThreeJails t;
  feed(t.agg, routerAdvertisement(kMacB, kGateway));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 0}}, {"b", {0, 1, 0}}, {"c", {0, 0, 0}}}));
  feed(t.agg, routerAdvertisement(kOther, kGateway));  // to a MAC that is no jail's
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 0}}, {"b", {0, 1, 0}}, {"c", {0, 0, 0}}}));
}

TEST(RouterDiscovery, AnAdvertisementFromAJailIsItsTransmitAndTheOthersReceive) {
  ThreeJails t;
  feed(t.agg, routerAdvertisement(kAllNodesMac, kMacA));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 1}}, {"b", {0, 1, 0}}, {"c", {0, 1, 0}}}))
      << "multicast: every jail but the sender";
  feed(t.agg, routerAdvertisement(kMacC, kMacA));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 2}}, {"b", {0, 1, 0}}, {"c", {0, 2, 0}}}))
      << "unicast: the destination only";
}

TEST(RouterDiscovery, OnAPrivateBridgeAJailsAdvertisementReachesNoOtherJail) {
  ThreeJails t(true);
  feed(t.agg, routerAdvertisement(kAllNodesMac, kMacA));
  feed(t.agg, routerAdvertisement(kMacB, kMacA));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 2}}, {"b", {0, 0, 0}}, {"c", {0, 0, 0}}}));
}

TEST(RouterDiscovery, OtherIcmpv6TypesAndTruncatedOrMalformedMessagesCountNothingNew) {
  ThreeJails t;
  // Echo request/reply, neighbour solicitation/advertisement, redirect, MLDv2 report, and
  // an unknown type; multicast from the bridge and from a jail, unicast between jails.
  for (uint8_t type : {128, 129, 135, 136, 137, 143, 200, 0}) {
    feed(t.agg, icmp6Frame(kAllNodesMac, kGateway, type));
    feed(t.agg, icmp6Frame(kAllNodesMac, kMacA, type));
    feed(t.agg, icmp6Frame(kMacB, kMacA, type));
  }
  // Types 133 and 134 in ICMP over IPv4 (no such messages there: ICMP type 134 is nothing).
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4,
                       ipv4(kIpA, kIpB, 1, Bytes{std::byte{134}, std::byte{0}, std::byte{0}, std::byte{0}})));
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4,
                       ipv4(kIpA, kIpB, 1, Bytes{std::byte{133}, std::byte{0}, std::byte{0}, std::byte{0}})));
  // Cut before the ICMPv6 type byte (14 + 40 bytes captured): the type is unknown.
  const uint64_t truncated_before = t.agg.bridge().packets;
  feed(t.agg, routerAdvertisement(kAllNodesMac, kMacA), 0, 54);
  feed(t.agg, routerSolicitation(kMacA), 0, 54);
  feed(t.agg, routerAdvertisement(kMacB, kGateway), 0, 54);
  EXPECT_EQ(t.agg.bridge().packets, truncated_before + 3);
  // Malformed: a payload length too short for the ICMPv6 header (2 bytes).
  Bytes cut = routerAdvertisement(kAllNodesMac, kMacA);
  cut.resize(14 + 40 + 2);
  cut[14 + 4] = std::byte{0};
  cut[14 + 5] = std::byte{2};
  const uint64_t malformed_before = t.agg.bridge().malformed;
  feed(t.agg, cut);
  EXPECT_EQ(t.agg.bridge().malformed, malformed_before + 1);
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {0, 0, 0}}, {"b", {0, 0, 0}}, {"c", {0, 0, 0}}}));
  // And the same messages whole do count (the frames above were the only difference).
  feed(t.agg, routerAdvertisement(kAllNodesMac, kMacA));
  feed(t.agg, routerSolicitation(kMacA));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"a", {1, 0, 1}}, {"b", {0, 1, 0}}, {"c", {0, 1, 0}}}));
}

TEST(RouterDiscovery, CountsCarryOverByNameAndANewJailStartsAtZero) {
  ThreeJails t;
  feed(t.agg, routerAdvertisement(kAllNodesMac, kGateway));
  feed(t.agg, routerSolicitation(kMacB));
  t.agg.setAttribution(table({{"b", kMacB}, {"c", kMacC}, {"d", kMacA}}));  // a left; d took its MAC
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"b", {1, 1, 0}}, {"c", {0, 1, 0}}, {"d", {0, 0, 0}}}));
  feed(t.agg, routerAdvertisement(kAllNodesMac, kGateway));
  EXPECT_EQ(routerCounts(t.agg), (RouterCounts{{"b", {1, 2, 0}}, {"c", {0, 2, 0}}, {"d", {0, 1, 0}}}));
}

TEST(Aggregator, PrivateTakesEffectWithTheTableAndCountersCarryOn) {
  TwoJails t;
  Bytes ab = udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 10);
  feed(t.agg, ab);
  t.agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}, true));  // a reload made the bridge private
  feed(t.agg, ab);
  feed(t.agg, ab);
  t.agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));  // and public again
  feed(t.agg, ab);
  EXPECT_EQ(t.agg.jail(t.a).traffic[kTransmit][kIpv4][kUdp].packets, 4u);
  EXPECT_EQ(t.agg.jail(t.b).traffic[kReceive][kIpv4][kUdp].packets, 2u);
  EXPECT_EQ(t.peer(t.a, t.b), 2u * ab.size());
  EXPECT_EQ(t.agg.bridge().isolated, 2u);
}

TEST(Aggregator, ExternalPeersAndUnattributedFrames) {
  TwoJails t;
  feed(t.agg, udpFrame(kGateway, kMacA, kIpA, kIpOut, 1000, 53, 30));  // a → outside
  feed(t.agg, udpFrame(kMacA, kGateway, kIpOut, kIpA, 53, 1000, 50));  // outside → a
  feed(t.agg, udpFrame(kOther, kGateway, kIpOut, kIpC, 1, 2, 10));    // nobody's
  EXPECT_EQ(t.peer(t.a, kNoSlot), 14u + 20 + 8 + 30);
  EXPECT_EQ(t.agg.jail(t.a).traffic[kReceive][kIpv4][kUdp].bytes, 14u + 20 + 8 + 50);
  EXPECT_EQ(t.agg.bridge().packets, 3u);
  EXPECT_EQ(t.agg.bridge().unattributed, 1u);
  auto snap = t.agg.snapshot(true);
  EXPECT_EQ(snap.peers.size(), 1u) << "received bytes make no peer entry";
}

TEST(Aggregator, FamilyAndProtocolSplit) {
  TwoJails t;
  feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpSyn));
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4, ipv4(kIpA, kIpB, 1, icmpEcho())));
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4, ipv4(kIpA, kIpB, 47, Bytes(24))));  // GRE: other
  feed(t.agg, ethernet(kMacB, kMacA, 0x88cc, Bytes(46)));                               // LLDP
  feed(t.agg, arpRequest(kMacA, kIpA, kIpB));
  const auto& tx = t.agg.jail(t.a).traffic[kTransmit];
  EXPECT_EQ(tx[kIpv4][kTcp].packets, 1u);
  EXPECT_EQ(tx[kIpv4][kIcmp].packets, 1u);
  EXPECT_EQ(tx[kIpv4][kOtherProto].packets, 1u);
  EXPECT_EQ(tx[kOtherFamily][kOtherProto].packets, 1u);
  EXPECT_EQ(tx[kOtherFamily][kArp].packets, 1u) << "ARP is family other";
  EXPECT_EQ(tx[kOtherFamily][kArp].bytes, 14u + 28);
}

TEST(Aggregator, VlanTaggedFramesAreAttributedByMacToo) {
  TwoJails t;
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4, ipv4(kIpA, kIpB, 17, udp(1, 2, 10)), 100));
  EXPECT_EQ(t.agg.jail(t.a).traffic[kTransmit][kIpv4][kUdp].bytes, 18u + 20 + 8 + 10);
}

TEST(Aggregator, BroadcastsCountForTheSenderWithPeerExternal) {
  TwoJails t;
  Bytes arp = arpRequest(kMacA, kIpA, kIpB);
  feed(t.agg, arp);
  feed(t.agg, arp);
  EXPECT_EQ(t.agg.jail(t.a).broadcast, 2u);
  EXPECT_EQ(t.agg.jail(t.b).broadcast, 0u);
  EXPECT_EQ(t.agg.jail(t.b).traffic[kReceive][kOtherFamily][kArp].packets, 0u)
      << "a broadcast is received by everyone: it is attributed to no receiver";
  EXPECT_EQ(t.peer(t.a, kNoSlot), 2u * arp.size());
}

TEST(Aggregator, TcpFlagsPerDirection) {
  TwoJails t;
  feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpSyn));
  feed(t.agg, tcpFrame(kMacA, kMacB, kIpB, kIpA, 80, 40000, kTcpSyn | kTcpAck));
  feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpAck));
  feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpFin | kTcpAck));
  feed(t.agg, tcpFrame(kMacA, kMacB, kIpB, kIpA, 80, 40000, kTcpRst));
  const JailTotals &a = t.agg.jail(t.a), &b = t.agg.jail(t.b);
  EXPECT_EQ(a.tcp_syn[kTransmit], 1u);
  EXPECT_EQ(a.tcp_syn[kReceive], 1u);  // the SYN-ACK
  EXPECT_EQ(b.tcp_syn[kReceive], 1u);
  EXPECT_EQ(b.tcp_syn[kTransmit], 1u);
  EXPECT_EQ(a.tcp_fin[kTransmit], 1u);
  EXPECT_EQ(b.tcp_fin[kReceive], 1u);
  EXPECT_EQ(a.tcp_fin[kReceive], 0u);
  EXPECT_EQ(b.tcp_rst[kTransmit], 1u);
  EXPECT_EQ(a.tcp_rst[kReceive], 1u);
  EXPECT_EQ(a.traffic[kTransmit][kIpv4][kTcp].packets, 3u);
}

TEST(Aggregator, MalformedFramesAreCountedAndStillAttributed) {
  TwoJails t;
  // IPv4 total length 400 in a 60-byte frame: impossible.
  feed(t.agg, ethernet(kMacB, kMacA, kEtherTypeIpv4, ipv4(kIpA, kIpB, 17, udp(1, 2, 18), 400)));
  feed(t.agg, Bytes(10));  // shorter than an Ethernet header: no MACs at all
  EXPECT_EQ(t.agg.bridge().malformed, 2u);
  EXPECT_EQ(t.agg.bridge().packets, 2u);
  EXPECT_EQ(t.agg.bridge().unattributed, 1u);
  uint64_t tx = 0;
  for (const auto& fam : t.agg.jail(t.a).traffic[kTransmit])
    for (const auto& c : fam) tx += c.packets;
  EXPECT_EQ(tx, 1u) << "the sender is known from the MACs";
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 0u) << "a malformed frame names no flow";
}

TEST(Aggregator, TruncatedFramesCountTheirWireLength) {
  TwoJails t;
  Bytes f = udpFrame(kMacB, kMacA, kIpA, kIpB, 5, 6, 1400);
  feed(t.agg, f, 0, 128);
  EXPECT_EQ(t.agg.jail(t.a).traffic[kTransmit][kIpv4][kUdp].bytes, f.size());
  EXPECT_EQ(t.agg.bridge().malformed, 0u);
}

// ---- Flows --------------------------------------------------------------------------

TEST(Aggregator, AFlowOpensOnceForBothDirectionsAndExpiresWhenIdle) {
  TwoJails t;
  feed(t.agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 9999, 10), 100);
  feed(t.agg, udpFrame(kMacA, kMacB, kIpB, kIpA, 9999, 40000, 10), 101);  // the reply: same flow
  feed(t.agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 9999, 10), 102);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 1u);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kReceive], 0u);
  EXPECT_EQ(t.agg.jail(t.b).flows_opened[kReceive], 1u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
  EXPECT_EQ(t.agg.activeFlows(t.b), 1u);
  feed(t.agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 40001, 9999, 10), 110);  // another source port
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 2u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 2u);

  t.agg.expire(102 + 59);
  EXPECT_EQ(t.agg.activeFlows(t.a), 2u) << "idle 59 s of 60";
  t.agg.expire(102 + 60);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
  EXPECT_EQ(t.agg.snapshot(true).jails[t.a].flows, 1u);
  t.agg.expire(110 + 60);
  EXPECT_EQ(t.agg.activeFlows(t.a), 0u);
  EXPECT_EQ(t.agg.activeFlows(t.b), 0u);
  // The same 5-tuple after expiry is a new flow.
  feed(t.agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 9999, 10), 200);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 3u);
}

TEST(Aggregator, ExternalFlowsCountForTheJailOnly) {
  TwoJails t;
  feed(t.agg, udpFrame(kMacA, kGateway, kIpOut, kIpA, 53, 1000, 10));  // first frame inbound
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kReceive], 1u);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 0u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
  EXPECT_EQ(t.agg.activeFlows(t.b), 0u);
}

TEST(Aggregator, TcpCloseEndsTheFlowAndStragglersOpenNothing) {
  TwoJails t;
  auto ab = [&](uint8_t flags, uint32_t now) {
    feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, flags), now);
  };
  auto ba = [&](uint8_t flags, uint32_t now) {
    feed(t.agg, tcpFrame(kMacA, kMacB, kIpB, kIpA, 80, 40000, flags), now);
  };
  ab(kTcpSyn, 10);
  ba(kTcpSyn | kTcpAck, 10);
  ab(kTcpAck, 10);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
  ab(kTcpFin | kTcpAck, 11);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u) << "half closed";
  ba(kTcpFin | kTcpAck, 11);
  EXPECT_EQ(t.agg.activeFlows(t.a), 0u);
  EXPECT_EQ(t.agg.activeFlows(t.b), 0u);
  ab(kTcpAck, 11);  // the last ACK
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 1u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 0u);
  // The port reused: a new connection on the same 5-tuple.
  ab(kTcpSyn, 12);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 2u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 1u);
  ba(kTcpRst | kTcpAck, 12);
  EXPECT_EQ(t.agg.activeFlows(t.a), 0u);
  // Closed flows linger (kClosedLingerSeconds), then go.
  t.agg.expire(12 + Aggregator::kClosedLingerSeconds - 1);
  ab(kTcpAck, 12 + Aggregator::kClosedLingerSeconds - 1);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 2u);
  t.agg.expire(12 + 2 * Aggregator::kClosedLingerSeconds);
  ab(kTcpAck, 12 + 2 * Aggregator::kClosedLingerSeconds);
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 3u) << "gone: mid-stream traffic opens a flow";
}

TEST(Aggregator, AResetOfAnUnknownConnectionOpensNothing) {
  TwoJails t;
  feed(t.agg, tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpRst));
  EXPECT_EQ(t.agg.jail(t.a).flows_opened[kTransmit], 0u);
  EXPECT_EQ(t.agg.jail(t.a).tcp_rst[kTransmit], 1u);
}

TEST(Aggregator, AFullFlowTableCountsNewFlowsAndRecoversAfterExpiry) {
  Aggregator agg(2, 30);
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  uint32_t a = agg.attribution()->slotOf("a");
  for (uint16_t port = 1; port <= 3; ++port) feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, port, 9, 1), 0);
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 3, 9, 1), 0);
  EXPECT_EQ(agg.activeFlows(a), 2u);
  EXPECT_EQ(agg.jail(a).flows_opened[kTransmit], 2u);
  EXPECT_EQ(agg.bridge().flow_table_full, 2u) << "every frame of an untracked flow";
  EXPECT_EQ(agg.jail(a).traffic[kTransmit][kIpv4][kUdp].packets, 4u) << "traffic is counted regardless";
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 9, 1), 20);  // keeps flow 1 alive
  agg.expire(30);
  EXPECT_EQ(agg.activeFlows(a), 1u);
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 3, 9, 1), 30);
  EXPECT_EQ(agg.activeFlows(a), 2u);
  EXPECT_EQ(agg.bridge().flow_table_full, 2u);
}

TEST(FlowTable, BackwardShiftDeletionKeepsEveryOtherFlowReachable) {
  // A small table, filled and emptied at random many times, so clusters wrap around the
  // end of the array and deletions shift entries across it.
  FlowTable table(64);
  std::mt19937 rng(7);
  std::set<uint32_t> present;
  auto key = [](uint32_t id) {
    FlowTable::Key k;
    k.family = 1;
    k.protocol = 2;
    k.a[0] = id;
    k.a_port = static_cast<uint16_t>(id);
    return k;
  };
  for (int round = 0; round < 200; ++round) {
    while (present.size() < 64) {
      uint32_t id = rng() % 1000;
      if (present.count(id)) continue;
      FlowTable::Flow* f = table.insert(key(id));
      ASSERT_NE(f, nullptr);
      f->last_seen = id;
      present.insert(id);
    }
    EXPECT_EQ(table.insert(key(5000)), nullptr) << "full at max_flows";
    uint32_t cut = rng() % 1000;
    table.sweep(rng() % 2 ? table.capacity() : table.capacity() / 3, [&](const FlowTable::Flow& f) {
      if (f.last_seen >= cut) return false;
      present.erase(f.last_seen);
      return true;
    });
    EXPECT_EQ(table.size(), present.size());
    for (uint32_t id : present) {
      FlowTable::Flow* f = table.find(key(id));
      ASSERT_NE(f, nullptr) << "round " << round << " id " << id;
      EXPECT_EQ(f->last_seen, id);
    }
  }
}

// ---- Attribution changes -------------------------------------------------------------

TEST(Aggregator, ANewTableKeepsSurvivorsCountersByNameAndDropsTheDeparted) {
  Aggregator agg(1024, 60);
  agg.setAttribution(table({{"b", kMacB}, {"c", kMacC}}));
  feed(agg, udpFrame(kMacC, kMacB, kIpB, kIpC, 1, 2, 100));     // b → c
  feed(agg, udpFrame(kGateway, kMacB, kIpB, kIpOut, 3, 4, 50));  // b → outside
  feed(agg, udpFrame(kGateway, kMacC, kIpC, kIpOut, 5, 6, 50));  // c → outside
  uint64_t b_tx = agg.jail(agg.attribution()->slotOf("b")).traffic[kTransmit][kIpv4][kUdp].bytes;
  ASSERT_EQ(agg.activeFlows(agg.attribution()->slotOf("b")), 2u);

  // "a" arrives (and sorts first: every slot moves), "c" leaves.
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  const Attribution& now = *agg.attribution();
  uint32_t a = now.slotOf("a"), b = now.slotOf("b");
  ASSERT_EQ(b, 1u);
  EXPECT_EQ(agg.jail(b).traffic[kTransmit][kIpv4][kUdp].bytes, b_tx);
  EXPECT_EQ(agg.jail(a).traffic[kTransmit][kIpv4][kUdp].bytes, 0u);
  EXPECT_EQ(agg.activeFlows(b), 2u) << "b's flows stay, including the one with c";
  EXPECT_EQ(agg.activeFlows(a), 0u);
  auto snap = agg.snapshot(true);
  std::map<std::pair<std::string, std::string>, uint64_t> peers;
  for (const auto& p : snap.peers)
    peers[{now.name(p.jail), p.peer == kNoSlot ? "external" : now.name(p.peer)}] = p.bytes;
  EXPECT_EQ(peers.size(), 1u) << "b → c went with c; c → outside too";
  EXPECT_EQ(peers[std::make_pair(std::string("b"), std::string("external"))], 14u + 20 + 8 + 50);
  // c's MAC is nobody's now.
  feed(agg, udpFrame(kGateway, kMacC, kIpC, kIpOut, 5, 6, 50));
  EXPECT_EQ(agg.bridge().unattributed, 1u);
  // The flow c ↔ outside had no jail left and was dropped; b ↔ c still counts for b.
  agg.expire(60);
  EXPECT_EQ(agg.activeFlows(b), 0u);
}

// A jail that sorts after every other moves no slot: the flow table and the peers are
// kept as they are (no walk over the table), and go on counting.
TEST(Aggregator, AJailThatSortsLastKeepsEveryFlowAndPeerInPlace) {
  Aggregator agg(1024, 60);
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));     // a → b
  feed(agg, udpFrame(kGateway, kMacA, kIpA, kIpOut, 3, 4, 50));  // a → outside
  const uint32_t a = agg.attribution()->slotOf("a"), b = agg.attribution()->slotOf("b");
  ASSERT_EQ(agg.activeFlows(a), 2u);
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}, {"c", kMacC}}));
  ASSERT_EQ(agg.attribution()->slotOf("a"), a);
  ASSERT_EQ(agg.attribution()->slotOf("b"), b);
  EXPECT_EQ(agg.activeFlows(a), 2u);
  EXPECT_EQ(agg.activeFlows(b), 1u);
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));  // the same flow: no new one
  feed(agg, udpFrame(kMacC, kMacA, kIpA, kIpC, 7, 8, 10));   // a → c, the newcomer
  EXPECT_EQ(agg.activeFlows(a), 3u);
  EXPECT_EQ(agg.activeFlows(agg.attribution()->slotOf("c")), 1u);
  uint64_t a_to_b = 0, a_to_c = 0;
  for (const auto& p : agg.snapshot(true).peers) {
    if (p.jail == a && p.peer == b) a_to_b = p.bytes;
    if (p.jail == a && p.peer == agg.attribution()->slotOf("c")) a_to_c = p.bytes;
  }
  EXPECT_EQ(a_to_b, 2u * (14 + 20 + 8 + 100));
  EXPECT_EQ(a_to_c, 14u + 20 + 8 + 10);
}

TEST(Aggregator, MacsThatChangeJailsAreAttributedToTheNewOneAtOnce) {
  // The aggregator remembers the last MACs it looked up; a new table must not leave a
  // MAC with its old jail, even when every slot number stays the same.
  Aggregator agg(1024, 60);
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  Bytes f = udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 10);
  feed(agg, f);
  agg.setAttribution(table({{"a", kMacB}, {"b", kMacA}}));  // the MACs swap jails
  feed(agg, f);
  uint32_t a = agg.attribution()->slotOf("a"), b = agg.attribution()->slotOf("b");
  EXPECT_EQ(agg.jail(a).traffic[kTransmit][kIpv4][kUdp].packets, 1u);
  EXPECT_EQ(agg.jail(a).traffic[kReceive][kIpv4][kUdp].packets, 1u);
  EXPECT_EQ(agg.jail(b).traffic[kTransmit][kIpv4][kUdp].packets, 1u);
  EXPECT_EQ(agg.jail(b).traffic[kReceive][kIpv4][kUdp].packets, 1u);
}

TEST(Aggregator, InterleavedTrainsCountLikeSingleFrames) {
  // Trains of one pair (the cached path) broken by other pairs and directions.
  TwoJails t;
  Bytes ab = udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 10), ba = udpFrame(kMacA, kMacB, kIpB, kIpA, 2, 1, 20),
        ax = udpFrame(kGateway, kMacA, kIpA, kIpOut, 3, 4, 30);
  for (const Bytes* f : {&ab, &ab, &ba, &ab, &ax, &ax, &ab, &ba, &ba, &ax}) feed(t.agg, *f);
  EXPECT_EQ(t.peer(t.a, t.b), 4u * ab.size());
  EXPECT_EQ(t.peer(t.b, t.a), 3u * ba.size());
  EXPECT_EQ(t.peer(t.a, kNoSlot), 3u * ax.size());
  EXPECT_EQ(t.agg.jail(t.a).traffic[kTransmit][kIpv4][kUdp].packets, 7u);
  EXPECT_EQ(t.agg.jail(t.a).traffic[kReceive][kIpv4][kUdp].packets, 3u);
  EXPECT_EQ(t.agg.jail(t.b).traffic[kTransmit][kIpv4][kUdp].packets, 3u);
  EXPECT_EQ(t.agg.jail(t.b).traffic[kReceive][kIpv4][kUdp].packets, 4u);
  EXPECT_EQ(t.agg.activeFlows(t.a), 2u);
  EXPECT_EQ(t.agg.activeFlows(t.b), 1u);
}

TEST(Aggregator, RepeatedFramesCountExactlyAsTheWholePathWould) {
  // The shortcut for a frame that repeats the previous one (same headers, other payload
  // or IPv4 id) against the whole path for every frame: the same slots per frame, the
  // same counters, peers and flows after a long random mix of repeats, other frames,
  // TCP flags that open and close flows, expiry (which moves flows) and table changes.
  auto ab_tables = std::vector{table({{"a", kMacA}, {"b", kMacB}}), table({{"a", kMacA}, {"b", kMacB}, {"c", kMacC}}),
                               table({{"b", kMacA}, {"c", kMacB}}),
                               // private bridges: jail-to-jail frames are the sender's only
                               table({{"a", kMacA}, {"b", kMacB}, {"c", kMacC}}, true),
                               table({{"b", kMacA}, {"c", kMacB}}, true)};
  std::vector<Bytes> pool = {
      udpFrame(kMacB, kMacA, kIpA, kIpB, 1000, 2000, 18),
      udpFrame(kMacA, kMacB, kIpB, kIpA, 2000, 1000, 18),
      udpFrame(kGateway, kMacA, kIpA, kIpOut, 1001, 53, 40),
      udpFrame(kBroadcast, kMacC, kIpC, Ip4{198, 18, 130, 255}, 68, 67, 30),
      udpFrame(kOther, kGateway, kIpOut, kIpOut, 5, 6, 10),  // nobody's
      tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpAck, 100),
      tcpFrame(kMacA, kMacB, kIpB, kIpA, 80, 40000, kTcpAck, 1000),
      tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpSyn),
      tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpFin | kTcpAck),
      tcpFrame(kMacA, kMacB, kIpB, kIpA, 80, 40000, kTcpFin | kTcpAck),
      tcpFrame(kMacB, kMacA, kIpA, kIpB, 40000, 80, kTcpRst),
      tcpFrame(kMacC, kMacA, kIpA, kIpC, 40001, 22, kTcpAck, 10),
      arpRequest(kMacA, kIpA, kIpB),
      ethernet(kMacB, kMacA, kEtherTypeIpv6, ipv6(kIp6A, kIp6B, 17, udp(1000, 2000, 18))),
      ethernet(kMacA, kMacB, kEtherTypeIpv6, ipv6(kIp6B, kIp6A, 6, tcp(443, 40000, kTcpAck, 200))),
      ethernet(kMacA, kMacB, kEtherTypeIpv6, ipv6(kIp6B, kIp6A, 6, tcp(443, 40000, kTcpFin | kTcpAck))),
      // Router discovery (issue 19): a train of the bridge's RAs fans out every time.
      routerAdvertisement(kAllNodesMac, kGateway),
      routerAdvertisement(kAllNodesMac, kMacA),
      routerSolicitation(kMacB),
  };
  Aggregator whole(6, 10), shortcut(6, 10);  // small flow table: it fills too
  whole.shortcutRepeats(false);
  std::mt19937 rng(11);
  uint32_t now = 0;
  size_t current = 0, repeats = 0;
  auto compare = [&](int step) {
    auto x = whole.snapshot(true), y = shortcut.snapshot(true);
    ASSERT_EQ(x.jails, y.jails) << "step " << step;
    ASSERT_EQ(x.peers, y.peers) << "step " << step;
    ASSERT_EQ(x.bridge, y.bridge) << "step " << step;
  };
  for (int step = 0; step < 20000; ++step) {
    uint32_t r = rng() % 1000;
    if (r < 3) {
      auto t = ab_tables[rng() % ab_tables.size()];
      whole.setAttribution(t);
      shortcut.setAttribution(t);
      continue;
    }
    if (r < 10) {
      now += rng() % 8;
      // Whole sweeps: which flows a partial one visits depends on each table's random hash.
      whole.expire(now);
      shortcut.expire(now);
      ASSERT_NO_FATAL_FAILURE(compare(step));
      continue;
    }
    Bytes frame;
    if (r < 750) {
      frame = pool[current];
      ++repeats;
      // What differs between frames of one flow: IPv4 id or IPv6 flow label, payload.
      bool v6 = frame[12] == std::byte{0x86} && frame[13] == std::byte{0xdd};
      if (frame.size() > 20) frame[v6 ? 16 : 18] = static_cast<std::byte>(rng());
      frame.back() = static_cast<std::byte>(rng());
    } else {
      current = rng() % pool.size();
      frame = pool[current];
    }
    if (r % 50 == 0) ++now;
    size_t snap = rng() % 8 ? 65535 : 54;  // sometimes cut: another captured length
    size_t kept = std::min(frame.size(), snap);
    auto wire = static_cast<uint32_t>(frame.size());
    FrameSlots a = whole.add(std::span(frame.data(), kept), wire, now);
    FrameSlots b = shortcut.add(std::span(frame.data(), kept), wire, now);
    ASSERT_EQ(a, b) << "step " << step;
    if (step % 97 == 0) {
      ASSERT_NO_FATAL_FAILURE(compare(step));
    }
  }
  ASSERT_NO_FATAL_FAILURE(compare(-1));
  EXPECT_GT(repeats, 10000u);
  EXPECT_GT(shortcut.bridge().isolated, 1000u) << "the mix had private bridges with jail-to-jail trains";
  for (uint32_t later : {now + 5, now + 11, now + 30}) {
    whole.expire(later);
    shortcut.expire(later);
    ASSERT_NO_FATAL_FAILURE(compare(static_cast<int>(later)));
  }
}

TEST(Aggregator, ARepeatAfterExpiryCountsInTheFlowWhereverItMoved) {
  // Expiry erases flows, and an erase shifts later flows of a cluster back: a flow the
  // previous frame was counted in may sit in another slot afterwards. A train of one
  // flow across an expiry must keep that flow alive (its last_seen), whichever slot it is
  // in now. 64 flows in a 128-slot table cluster; every one of them is tried as the train.
  constexpr uint16_t kFlows = 64;
  for (uint16_t k = 0; k < kFlows; ++k) {
    Aggregator whole(kFlows, 10), shortcut(kFlows, 10);
    whole.shortcutRepeats(false);
    auto t = table({{"a", kMacA}, {"b", kMacB}});
    whole.setAttribution(t);
    shortcut.setAttribution(t);
    auto both = [&](const Bytes& f, uint32_t now) {
      feed(whole, f, now);
      feed(shortcut, f, now);
    };
    for (uint16_t i = 0; i < kFlows; ++i) both(udpFrame(kMacB, kMacA, kIpA, kIpB, 1000 + i, 9, 18), 0);
    Bytes train = udpFrame(kMacB, kMacA, kIpA, kIpB, 1000 + k, 9, 18);
    both(train, 5);
    both(train, 5);
    whole.expire(10);  // every flow but k's
    shortcut.expire(10);
    ASSERT_EQ(shortcut.activeFlows(0), 1u);
    both(train, 12);
    both(train, 12);
    whole.expire(16);  // k's was seen at 12: it stays
    shortcut.expire(16);
    ASSERT_EQ(whole.activeFlows(0), 1u);
    ASSERT_EQ(shortcut.activeFlows(0), 1u) << "flow " << k;
  }
}

TEST(Aggregator, AFullPeerTableCountsEveryFrameOfAPairItCannotTrack) {
  // 200 jails: room for 16384 (jail, peer) pairs of the 40200 possible. Past that, every
  // frame of an untracked pair counts as peer_table_full — repeats of it too.
  std::map<std::string, MacBytes> jails;
  auto mac = [](int i) { return MacBytes{0x02, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}; };
  auto name = [](int i) { return "j" + std::to_string(1000 + i); };
  for (int i = 0; i < 200; ++i) jails[name(i)] = mac(i);
  Aggregator whole(1u << 16, 60), shortcut(1u << 16, 60);
  whole.shortcutRepeats(false);
  whole.setAttribution(table(jails));
  shortcut.setAttribution(table(jails));
  auto frame = [&](int from, int to) {
    Ip4 s{198, 18, static_cast<uint8_t>(from >> 8), static_cast<uint8_t>(from)};
    Ip4 d{198, 18, static_cast<uint8_t>(to >> 8), static_cast<uint8_t>(to)};
    return udpFrame(mac(to), mac(from), s, d, 1000, 2000, 18);
  };
  for (int from = 0; from < 200 && shortcut.bridge().peer_table_full == 0; ++from)
    for (int to = 0; to < 200; ++to) {
      Bytes f = frame(from, to);
      feed(whole, f);
      feed(shortcut, f);
    }
  uint64_t full = shortcut.bridge().peer_table_full;
  ASSERT_GT(full, 0u);
  Bytes untracked = frame(199, 198);
  for (int i = 0; i < 3; ++i) {
    feed(whole, untracked);
    feed(shortcut, untracked);
  }
  EXPECT_EQ(shortcut.bridge().peer_table_full, full + 3);
  EXPECT_EQ(whole.snapshot(true).bridge, shortcut.snapshot(true).bridge);
  EXPECT_EQ(whole.snapshot(true).jails, shortcut.snapshot(true).jails);
}

// ---- Families -----------------------------------------------------------------------

using testing::findFamily;
using testing::labelValue;

// The value of the one series of `name` whose labels include all of `want`; -1 if none.
double value(const std::vector<prometheus::MetricFamily>& fs, const std::string& name,
             std::map<std::string, std::string> want) {
  const auto* f = findFamily(fs, name);
  if (!f) return -1;
  for (const auto& m : f->metric) {
    bool all = true;
    for (const auto& [k, v] : want) all = all && labelValue(m, k) == v;
    if (all) return f->type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return -1;
}

TEST(CaptureFamilies, NamesLabelsAndCrossBridgeSums) {
  Aggregator br0(16, 60), br1(16, 60);
  br0.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  br1.setAttribution(table({{"a", kMacC}}));  // a's second interface, on another bridge
  feed(br0, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));
  feed(br0, arpRequest(kMacA, kIpA, kIpB));
  feed(br1, udpFrame(kGateway, kMacC, kIpC, kIpOut, 1, 2, 100));
  br0.bridge().dropped_kernel = 7;
  br0.bridge().isolated = 3;
  CaptureSnapshot open0 = br0.snapshot(true);
  open0.capture_buffer_bytes = 524288;  // what the capture read back from the kernel
  std::vector<BridgeView> views = {
      {"br0", std::make_shared<const CaptureSnapshot>(std::move(open0)), br0.attribution()},
      {"br1", std::make_shared<const CaptureSnapshot>(br1.snapshot(false)), br1.attribution()}};
  auto fs = captureFamilies(views);
  const double frame = 14 + 20 + 8 + 100;
  const std::map<std::string, std::string> a_udp = {{"jail", "a"}, {"family", "ipv4"}, {"protocol", "udp"}};
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_bytes_total", a_udp), 2 * frame) << "summed over both bridges";
  const std::map<std::string, std::string> a_arp = {{"jail", "a"}, {"family", "other"}, {"protocol", "arp"}};
  const std::map<std::string, std::string> b_udp = {{"jail", "b"}, {"family", "ipv4"}, {"protocol", "udp"}};
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_packets_total", a_arp), 1);
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_receive_packets_total", b_udp), 1);
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_packets_total", b_udp), 0) << "what never happened: 0";
  EXPECT_EQ(value(fs, "vnetd_jail_peer_transmit_bytes_total", {{"jail", "a"}, {"peer", "b"}}), frame);
  EXPECT_EQ(value(fs, "vnetd_jail_peer_transmit_bytes_total", {{"jail", "a"}, {"peer", "external"}}), frame + 42);
  EXPECT_EQ(value(fs, "vnetd_jail_peer_transmit_bytes_total", {{"jail", "b"}}), -1)
      << "a (jail, peer) pair appears with its first byte";
  EXPECT_EQ(value(fs, "vnetd_jail_broadcast_transmit_packets_total", {{"jail", "a"}}), 1);
  EXPECT_EQ(value(fs, "vnetd_jail_broadcast_transmit_packets_total", {{"jail", "b"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_jail_flows", {{"jail", "a"}}), 2);
  EXPECT_EQ(value(fs, "vnetd_jail_flows_receive_opens_total", {{"jail", "b"}}), 1);
  EXPECT_EQ(value(fs, "vnetd_jail_flows_transmit_opens_total", {{"jail", "b"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_jail_flows_transmit_opens_total", {{"jail", "a"}}), 2);
  EXPECT_EQ(value(fs, "vnetd_jail_tcp_transmit_syn_segments_total", {{"jail", "b"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_jail_flows", {{"jail", "b"}}), 1) << "the flows gauge is there for every jail";
  EXPECT_EQ(value(fs, "vnetd_capture_packets_total", {{"bridge", "br0"}}), 2);
  EXPECT_EQ(value(fs, "vnetd_capture_dropped_packets_total", {{"bridge", "br0"}, {"where", "kernel"}}), 7);
  EXPECT_EQ(value(fs, "vnetd_capture_dropped_packets_total", {{"bridge", "br1"}, {"where", "interface"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_capture_up", {{"bridge", "br0"}}), 1);
  EXPECT_EQ(value(fs, "vnetd_capture_up", {{"bridge", "br1"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_capture_isolated_packets_total", {{"bridge", "br0"}}), 3);
  EXPECT_EQ(value(fs, "vnetd_capture_isolated_packets_total", {{"bridge", "br1"}}), 0);
  EXPECT_EQ(value(fs, "vnetd_capture_buffer_bytes", {{"bridge", "br0"}}), 524288);
  EXPECT_EQ(value(fs, "vnetd_capture_buffer_bytes", {{"bridge", "br1"}}), -1) << "closed: no buffer to report";
  for (const auto& f : fs) {
    EXPECT_EQ(f.name.rfind("vnetd_", 0), 0u) << f.name;
    bool counter = f.type == prometheus::MetricType::Counter;
    EXPECT_EQ(counter, f.name.size() > 6 && f.name.substr(f.name.size() - 6) == "_total") << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    // One direction rule: a direction is in the name, never a label.
    for (const auto& m : f.metric) EXPECT_EQ(labelValue(m, "direction"), "") << f.name;
  }
}

// Prometheus's advice for counters: every known label set from 0, so that increase() and
// rate() see the first event. A jail the capture knows — in the snapshot or only in the
// table in force — has every per-jail series at 0 before its first frame: each
// (family, protocol) cell the decoder produces in both directions, the TCP flags, the
// flows opened, the flows, broadcasts and spoofed frames. Only peer pairs wait for a byte.
TEST(CaptureFamilies, EveryJailHasEverySeriesFromZero) {
  Aggregator agg(16, 60);
  agg.setAttribution(table({{"a", kMacA}}));
  auto snap = std::make_shared<const CaptureSnapshot>(agg.snapshot(true));
  for (auto fs : {captureFamilies({{"br0", snap, table({{"a", kMacA}, {"b", kMacB}})}}),  // b: not published yet
                  captureFamilies({{"br0", nullptr, table({{"a", kMacA}, {"b", kMacB}})}})}) {  // no snapshot at all
    const std::set<std::pair<std::string, std::string>> cells = {
        {"ipv4", "tcp"}, {"ipv4", "udp"},   {"ipv4", "icmp"},  {"ipv4", "other"}, {"ipv6", "tcp"},
        {"ipv6", "udp"}, {"ipv6", "icmp6"}, {"ipv6", "other"}, {"other", "arp"},  {"other", "other"}};
    for (const char* jail : {"a", "b"}) {
      for (const char* dir : {"receive", "transmit"}) {
        for (const char* unit : {"bytes", "packets"}) {
          std::string name = std::string("vnetd_jail_traffic_") + dir + "_" + unit + "_total";
          const auto* f = findFamily(fs, name);
          ASSERT_NE(f, nullptr) << name;
          std::set<std::pair<std::string, std::string>> seen;
          for (const auto& m : f->metric) {
            if (labelValue(m, "jail") != jail) continue;
            seen.insert({labelValue(m, "family"), labelValue(m, "protocol")});
            EXPECT_EQ(m.counter.value, 0) << name;
          }
          EXPECT_EQ(seen, cells) << name << " of " << jail;
        }
        for (const char* flag : {"syn", "rst", "fin"})
          EXPECT_EQ(value(fs, std::string("vnetd_jail_tcp_") + dir + "_" + flag + "_segments_total", {{"jail", jail}}),
                    0)
              << dir << " " << flag;
        EXPECT_EQ(value(fs, std::string("vnetd_jail_flows_") + dir + "_opens_total", {{"jail", jail}}), 0) << dir;
      }
      for (const char* name : {"vnetd_jail_flows", "vnetd_jail_broadcast_transmit_packets_total",
                               "vnetd_jail_spoofed_transmit_packets_total",
                               "vnetd_jail_router_solicitations_transmit_packets_total",
                               "vnetd_jail_router_advertisements_receive_packets_total",
                               "vnetd_jail_router_advertisements_transmit_packets_total"})
        EXPECT_EQ(value(fs, name, {{"jail", jail}}), 0) << name << " of " << jail;
    }
    size_t per_jail = 0;
    for (const auto& f : fs)
      for (const auto& m : f.metric) per_jail += labelValue(m, "jail") == "a";
    EXPECT_EQ(per_jail, 54u) << "2 x 10 cells x (bytes, packets) + 6 TCP flags + 2 opens + flows, broadcasts, "
                                "spoofed, router solicitations sent, advertisements received and sent";
    EXPECT_EQ(findFamily(fs, "vnetd_jail_peer_transmit_bytes_total")->metric.size(), 0u);
  }
}

// [capture] sample = N: frame, byte and event counts are the sampled counts x N with a
// sample="N" label; flows are labelled, not scaled; the capture's own counters (frames
// delivered, drops, table events) and the spoofing guards' count stay as counted.
TEST(CaptureFamilies, SampledCountsAreScaledAndLabelled) {
  Aggregator br0(16, 60);
  br0.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  feed(br0, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));
  feed(br0, arpRequest(kMacA, kIpA, kIpB));
  br0.addSpoofed(0);
  br0.bridge().dropped_kernel = 7;
  br0.bridge().isolated = 3;
  CaptureSnapshot snap = br0.snapshot(true);
  snap.sample = 64;
  auto fs = captureFamilies({{"br0", std::make_shared<const CaptureSnapshot>(std::move(snap)), br0.attribution()}});
  const double frame = 14 + 20 + 8 + 100;
  const std::map<std::string, std::string> a_udp = {
      {"jail", "a"}, {"family", "ipv4"}, {"protocol", "udp"}, {"sample", "64"}};
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_bytes_total", a_udp), 64 * frame);
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_packets_total", a_udp), 64);
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_receive_packets_total",
                  {{"jail", "b"}, {"family", "ipv4"}, {"protocol", "udp"}, {"sample", "64"}}),
            64);
  // The zero series of a sampled capture carry the label too (series from zero, issue 20).
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_receive_packets_total",
                  {{"jail", "b"}, {"family", "ipv6"}, {"protocol", "udp"}, {"sample", "64"}}),
            0);
  EXPECT_EQ(value(fs, "vnetd_jail_peer_transmit_bytes_total", {{"jail", "a"}, {"peer", "b"}, {"sample", "64"}}), 64 * frame);
  EXPECT_EQ(value(fs, "vnetd_jail_broadcast_transmit_packets_total", {{"jail", "a"}, {"sample", "64"}}), 64);
  EXPECT_EQ(value(fs, "vnetd_jail_flows", {{"jail", "a"}, {"sample", "64"}}), 1) << "flows: labelled, not scaled";
  EXPECT_EQ(value(fs, "vnetd_jail_flows_receive_opens_total", {{"jail", "b"}, {"sample", "64"}}),
            1);
  EXPECT_EQ(value(fs, "vnetd_capture_isolated_packets_total", {{"bridge", "br0"}, {"sample", "64"}}), 3 * 64);
  EXPECT_EQ(value(fs, "vnetd_capture_packets_total", {{"bridge", "br0"}}), 2) << "frames delivered: as counted";
  EXPECT_EQ(value(fs, "vnetd_capture_dropped_packets_total", {{"bridge", "br0"}, {"where", "kernel"}}), 7);
  EXPECT_EQ(value(fs, "vnetd_jail_spoofed_transmit_packets_total", {{"jail", "a"}}), 1) << "the guards are not sampled";
  EXPECT_EQ(value(fs, "vnetd_capture_sample", {{"bridge", "br0"}}), 64);
  for (const auto& f : fs) {
    if (f.name != "vnetd_jail_spoofed_transmit_packets_total" && f.name != "vnetd_capture_packets_total" &&
        f.name != "vnetd_capture_dropped_packets_total" && f.name != "vnetd_capture_sample")
      continue;
    for (const auto& m : f.metric) EXPECT_EQ(labelValue(m, "sample"), "") << f.name;
  }
}

// The router discovery series: per jail, summed over its bridges; sampled like every
// other per-frame count (estimates x N, labelled).
TEST(CaptureFamilies, RouterDiscoverySeriesPerJailSummedAndSampled) {
  Aggregator br0(16, 60), br1(16, 60);
  br0.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  br1.setAttribution(table({{"a", kMacC}}));  // a's second interface, on another bridge
  feed(br0, routerAdvertisement(kAllNodesMac, kGateway));
  feed(br1, routerAdvertisement(kAllNodesMac, kGateway));
  feed(br0, routerAdvertisement(kAllNodesMac, kMacB));  // b acts as a router
  feed(br1, icmp6Frame(kAllRoutersMac, kMacC, 133, kIp6A, kAllRouters));
  for (uint32_t n : {1u, 8u}) {
    CaptureSnapshot s0 = br0.snapshot(true), s1 = br1.snapshot(true);
    s0.sample = s1.sample = n;
    auto fs = captureFamilies({{"br0", std::make_shared<const CaptureSnapshot>(std::move(s0)), br0.attribution()},
                               {"br1", std::make_shared<const CaptureSnapshot>(std::move(s1)), br1.attribution()}});
    auto labels = [&](const char* jail) {
      std::map<std::string, std::string> l = {{"jail", jail}};
      if (n > 1) l["sample"] = std::to_string(n);
      return l;
    };
    EXPECT_EQ(value(fs, "vnetd_jail_router_advertisements_receive_packets_total", labels("a")), 3.0 * n)
        << "two from the bridges, one from b";
    EXPECT_EQ(value(fs, "vnetd_jail_router_advertisements_receive_packets_total", labels("b")), 1.0 * n);
    EXPECT_EQ(value(fs, "vnetd_jail_router_advertisements_transmit_packets_total", labels("a")), 0);
    EXPECT_EQ(value(fs, "vnetd_jail_router_advertisements_transmit_packets_total", labels("b")), 1.0 * n);
    EXPECT_EQ(value(fs, "vnetd_jail_router_solicitations_transmit_packets_total", labels("a")), 1.0 * n);
    EXPECT_EQ(value(fs, "vnetd_jail_router_solicitations_transmit_packets_total", labels("b")), 0);
  }
}

TEST(CaptureFamilies, UnsampledSeriesHaveNoSampleLabel) {
  Aggregator br0(16, 60);
  br0.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  feed(br0, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));
  auto fs = captureFamilies({{"br0", std::make_shared<const CaptureSnapshot>(br0.snapshot(true)), br0.attribution()}});
  for (const auto& f : fs)
    for (const auto& m : f.metric) EXPECT_EQ(labelValue(m, "sample"), "") << f.name;
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_packets_total", {{"jail", "a"}, {"family", "ipv4"}, {"protocol", "udp"}}), 1);
  EXPECT_EQ(value(fs, "vnetd_capture_sample", {{"bridge", "br0"}}), 1);
}

TEST(CaptureFamilies, JailsLeaveWithTheTableNotWithTheNextSnapshot) {
  Aggregator agg(16, 60);
  agg.setAttribution(table({{"a", kMacA}, {"b", kMacB}}));
  feed(agg, udpFrame(kMacB, kMacA, kIpA, kIpB, 1, 2, 100));
  auto snap = std::make_shared<const CaptureSnapshot>(agg.snapshot(true));
  // b was stopped (the loop installed a new table); the capture has not published since.
  auto fs = captureFamilies({{"br0", snap, table({{"a", kMacA}, {"c", kMacC}})}});
  for (const auto& f : fs)
    for (const auto& m : f.metric) {
      EXPECT_NE(labelValue(m, "jail"), "b") << f.name;
      EXPECT_NE(labelValue(m, "peer"), "b") << f.name;
    }
  EXPECT_EQ(value(fs, "vnetd_jail_traffic_transmit_packets_total", {{"jail", "a"}, {"family", "ipv4"}, {"protocol", "udp"}}),
            1);
  EXPECT_EQ(value(fs, "vnetd_jail_flows", {{"jail", "c"}}), 0) << "a new jail shows zeros at once";
  // Before the first snapshot: the bridge's series, zero.
  auto early = captureFamilies({{"br0", nullptr, table({{"a", kMacA}})}});
  EXPECT_EQ(value(early, "vnetd_capture_packets_total", {{"bridge", "br0"}}), 0);
  EXPECT_EQ(value(early, "vnetd_capture_up", {{"bridge", "br0"}}), 0);
  EXPECT_EQ(value(early, "vnetd_jail_flows", {{"jail", "a"}}), 0);
  EXPECT_TRUE(captureFamilies({}).empty());
}

}  // namespace
}  // namespace vnetd::collectors

// ---- Issue 19: port forwards --------------------------------------------------------

namespace vnetd::collectors {
namespace {

// Jail a (198.18.173.10) forwards tcp/8080:80 and udp/53; b is another jail.
State exposeState() {
  State st;
  auto rec = [&](const std::string& name, const std::string& jail_mac, const std::string& address) {
    JailRecord r;
    r.name = name;
    InterfaceRecord ir;
    ir.index = 0;
    ir.host_name = "e0a_" + name;
    ir.jail_mac = jail_mac;
    ir.bridge = "br0";
    ir.addresses = {address};
    r.interfaces.push_back(ir);
    st.jails[name] = r;
  };
  rec("a", "02:00:00:00:00:0a", "198.18.173.10/24");
  rec("b", "02:00:00:00:00:0b", "198.18.173.11/24");
  return st;
}

Attribution::ExposeConfig exposeConfig() {
  Attribution::ExposeConfig c;
  for (const char* text : {"tcp/8080:80", "udp/53"}) {
    ExposeRule r = *parseExpose(text).rule;
    r.v4 = true;
    c["a"].emplace_back(0u, r);
  }
  return c;
}

double exposeSample(const std::vector<prometheus::MetricFamily>& families, const std::string& jail,
                    const std::string& expose) {
  const auto* f = testing::findFamily(families, "vnetd_jail_expose_connections_total");
  if (!f) return -1;
  for (const auto& m : f->metric)
    if (testing::labelValue(m, "jail") == jail && testing::labelValue(m, "expose") == expose) return m.counter.value;
  return -1;
}

TEST(AggregatorExpose, CountsConnectionOpeningFramesToTheJailAddressAndPort) {
  State st = exposeState();
  Attribution::ExposeConfig cfg = exposeConfig();
  auto t = Attribution::fromState(st, "br0", false, &cfg);
  ASSERT_EQ(t->exposes().size(), 2u);
  EXPECT_EQ(t->exposes()[0].expose, "tcp/8080:80");
  EXPECT_EQ(t->exposes()[0].first, 80);
  Aggregator agg(1024, 60);
  agg.setAttribution(t);
  const Ip4 a{198, 18, 173, 10}, b{198, 18, 173, 11}, outside{198, 18, 174, 2};
  // Three connections to a:80 (after DNAT: from the outside through the gateway's MAC).
  for (uint16_t port : {40001, 40002, 40003}) {
    feed(agg, tcpFrame(kMacA, kGateway, outside, a, port, 80, kTcpSyn));
    feed(agg, tcpFrame(kGateway, kMacA, a, outside, 80, port, kTcpSyn | kTcpAck));  // a's answer: not counted
    feed(agg, tcpFrame(kMacA, kGateway, outside, a, port, 80, kTcpAck, 10));
    feed(agg, tcpFrame(kMacA, kGateway, outside, a, port, 80, kTcpAck, 10));  // repeated: the shortcut
  }
  feed(agg, tcpFrame(kMacA, kGateway, outside, a, 40004, 81, kTcpSyn));  // another port
  feed(agg, tcpFrame(kMacB, kGateway, outside, b, 40005, 80, kTcpSyn));  // another jail
  // Five datagrams to a:53, the last four repeats of one flow (the shortcut must count them).
  feed(agg, udpFrame(kMacA, kGateway, outside, a, 5000, 53, 20));
  for (int i = 0; i < 4; ++i) feed(agg, udpFrame(kMacA, kGateway, outside, a, 5001, 53, 20));
  feed(agg, udpFrame(kGateway, kMacA, a, outside, 53, 5001, 20));  // a's answers: not counted

  CaptureSnapshot snap = agg.snapshot(true);
  ASSERT_EQ(snap.exposes.size(), 2u);
  EXPECT_EQ(snap.exposes[0], 3u) << "one per SYN";
  EXPECT_EQ(snap.exposes[1], 5u) << "one per datagram";
  auto shared = std::make_shared<const CaptureSnapshot>(snap);
  auto families = captureFamilies({BridgeView{"br0", shared, t}});
  EXPECT_EQ(exposeSample(families, "a", "tcp/8080:80"), 3);
  EXPECT_EQ(exposeSample(families, "a", "udp/53"), 5);

  // A new table with the same forwards keeps the counts; without them the series go.
  agg.setAttribution(Attribution::fromState(st, "br0", false, &cfg));
  EXPECT_EQ(agg.snapshot(true).exposes, (std::vector<uint64_t>{3, 5}));
  auto bare = Attribution::fromState(st, "br0");
  EXPECT_FALSE(bare->sameAs(*t)) << "a change of forwards reaches the capture";
  agg.setAttribution(bare);
  EXPECT_TRUE(agg.snapshot(true).exposes.empty());
  families = captureFamilies({BridgeView{"br0", std::make_shared<const CaptureSnapshot>(agg.snapshot(true)), bare}});
  EXPECT_EQ(exposeSample(families, "a", "tcp/8080:80"), -1);
}

}  // namespace
}  // namespace vnetd::collectors
