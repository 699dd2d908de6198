#include "collectors/packet_decode.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace vnetd::collectors {

// Readable failures: gtest would otherwise print FrameInfo as raw bytes. Outside the
// anonymous namespace so that gtest finds it by argument-dependent lookup.
void PrintTo(const FrameInfo& f, std::ostream* os) {
  auto hex = [&](auto bytes, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
      s += buf;
    }
    return s;
  };
  *os << "{dst=" << hex(f.dst_mac, 6) << " src=" << hex(f.src_mac, 6)
      << " tags=" << int{f.vlan_tags} << " vlan=" << f.vlan_outer << "/" << f.vlan_inner
      << " type=0x" << std::hex << f.ethertype << std::dec << " family=" << int(f.family)
      << " proto=" << int(f.protocol) << " ip=" << hex(f.src_ip, 16) << ">" << hex(f.dst_ip, 16)
      << " ports=" << f.src_port << ">" << f.dst_port << " flags=" << int{f.tcp_flags}
      << " icmp=" << int{f.icmp_type} << " bcast=" << f.broadcast << " mcast=" << f.multicast
      << " malformed=" << f.malformed << " truncated=" << f.truncated << "}";
}

namespace {

using Bytes = std::vector<std::byte>;
using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

// ---- Frame building -----------------------------------------------------------------

void put8(Bytes& b, unsigned v) { b.push_back(static_cast<std::byte>(v & 0xff)); }
void put16(Bytes& b, unsigned v) {
  put8(b, v >> 8);
  put8(b, v);
}
template <typename Range>
void putAll(Bytes& b, const Range& r) {
  for (auto v : r) put8(b, v);
}
void putAll(Bytes& b, std::initializer_list<uint8_t> r) {
  for (auto v : r) put8(b, v);
}
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
Bytes zeros(size_t n) { return Bytes(n, std::byte{0}); }
Bytes filler(size_t n) {
  Bytes b;
  for (size_t i = 0; i < n; ++i) put8(b, 0xa0 + i);
  return b;
}

constexpr MacBytes kJailMac{0x02, 0x16, 0xf3, 0x95, 0xec, 0xf6};
constexpr MacBytes kGatewayMac{0x02, 0x5b, 0x10, 0x44, 0x20, 0x01};
constexpr MacBytes kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr MacBytes kMdnsMac{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
constexpr MacBytes kSolicitedNodeMac{0x33, 0x33, 0xff, 0x00, 0x00, 0x01};
constexpr MacBytes kStpMac{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00};
constexpr Ip4 kJailIp{198, 18, 0, 10}, kGatewayIp{198, 18, 0, 1};
constexpr Ip6 kJailIp6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
constexpr Ip6 kGatewayIp6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
constexpr Ip6 kSolicitedNodeIp6{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0x01};

struct Tag {
  uint16_t tpid;
  uint16_t vid;
};

Bytes ethernet(MacBytes dst, MacBytes src, uint16_t type, const Bytes& payload,
               std::initializer_list<Tag> tags = {}) {
  Bytes b;
  putAll(b, dst);
  putAll(b, src);
  for (const Tag& t : tags) {
    put16(b, t.tpid);
    put16(b, 0x2000 | t.vid);  // priority 1: the PCP bits must not leak into the VID
  }
  put16(b, type);
  append(b, payload);
  return b;
}

Bytes padTo60(Bytes frame) {
  if (frame.size() < 60) frame.resize(60, std::byte{0});
  return frame;
}

struct Ipv4Options {
  Bytes options;               // a multiple of 4 bytes
  unsigned fragment_offset = 0;  // in 8-byte units
  bool more_fragments = false;
  int ihl = -1;          // override (words)
  int total_length = -1;  // override
  uint8_t version = 4;
};

Bytes ipv4(uint8_t proto, Ip4 src, Ip4 dst, const Bytes& payload, const Ipv4Options& o = {}) {
  Bytes b;
  unsigned ihl = o.ihl >= 0 ? unsigned(o.ihl) : unsigned(5 + o.options.size() / 4);
  unsigned total = o.total_length >= 0 ? unsigned(o.total_length)
                                       : unsigned(20 + o.options.size() + payload.size());
  put8(b, o.version << 4 | ihl);
  put8(b, 0);
  put16(b, total);
  put16(b, 0x1234);  // identification
  put16(b, (o.more_fragments ? 0x2000 : 0) | o.fragment_offset);
  put8(b, 64);
  put8(b, proto);
  put16(b, 0);  // checksum: not checked by the decoder
  putAll(b, src);
  putAll(b, dst);
  append(b, o.options);
  append(b, payload);
  return b;
}

Bytes ipv6(uint8_t next, Ip6 src, Ip6 dst, const Bytes& payload, int payload_length = -1,
           uint8_t version = 6) {
  Bytes b;
  put8(b, version << 4);
  putAll(b, {0, 0, 0});
  put16(b, payload_length >= 0 ? unsigned(payload_length) : unsigned(payload.size()));
  put8(b, next);
  put8(b, 64);
  putAll(b, src);
  putAll(b, dst);
  append(b, payload);
  return b;
}

// Hop-by-Hop, Routing or Destination Options: (units + 1) * 8 bytes.
Bytes extHeader(uint8_t next, unsigned units, const Bytes& rest) {
  Bytes b;
  put8(b, next);
  put8(b, units);
  append(b, zeros((units + 1) * 8 - 2));
  append(b, rest);
  return b;
}

// Authentication Header: (units + 2) * 4 bytes.
Bytes authHeader(uint8_t next, unsigned units, const Bytes& rest) {
  Bytes b;
  put8(b, next);
  put8(b, units);
  append(b, filler((units + 2) * 4 - 2));
  append(b, rest);
  return b;
}

Bytes fragmentHeader(uint8_t next, unsigned offset_units, bool more, const Bytes& rest) {
  Bytes b;
  put8(b, next);
  put8(b, 0);
  put16(b, offset_units << 3 | (more ? 1 : 0));
  putAll(b, {0xca, 0xfe, 0xf0, 0x0d});  // identification
  append(b, rest);
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& options = {},
          const Bytes& payload = {}, int data_offset = -1) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  putAll(b, {0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0});  // seq, ack
  put8(b, (data_offset >= 0 ? unsigned(data_offset) : unsigned(5 + options.size() / 4)) << 4);
  put8(b, flags);
  put16(b, 64240);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent
  append(b, options);
  append(b, payload);
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, 8 + payload.size());
  put16(b, 0);
  append(b, payload);
  return b;
}

Bytes icmp(uint8_t type, uint8_t code, const Bytes& payload) {
  Bytes b;
  put8(b, type);
  put8(b, code);
  put16(b, 0);
  append(b, payload);
  return b;
}

Bytes arpRequest(MacBytes sha, Ip4 spa, Ip4 tpa) {
  Bytes b;
  put16(b, 1);       // Ethernet
  put16(b, 0x0800);  // IPv4
  put8(b, 6);
  put8(b, 4);
  put16(b, 1);  // request
  putAll(b, sha);
  putAll(b, spa);
  append(b, zeros(6));
  putAll(b, tpa);
  return b;
}

// MSS 1460, SACK permitted, timestamps, NOP, window scale 7: what Linux sends in a SYN.
Bytes synOptions() {
  Bytes b;
  putAll(b, {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7});
  return b;
}

// ---- Expectations ---------------------------------------------------------------------

FrameInfo l2(MacBytes dst, MacBytes src, uint16_t type) {
  FrameInfo f;
  f.dst_mac = dst;
  f.src_mac = src;
  f.ethertype = type;
  return f;
}

FrameInfo v4(FrameInfo f, Protocol p, Ip4 src, Ip4 dst) {
  f.family = Family::IPv4;
  f.protocol = p;
  std::copy(src.begin(), src.end(), f.src_ip.begin());
  std::copy(dst.begin(), dst.end(), f.dst_ip.begin());
  return f;
}

FrameInfo v6(FrameInfo f, Protocol p, Ip6 src, Ip6 dst) {
  f.family = Family::IPv6;
  f.protocol = p;
  f.src_ip = src;
  f.dst_ip = dst;
  return f;
}

FrameInfo ports(FrameInfo f, uint16_t src, uint16_t dst, uint8_t flags = 0) {
  f.src_port = src;
  f.dst_port = dst;
  f.tcp_flags = flags;
  return f;
}

std::span<const std::byte> view(const Bytes& b) { return {b.data(), b.size()}; }
uint32_t len(const Bytes& b) { return static_cast<uint32_t>(b.size()); }

// Each field of `part` is its zero value or the full decode's value: a prefix of a frame
// may know less, never something different.
void expectPrefixOf(const FrameInfo& part, const FrameInfo& full, size_t k) {
  SCOPED_TRACE("prefix of " + std::to_string(k) + " bytes");
  const FrameInfo zero;
  auto ok = [](const auto& p, const auto& f, const auto& z) { return p == z || p == f; };
  EXPECT_TRUE(ok(part.dst_mac, full.dst_mac, zero.dst_mac));
  EXPECT_TRUE(ok(part.src_mac, full.src_mac, zero.src_mac));
  EXPECT_TRUE(ok(part.vlan_outer, full.vlan_outer, zero.vlan_outer));
  EXPECT_TRUE(ok(part.vlan_inner, full.vlan_inner, zero.vlan_inner));
  EXPECT_TRUE(ok(part.vlan_tags, full.vlan_tags, zero.vlan_tags));
  EXPECT_TRUE(ok(part.ethertype, full.ethertype, zero.ethertype));
  EXPECT_TRUE(ok(part.family, full.family, zero.family));
  EXPECT_TRUE(ok(part.protocol, full.protocol, zero.protocol));
  EXPECT_TRUE(ok(part.src_ip, full.src_ip, zero.src_ip));
  EXPECT_TRUE(ok(part.dst_ip, full.dst_ip, zero.dst_ip));
  EXPECT_TRUE(ok(part.src_port, full.src_port, zero.src_port));
  EXPECT_TRUE(ok(part.dst_port, full.dst_port, zero.dst_port));
  EXPECT_TRUE(ok(part.tcp_flags, full.tcp_flags, zero.tcp_flags));
  EXPECT_TRUE(ok(part.icmp_type, full.icmp_type, zero.icmp_type));
  EXPECT_TRUE(ok(part.broadcast, full.broadcast, zero.broadcast));
  EXPECT_TRUE(ok(part.multicast, full.multicast, zero.multicast));
}

// ---- Well-formed frames ---------------------------------------------------------------

struct Case {
  std::string name;
  Bytes frame;
  FrameInfo expected;
  size_t needed;  // captured bytes the full decode reads: fewer is truncated
};

std::vector<Case> wellFormedCases() {
  std::vector<Case> cases;
  auto add = [&](std::string name, Bytes frame, FrameInfo expected, size_t needed) {
    cases.push_back({std::move(name), std::move(frame), expected, needed});
  };
  const FrameInfo ip4_up = l2(kGatewayMac, kJailMac, kEtherTypeIpv4);
  const FrameInfo ip4_down = l2(kJailMac, kGatewayMac, kEtherTypeIpv4);
  const FrameInfo ip6_up = l2(kGatewayMac, kJailMac, kEtherTypeIpv6);

  add("Ipv4TcpSynWithOptions",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
               ipv4(6, kJailIp, kGatewayIp, tcp(40000, 80, kTcpSyn, synOptions()))),
      ports(v4(ip4_up, Protocol::Tcp, kJailIp, kGatewayIp), 40000, 80, kTcpSyn), 14 + 20 + 14);
  add("Ipv4TcpFinAck",
      ethernet(kJailMac, kGatewayMac, kEtherTypeIpv4,
               ipv4(6, kGatewayIp, kJailIp, tcp(80, 40000, kTcpFin | kTcpAck, {}, filler(40)))),
      ports(v4(ip4_down, Protocol::Tcp, kGatewayIp, kJailIp), 80, 40000, kTcpFin | kTcpAck),
      14 + 20 + 14);
  // 54 bytes padded to Ethernet's 60 on receive: the padding is not part of the datagram.
  add("Ipv4TcpRstPadded",
      padTo60(ethernet(kJailMac, kGatewayMac, kEtherTypeIpv4,
                       ipv4(6, kGatewayIp, kJailIp, tcp(80, 40001, kTcpRst)))),
      ports(v4(ip4_down, Protocol::Tcp, kGatewayIp, kJailIp), 80, 40001, kTcpRst), 14 + 20 + 14);
  add("Ipv4Udp",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
               ipv4(17, kJailIp, kGatewayIp, udp(53124, 53, filler(29)))),
      ports(v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 53124, 53), 14 + 20 + 4);
  {
    FrameInfo f = v4(ip4_up, Protocol::Icmp, kJailIp, kGatewayIp);
    f.icmp_type = 8;
    add("Ipv4IcmpEcho",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(1, kJailIp, kGatewayIp, icmp(8, 0, filler(60)))),
        f, 14 + 20 + 1);
  }
  {
    Ipv4Options o;
    o.options = Bytes{std::byte{0x94}, std::byte{0x04}, std::byte{0}, std::byte{0}};  // Router Alert
    add("Ipv4WithOptionsUdp",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(17, kJailIp, kGatewayIp, udp(5000, 5001, filler(8)), o)),
        ports(v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 5000, 5001), 14 + 24 + 4);
  }
  {
    Ipv4Options o;
    o.more_fragments = true;
    add("Ipv4FirstFragmentUdp",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(17, kJailIp, kGatewayIp, udp(5000, 5001, filler(64)), o)),
        ports(v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 5000, 5001), 14 + 20 + 4);
  }
  {
    // The bytes where a UDP header would be are the middle of the datagram's payload.
    Ipv4Options o;
    o.fragment_offset = 185;
    add("Ipv4LaterFragmentUdp",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4, ipv4(17, kJailIp, kGatewayIp, filler(100), o)),
        v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 14 + 20);
  }
  {
    FrameInfo f = l2(kBroadcastMac, kJailMac, kEtherTypeArp);
    f.protocol = Protocol::Arp;
    f.broadcast = true;
    std::copy(kJailIp.begin(), kJailIp.end(), f.src_ip.begin());
    std::copy(kGatewayIp.begin(), kGatewayIp.end(), f.dst_ip.begin());
    add("ArpRequest",
        padTo60(ethernet(kBroadcastMac, kJailMac, kEtherTypeArp,
                         arpRequest(kJailMac, kJailIp, kGatewayIp))),
        f, 14 + 28);
  }
  add("Ipv6Tcp",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
               ipv6(6, kJailIp6, kGatewayIp6, tcp(40002, 443, kTcpSyn | kTcpAck, synOptions()))),
      ports(v6(ip6_up, Protocol::Tcp, kJailIp6, kGatewayIp6), 40002, 443, kTcpSyn | kTcpAck),
      14 + 40 + 14);
  add("Ipv6UdpHopByHopDestinationOptions",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
               ipv6(0, kJailIp6, kGatewayIp6,
                    extHeader(60, 0, extHeader(17, 1, udp(5353, 5354, filler(20)))))),
      ports(v6(ip6_up, Protocol::Udp, kJailIp6, kGatewayIp6), 5353, 5354),
      14 + 40 + 8 + 16 + 4);
  add("Ipv6FirstFragmentUdp",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
               ipv6(44, kJailIp6, kGatewayIp6, fragmentHeader(17, 0, true, udp(7000, 7001, filler(64))))),
      ports(v6(ip6_up, Protocol::Udp, kJailIp6, kGatewayIp6), 7000, 7001), 14 + 40 + 8 + 4);
  add("Ipv6LaterFragmentUdp",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
               ipv6(44, kJailIp6, kGatewayIp6, fragmentHeader(17, 181, false, filler(64)))),
      v6(ip6_up, Protocol::Udp, kJailIp6, kGatewayIp6), 14 + 40 + 4);
  add("Ipv6RoutingAuthenticationTcp",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
               ipv6(43, kJailIp6, kGatewayIp6,
                    extHeader(51, 2, authHeader(6, 4, tcp(40003, 22, kTcpAck, {}, filler(10)))))),
      ports(v6(ip6_up, Protocol::Tcp, kJailIp6, kGatewayIp6), 40003, 22, kTcpAck),
      14 + 40 + 24 + 24 + 14);
  {
    FrameInfo f = v6(ip6_up, Protocol::Icmp6, kJailIp6, kGatewayIp6);
    f.icmp_type = 128;
    add("Icmpv6Echo",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
                 ipv6(58, kJailIp6, kGatewayIp6, icmp(128, 0, filler(16)))),
        f, 14 + 40 + 1);
  }
  {
    FrameInfo f = v6(l2(kSolicitedNodeMac, kJailMac, kEtherTypeIpv6), Protocol::Icmp6, kJailIp6,
                     kSolicitedNodeIp6);
    f.icmp_type = 135;
    f.multicast = true;
    add("Icmpv6NeighborSolicitationMulticast",
        ethernet(kSolicitedNodeMac, kJailMac, kEtherTypeIpv6,
                 ipv6(58, kJailIp6, kSolicitedNodeIp6, icmp(135, 0, filler(20)))),
        f, 14 + 40 + 1);
  }
  {
    FrameInfo f = ports(v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 4789, 4790);
    f.vlan_tags = 1;
    f.vlan_outer = 100;
    add("VlanIpv4Udp",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(17, kJailIp, kGatewayIp, udp(4789, 4790, filler(12))),
                 {{kEtherTypeVlan, 100}}),
        f, 18 + 20 + 4);
  }
  {
    FrameInfo f = ports(v4(ip4_up, Protocol::Udp, kJailIp, kGatewayIp), 4789, 4790);
    f.vlan_tags = 2;
    f.vlan_outer = 200;
    f.vlan_inner = 100;
    add("QinQIpv4Udp",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(17, kJailIp, kGatewayIp, udp(4789, 4790, filler(12))),
                 {{kEtherTypeQinQ, 200}, {kEtherTypeVlan, 100}}),
        f, 22 + 20 + 4);
  }
  {
    // Decoding stops at the third tag, reporting its TPID as the type; not an error.
    FrameInfo f = l2(kGatewayMac, kJailMac, kEtherTypeVlan);
    f.vlan_tags = 2;
    f.vlan_outer = 300;
    f.vlan_inner = 200;
    add("ThreeTagsStopAtTheThird",
        ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                 ipv4(17, kJailIp, kGatewayIp, udp(1, 2, {})),
                 {{kEtherTypeQinQ, 300}, {kEtherTypeVlan, 200}, {kEtherTypeVlan, 100}}),
        f, 22);
  }
  {
    const Ip4 any{0, 0, 0, 0}, all{255, 255, 255, 255};
    FrameInfo f = ports(v4(l2(kBroadcastMac, kJailMac, kEtherTypeIpv4), Protocol::Udp, any, all), 68, 67);
    f.broadcast = true;
    add("BroadcastDhcpDiscover",
        ethernet(kBroadcastMac, kJailMac, kEtherTypeIpv4, ipv4(17, any, all, udp(68, 67, filler(240)))),
        f, 14 + 20 + 4);
  }
  {
    const Ip4 mdns{224, 0, 0, 251};
    FrameInfo f = ports(v4(l2(kMdnsMac, kJailMac, kEtherTypeIpv4), Protocol::Udp, kJailIp, mdns), 5353, 5353);
    f.multicast = true;
    add("MulticastMdns",
        ethernet(kMdnsMac, kJailMac, kEtherTypeIpv4, ipv4(17, kJailIp, mdns, udp(5353, 5353, filler(30)))),
        f, 14 + 20 + 4);
  }
  add("Ipv6EspStops",
      ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6, ipv6(50, kJailIp6, kGatewayIp6, filler(48))),
      v6(ip6_up, Protocol::Other, kJailIp6, kGatewayIp6), 14 + 40);
  {
    // The bridge's own spanning tree: an 802.3 length, not a type.
    FrameInfo f = l2(kStpMac, kGatewayMac, 38);
    f.multicast = true;
    Bytes llc{std::byte{0x42}, std::byte{0x42}, std::byte{0x03}};
    append(llc, zeros(35));
    add("Ieee8023StpBpdu", padTo60(ethernet(kStpMac, kGatewayMac, 38, llc)), f, 14);
  }
  return cases;
}

class WellFormed : public testing::TestWithParam<Case> {};

TEST_P(WellFormed, DecodesEveryField) {
  const Case& c = GetParam();
  EXPECT_EQ(decodeFrame(view(c.frame), len(c.frame)), c.expected);
}

// Every cut a snaplen can make: never malformed, truncated exactly while a byte the full
// decode reads is missing, and never a field the full decode does not have.
TEST_P(WellFormed, EveryTruncationIsAPrefixOfTheFullDecode) {
  const Case& c = GetParam();
  const FrameInfo full = decodeFrame(view(c.frame), len(c.frame));
  ASSERT_LE(c.needed, c.frame.size());
  for (size_t k = 0; k <= c.frame.size(); ++k) {
    FrameInfo part = decodeFrame(view(c.frame).first(k), len(c.frame));
    EXPECT_FALSE(part.malformed) << "k=" << k;
    if (k < c.needed) {
      EXPECT_TRUE(part.truncated) << "k=" << k;
      expectPrefixOf(part, full, k);
    } else {
      EXPECT_EQ(part, full) << "k=" << k;
    }
  }
}

// The same frame as the tap of a 1500-byte-MTU link delivers it with snaplen 128: the
// datagram is longer than what was kept, which is not a problem as long as the headers
// were kept.
TEST_P(WellFormed, LongerOnTheWireThanCapturedIsNotAnError) {
  const Case& c = GetParam();
  const uint16_t type = c.expected.ethertype;
  // Grow the frame on the wire by 1000 bytes: for IP, as 1000 more bytes of payload (the
  // IPv4 total length or IPv6 payload length says so); otherwise as trailing bytes the
  // decoder does not look at. Then keep only the first 128 bytes.
  Bytes frame = c.frame;
  auto wire = static_cast<uint32_t>(frame.size() + 1000);
  if (type == kEtherTypeIpv4 || type == kEtherTypeIpv6) {
    size_t l3 = 14 + 4 * size_t{c.expected.vlan_tags};
    size_t field = l3 + (type == kEtherTypeIpv4 ? 2 : 4);
    unsigned length = (unsigned{std::to_integer<uint8_t>(frame[field])} << 8 |
                       std::to_integer<uint8_t>(frame[field + 1])) + 1000;
    frame[field] = std::byte(length >> 8);
    frame[field + 1] = std::byte(length & 0xff);
    wire = static_cast<uint32_t>(l3 + length + (type == kEtherTypeIpv6 ? 40 : 0));
  }
  size_t kept = std::min<size_t>(128, frame.size());
  EXPECT_EQ(decodeFrame(view(frame).first(kept), wire), c.expected);
}

INSTANTIATE_TEST_SUITE_P(PacketDecode, WellFormed, testing::ValuesIn(wellFormedCases()),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.name; });

// ---- Malformed frames -----------------------------------------------------------------

FrameInfo decode(const Bytes& frame) { return decodeFrame(view(frame), len(frame)); }

Bytes ipv4Frame(const Bytes& datagram) {
  return ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4, datagram);
}
Bytes ipv6Frame(const Bytes& datagram) {
  return ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6, datagram);
}

// Every prefix of a malformed frame is either the same verdict or a truncated prefix of it.
void expectPrefixesConsistent(const Bytes& frame) {
  const FrameInfo full = decode(frame);
  for (size_t k = 0; k <= frame.size(); ++k) {
    FrameInfo part = decodeFrame(view(frame).first(k), len(frame));
    EXPECT_FALSE(part.malformed && part.truncated);
    if (part.truncated) {
      expectPrefixOf(part, full, k);
    } else {
      EXPECT_EQ(part, full) << "k=" << k;
    }
  }
}

TEST(PacketDecodeMalformed, WireFrameShorterThanAnEthernetHeader) {
  Bytes runt = ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4, {});
  runt.resize(13);
  FrameInfo info = decode(runt);
  EXPECT_TRUE(info.malformed);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info, [] { FrameInfo f; f.malformed = true; return f; }());
  EXPECT_TRUE(decodeFrame({}, 0).malformed);
  EXPECT_TRUE(decodeFrame({}, 13).malformed);
  // Nothing captured of a real frame: truncated, not malformed.
  FrameInfo nothing = decodeFrame({}, 60);
  EXPECT_TRUE(nothing.truncated);
  EXPECT_FALSE(nothing.malformed);
}

TEST(PacketDecodeMalformed, Ipv4HeaderLengthBelowFive) {
  Ipv4Options o;
  o.ihl = 3;
  Bytes frame = ipv4Frame(ipv4(6, kJailIp, kGatewayIp, tcp(1, 2, kTcpSyn), o));
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.ethertype, kEtherTypeIpv4);
  EXPECT_EQ(info.src_mac, kJailMac);
  // The header is not trusted, so nothing from it is reported.
  EXPECT_EQ(info.family, Family::Other);
  EXPECT_EQ(info.protocol, Protocol::Other);
  EXPECT_EQ(info.src_port, 0);
  expectPrefixesConsistent(frame);
}

TEST(PacketDecodeMalformed, Ipv4TotalLengthShorterThanItsHeader) {
  Ipv4Options o;
  o.total_length = 16;
  Bytes frame = ipv4Frame(ipv4(17, kJailIp, kGatewayIp, udp(1, 2, {}), o));
  EXPECT_TRUE(decode(frame).malformed);
  Ipv4Options with_options;
  with_options.options = zeros(8);
  with_options.total_length = 24;  // IHL 7 = 28 bytes
  EXPECT_TRUE(decode(ipv4Frame(ipv4(17, kJailIp, kGatewayIp, udp(1, 2, {}), with_options))).malformed);
  expectPrefixesConsistent(frame);
}

TEST(PacketDecodeMalformed, Ipv4TotalLengthPastTheWireFrame) {
  Ipv4Options o;
  o.total_length = 1500;
  Bytes frame = padTo60(ipv4Frame(ipv4(17, kJailIp, kGatewayIp, udp(1, 2, {}), o)));
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_FALSE(info.truncated);
  expectPrefixesConsistent(frame);
}

TEST(PacketDecodeMalformed, Ipv4WrongVersion) {
  Ipv4Options o;
  o.version = 6;
  EXPECT_TRUE(decode(ipv4Frame(ipv4(17, kJailIp, kGatewayIp, udp(1, 2, {}), o))).malformed);
}

TEST(PacketDecodeMalformed, TcpDataOffsetBelowFive) {
  Bytes frame = ipv4Frame(ipv4(6, kJailIp, kGatewayIp, tcp(40000, 80, kTcpSyn, {}, {}, 2)));
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_FALSE(info.truncated);
  // The IP layer was fine and says TCP; the TCP header is not trusted.
  EXPECT_EQ(info.family, Family::IPv4);
  EXPECT_EQ(info.protocol, Protocol::Tcp);
  EXPECT_EQ(info.src_port, 0);
  EXPECT_EQ(info.tcp_flags, 0);
  expectPrefixesConsistent(frame);
}

TEST(PacketDecodeMalformed, TcpHeaderPastTheDatagram) {
  // Data offset 15 (60 bytes) in a datagram holding 20 bytes of TCP, with Ethernet padding
  // that must not count as the rest of the header.
  Bytes frame = padTo60(ipv4Frame(ipv4(6, kJailIp, kGatewayIp, tcp(1, 2, kTcpAck, {}, {}, 15))));
  frame.resize(120, std::byte{0});
  EXPECT_TRUE(decode(frame).malformed);
  expectPrefixesConsistent(frame);
}

TEST(PacketDecodeMalformed, TinyFirstFragment) {
  // RFC 1858: a first fragment that cannot hold the L4 header (4 of UDP's 8 bytes).
  Ipv4Options o;
  o.more_fragments = true;
  Bytes frame = padTo60(ipv4Frame(ipv4(17, kJailIp, kGatewayIp, filler(4), o)));
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_EQ(info.protocol, Protocol::Udp);
  EXPECT_EQ(info.src_port, 0);
}

TEST(PacketDecodeMalformed, Ipv6ExtensionHeadersBeyondTheBound) {
  auto chain = [](int headers) {
    Bytes inner = udp(1, 2, {});
    for (int i = 0; i < headers; ++i) inner = extHeader(i == 0 ? 17 : 60, 0, inner);
    return ipv6Frame(ipv6(60, kJailIp6, kGatewayIp6, inner));
  };
  FrameInfo at_bound = decode(chain(kMaxIpv6ExtHeaders));
  EXPECT_FALSE(at_bound.malformed);
  EXPECT_EQ(at_bound.protocol, Protocol::Udp);
  EXPECT_EQ(at_bound.dst_port, 2);
  Bytes beyond = chain(kMaxIpv6ExtHeaders + 1);
  FrameInfo info = decode(beyond);
  EXPECT_TRUE(info.malformed);
  EXPECT_EQ(info.family, Family::IPv6);
  EXPECT_EQ(info.protocol, Protocol::Other);
  expectPrefixesConsistent(beyond);
}

TEST(PacketDecodeMalformed, Ipv6ExtensionHeaderLengthPastTheDatagram) {
  // Destination Options claiming 88 bytes in a 16-byte payload.
  Bytes frame = ipv6Frame(ipv6(60, kJailIp6, kGatewayIp6, extHeader(17, 0, udp(1, 2, {}))));
  frame[14 + 40 + 1] = std::byte{10};
  frame.resize(frame.size() + 100, std::byte{0});  // trailing bytes outside the datagram
  EXPECT_TRUE(decode(frame).malformed);
  expectPrefixesConsistent(frame);

  // The same header, long enough in the datagram but cut by the snaplen: truncated.
  Bytes long_opts = ipv6Frame(ipv6(60, kJailIp6, kGatewayIp6, extHeader(17, 20, udp(1, 2, {}))));
  FrameInfo cut = decodeFrame(view(long_opts).first(128), len(long_opts));
  EXPECT_TRUE(cut.truncated);
  EXPECT_FALSE(cut.malformed);
  EXPECT_EQ(cut.family, Family::IPv6);
}

TEST(PacketDecodeMalformed, Ipv6HopByHopNotFirst) {
  Bytes frame = ipv6Frame(ipv6(60, kJailIp6, kGatewayIp6, extHeader(0, 0, extHeader(17, 0, udp(1, 2, {})))));
  EXPECT_TRUE(decode(frame).malformed);
}

TEST(PacketDecodeMalformed, Ipv6PayloadPastTheWireFrame) {
  Bytes frame = ipv6Frame(ipv6(17, kJailIp6, kGatewayIp6, udp(1, 2, {}), 1000));
  EXPECT_TRUE(decode(frame).malformed);
  // Version 4 inside an IPv6 ethertype.
  EXPECT_TRUE(decode(ipv6Frame(ipv6(17, kJailIp6, kGatewayIp6, udp(1, 2, {}), -1, 4))).malformed);
}

TEST(PacketDecodeMalformed, VlanTagPastTheWireFrame) {
  Bytes frame = ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4, {}, {{kEtherTypeVlan, 5}});
  frame.resize(16);
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_EQ(info.vlan_tags, 0);
  EXPECT_EQ(info.ethertype, 0);
  // The same cut made by the capture of a longer frame is truncation.
  EXPECT_TRUE(decodeFrame(view(frame), 64).truncated);
}

TEST(PacketDecodeMalformed, ArpBodyPastTheWireFrame) {
  Bytes frame = ethernet(kBroadcastMac, kJailMac, kEtherTypeArp, arpRequest(kJailMac, kJailIp, kGatewayIp));
  frame.resize(14 + 20);
  FrameInfo info = decode(frame);
  EXPECT_TRUE(info.malformed);
  EXPECT_EQ(info.protocol, Protocol::Other);
  EXPECT_TRUE(info.broadcast);
}

// ---- Lengths the wire gives ------------------------------------------------------------

TEST(PacketDecodeLengths, WireLengthBelowCapturedIsTakenAsCaptured) {
  Bytes frame = ipv4Frame(ipv4(17, kJailIp, kGatewayIp, udp(1, 2, filler(10))));
  EXPECT_EQ(decodeFrame(view(frame), 0), decode(frame));
}

TEST(PacketDecodeLengths, ZeroIpv4TotalLengthOfABigTcpSuperPacket) {
  // Linux BIG TCP hands the tap IPv4 packets over 64 KiB with total length 0.
  Ipv4Options o;
  o.total_length = 0;
  Bytes frame = ipv4Frame(ipv4(6, kJailIp, kGatewayIp, tcp(40000, 80, kTcpAck, {}, filler(80)), o));
  FrameInfo big = decodeFrame(view(frame).first(128), 14 + 20 + 20 + 100000);
  EXPECT_FALSE(big.malformed);
  EXPECT_FALSE(big.truncated);
  EXPECT_EQ(big.dst_port, 80);
  // A zero total length in a frame that 16 bits could have described is just wrong.
  EXPECT_TRUE(decode(frame).malformed);
}

TEST(PacketDecodeLengths, ZeroIpv6PayloadLengthOfAJumbogram) {
  Bytes frame = ipv6Frame(ipv6(17, kJailIp6, kGatewayIp6, udp(1, 2, filler(80)), 0));
  FrameInfo big = decodeFrame(view(frame).first(128), 14 + 40 + 70000);
  EXPECT_FALSE(big.malformed);
  EXPECT_EQ(big.dst_port, 2);
  // Payload length 0 in a small frame: the datagram is empty, and no UDP header fits.
  EXPECT_TRUE(decode(frame).malformed);
}

TEST(PacketDecodeLengths, NoNextHeaderEndsTheChain) {
  FrameInfo info = decode(ipv6Frame(ipv6(59, kJailIp6, kGatewayIp6, {})));
  EXPECT_FALSE(info.malformed);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.family, Family::IPv6);
  EXPECT_EQ(info.protocol, Protocol::Other);
}

// ---- Cost --------------------------------------------------------------------------------

// Not a benchmark with a threshold (build types and machines differ): prints the cost of
// the common case, a TCP segment of a bulk transfer captured with snaplen 128.
TEST(PacketDecodeCost, PrintsNanosecondsPerTypicalTcpFrame) {
  Bytes frame = ipv4Frame(ipv4(6, kJailIp, kGatewayIp, tcp(40000, 443, kTcpAck | kTcpPsh, {}, filler(1448))));
  const uint32_t wire = len(frame);
  frame.resize(128);
  // Read through a volatile so the compiler cannot hoist the decode out of the loop.
  const std::byte* volatile data = frame.data();
  using Clock = std::chrono::steady_clock;
  uint64_t sink = 0, frames = 0;
  auto start = Clock::now();
  auto elapsed = Clock::duration{};
  while (elapsed < std::chrono::milliseconds(300)) {
    for (int i = 0; i < 100000; ++i) {
      FrameInfo info = decodeFrame({data, 128}, wire);
      sink += info.dst_port + info.tcp_flags;
    }
    frames += 100000;
    elapsed = Clock::now() - start;
  }
  double ns = std::chrono::duration<double, std::nano>(elapsed).count() / double(frames);
  std::printf("decodeFrame: %.1f ns/frame (IPv4 TCP, 128 of %u bytes captured, %llu frames)\n", ns,
              wire, static_cast<unsigned long long>(frames));
  EXPECT_EQ(sink, frames * (443 + (kTcpAck | kTcpPsh)));
}

// ------------------------------------------------------------------- RepeatDecoder

// What a RepeatDecoder answers for `next` right after seeing `first` must be decodeFrame's
// answer for `next`, whatever the two frames are.
void expectRepeatAgrees(const Bytes& first, const Bytes& next, uint32_t wire_first, uint32_t wire_next,
                        const std::string& what) {
  RepeatDecoder r;
  EXPECT_EQ(r.decode(first, wire_first), decodeFrame(first, wire_first)) << what;
  EXPECT_EQ(r.decode(next, wire_next), decodeFrame(next, wire_next)) << what;
}

Ipv4Options firstFragment() {
  Ipv4Options o;
  o.more_fragments = true;
  return o;
}

std::vector<std::pair<std::string, Bytes>> repeatBases() {
  Bytes payload = filler(18);
  return {
      {"udp", padTo60(ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4, ipv4(17, kJailIp, kGatewayIp,
                                                                            udp(40000, 53, payload))))},
      {"tcp", ethernet(kJailMac, kGatewayMac, kEtherTypeIpv4,
                       ipv4(6, kGatewayIp, kJailIp, tcp(443, 40000, kTcpAck | kTcpPsh, {}, filler(40))))},
      {"tcp-options", ethernet(kJailMac, kGatewayMac, kEtherTypeIpv4,
                               ipv4(6, kGatewayIp, kJailIp, tcp(443, 40000, kTcpSyn, synOptions())))},
      {"tcp-first-fragment",
       ethernet(kJailMac, kGatewayMac, kEtherTypeIpv4,
                ipv4(6, kGatewayIp, kJailIp, tcp(443, 40000, kTcpAck, {}, filler(40)), firstFragment()))},
      {"icmp", padTo60(ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                                ipv4(1, kJailIp, kGatewayIp, icmp(8, 0, filler(30)))))},
      {"vlan-udp", padTo60(ethernet(kGatewayMac, kJailMac, kEtherTypeIpv4,
                                    ipv4(17, kJailIp, kGatewayIp, udp(40000, 53, payload)),
                                    {{kEtherTypeVlan, 10}}))},
      {"udp6", ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
                        ipv6(17, kJailIp6, kGatewayIp6, udp(40000, 53, payload)))},
      {"tcp6", ethernet(kJailMac, kGatewayMac, kEtherTypeIpv6,
                        ipv6(6, kGatewayIp6, kJailIp6, tcp(443, 40000, kTcpAck | kTcpPsh, {}, filler(40))))},
      {"tcp6-no-payload", ethernet(kJailMac, kGatewayMac, kEtherTypeIpv6,
                                   ipv6(6, kGatewayIp6, kJailIp6, tcp(443, 40000, kTcpAck)))},
      {"udp6-hop-by-hop", ethernet(kGatewayMac, kJailMac, kEtherTypeIpv6,
                                   ipv6(0, kJailIp6, kGatewayIp6,
                                        extHeader(17, 0, udp(40000, 53, payload))))},
  };
}

// Every single byte of the first 96 changed, each to several values: wherever the bit was
// one the decoder reads, the result changes with it; where not, it is the same frame again.
TEST(RepeatDecoder, EverySingleByteChangeAgreesWithTheFullDecode) {
  for (const auto& [name, base] : repeatBases()) {
    auto wire = static_cast<uint32_t>(base.size());
    for (size_t i = 0; i < std::min<size_t>(base.size(), 96); ++i)
      for (uint8_t x : {0x01, 0x02, 0x10, 0x80, 0xff}) {
        Bytes changed = base;
        changed[i] ^= std::byte{x};
        expectRepeatAgrees(base, changed, wire, wire, name + " byte " + std::to_string(i) + " ^ " + std::to_string(x));
      }
  }
}

TEST(RepeatDecoder, OtherLengthsAgreeWithTheFullDecode) {
  for (const auto& [name, base] : repeatBases()) {
    auto wire = static_cast<uint32_t>(base.size());
    for (size_t cut : {size_t{14}, size_t{40}, size_t{47}, size_t{48}, size_t{57}, size_t{63}, size_t{64},
                       size_t{67}, size_t{71}, size_t{72}, base.size() - 1}) {
      if (cut >= base.size()) continue;
      Bytes shorter(base.begin(), base.begin() + static_cast<long>(cut));
      expectRepeatAgrees(base, shorter, wire, wire, name + " then cut at " + std::to_string(cut));
      expectRepeatAgrees(base, shorter, wire, static_cast<uint32_t>(cut), name + " then a shorter frame");
      expectRepeatAgrees(shorter, base, wire, wire, name + " cut, then whole");
    }
    expectRepeatAgrees(base, base, wire, wire + 100, name + " then longer on the wire");
    expectRepeatAgrees(base, base, wire + 100, wire, name + " longer on the wire, then not");
    expectRepeatAgrees(base, base, wire, 0, name + " then a wire length below the captured one");
  }
}

// The point of it: a stream of one flow's frames, differing only in what the decoder does
// not read (IPv4 id and checksum, TCP sequence numbers, payload), decodes once.
TEST(RepeatDecoder, AStreamOfOneFlowGivesTheSameResult) {
  RepeatDecoder r;
  Bytes frame = repeatBases()[1].second;
  auto wire = static_cast<uint32_t>(frame.size());
  r.decode(frame, wire);
  FrameInfo expected = decodeFrame(frame, wire);
  for (unsigned n = 1; n < 100; ++n) {
    frame[14 + 4] = std::byte(n);       // IPv4 id
    frame[14 + 10] = std::byte(n * 7);  // checksum
    frame[34 + 4] = std::byte(n * 3);   // TCP sequence number
    frame[60] = std::byte(n);           // payload
    EXPECT_EQ(r.decode(frame, wire), expected);
  }
  EXPECT_EQ(r.reused(), 99u);
  frame[34 + 13] = std::byte{kTcpFin | kTcpAck};  // flags are read: a new result
  EXPECT_EQ(r.decode(frame, wire).tcp_flags, kTcpFin | kTcpAck);
  EXPECT_EQ(r.reused(), 99u);
  // The same for a UDP stream (payload and IPv4 id change).
  RepeatDecoder u;
  Bytes datagram = repeatBases()[0].second;
  for (unsigned n = 0; n < 10; ++n) {
    datagram[14 + 5] = std::byte(n);
    datagram[50] = std::byte(n);
    u.decode(datagram, static_cast<uint32_t>(datagram.size()));
  }
  EXPECT_EQ(u.reused(), 9u);
}

TEST(RepeatDecoder, AStreamOfOneIpv6FlowGivesTheSameResult) {
  for (size_t base : {size_t{6}, size_t{7}}) {  // udp6, tcp6
    RepeatDecoder r;
    Bytes frame = repeatBases()[base].second;
    auto wire = static_cast<uint32_t>(frame.size());
    FrameInfo expected = decodeFrame(frame, wire);
    r.decode(frame, wire);
    for (unsigned n = 1; n < 50; ++n) {
      frame[14 + 2] = std::byte(n);       // flow label
      frame[14 + 7] = std::byte(64 - n);  // hop limit
      frame[54 + 6] = std::byte(n * 3);   // UDP checksum, TCP sequence number
      frame.back() = std::byte(n);        // payload
      EXPECT_EQ(r.decode(frame, wire), expected);
    }
    EXPECT_EQ(r.reused(), 49u) << repeatBases()[base].first;
  }
  // Behind an extension header the transport header moves: such frames decode every time.
  RepeatDecoder h;
  Bytes frame = repeatBases()[9].second;
  ASSERT_EQ(repeatBases()[9].first, "udp6-hop-by-hop");
  auto wire = static_cast<uint32_t>(frame.size());
  for (int n = 0; n < 3; ++n) EXPECT_EQ(h.decode(frame, wire), decodeFrame(frame, wire));
  EXPECT_EQ(h.reused(), 0u);
}

}  // namespace
}  // namespace vnetd::collectors
