// Byte fixtures written from the RFC 4861 layouts (section 4.1, 4.2, 4.6.1, 4.6.2, 4.6.4),
// not from the encoder.
#include "core/ndp.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace vnetd::ndp {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}
Cidr cidr(const char* text) { return Cidr::parse(text).value(); }
IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
MacAddress mac(const char* text) { return MacAddress::parse(text).value(); }
const IpAddress kLinkLocal = ip("fe80::1");
const IpAddress kUnspecified = ip("::");

TEST(RouterAdvertisement, EncodesHeaderAndOptionsPerRfc4861) {
  RouterAdvertisement ra;
  ra.cur_hop_limit = 64;
  ra.router_lifetime_seconds = 1800;
  ra.source_link_layer = mac("02:00:c6:12:b4:01");
  ra.mtu = 1500;
  // Host bits of the bridge's own address are not sent: only the prefix.
  ra.prefixes.push_back({cidr("2001:db8:180::1/64"), true, true, 2592000, 604800});
  EXPECT_EQ(encodeRouterAdvertisement(ra),
            bytes({// 4.2: type 134, code 0, checksum 0 (the kernel's), cur hop limit 64, M=O=0,
                   // router lifetime 1800 (0x0708), reachable time 0, retrans timer 0
                   134, 0, 0, 0, 64, 0x00, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
                   // 4.6.1: type 1, length 1 (8 bytes), the MAC
                   1, 1, 0x02, 0x00, 0xc6, 0x12, 0xb4, 0x01,
                   // 4.6.4: type 5, length 1, reserved, MTU 1500 (0x05dc)
                   5, 1, 0, 0, 0, 0, 0x05, 0xdc,
                   // 4.6.2: type 3, length 4 (32 bytes), prefix length 64, L|A (0xc0),
                   // valid 2592000 (0x00278d00), preferred 604800 (0x00093a80), reserved2
                   3, 4, 64, 0xc0, 0x00, 0x27, 0x8d, 0x00, 0x00, 0x09, 0x3a, 0x80, 0, 0, 0, 0,
                   // prefix 2001:db8:180::
                   0x20, 0x01, 0x0d, 0xb8, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(RouterAdvertisement, FlagsAndLifetimesGoWhereTheRfcPutsThem) {
  RouterAdvertisement ra;
  ra.cur_hop_limit = 0;
  ra.managed = true;
  ra.other = true;
  ra.router_lifetime_seconds = 0;  // not a default router
  ra.reachable_ms = 0x01020304;
  ra.retrans_ms = 0x05060708;
  ra.prefixes.push_back({cidr("2001:db8:181:7::/64"), false, true, 0x11223344, 0x55667788});
  ra.prefixes.push_back({cidr("2001:db8:182::/64"), true, false, 1, 0});
  auto out = encodeRouterAdvertisement(ra);
  ASSERT_EQ(out.size(), 16u + 32u + 32u);  // no link-layer, no MTU option
  EXPECT_EQ(std::vector<std::byte>(out.begin(), out.begin() + 16),
            bytes({134, 0, 0, 0, 0, 0xc0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(std::vector<std::byte>(out.begin() + 16, out.begin() + 32),
            bytes({3, 4, 64, 0x40, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0}));
  EXPECT_EQ(out[48 + 3], std::byte{0x80});  // second prefix: L only
  EXPECT_EQ(std::vector<std::byte>(out.begin() + 48 + 16, out.end()),
            bytes({0x20, 0x01, 0x0d, 0xb8, 0x01, 0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(RouterSolicitation, AcceptsTheKernelsSolicitation) {
  // What Linux sends (net/ipv6/ndisc.c ndisc_send_rs): type 133, reserved, SLLA option.
  auto rs = decodeRouterSolicitation(bytes({133, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 1, 0x02, 0, 0xc6, 0x12, 0xb4, 0x0a}),
                                     kLinkLocal, 255);
  ASSERT_TRUE(rs) << rs.error().message();
  EXPECT_EQ(rs->source_link_layer, mac("02:00:c6:12:b4:0a"));
  // Without options (from the unspecified address, before the link-local is ready).
  auto bare = decodeRouterSolicitation(bytes({133, 0, 0, 0, 9, 9, 9, 9}), kUnspecified, 255);
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->source_link_layer.has_value());
  // Unknown options are skipped; a non-Ethernet link-layer option is not a MAC.
  auto other = decodeRouterSolicitation(
      bytes({133, 0, 0, 0, 0, 0, 0, 0, 99, 1, 1, 2, 3, 4, 5, 6, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}),
      kLinkLocal, 255);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->source_link_layer.has_value());
}

TEST(RouterSolicitation, RefusesWhatRfc4861Section611Refuses) {
  auto refuse = [](std::vector<std::byte> b, const IpAddress& src, int hops, const char* why) {
    auto r = decodeRouterSolicitation(b, src, hops);
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  refuse(bytes({133, 0, 0, 0, 0, 0, 0, 0}), kLinkLocal, 64, "hop limit 64");
  refuse(bytes({133, 0, 0, 0, 0, 0, 0}), kLinkLocal, 255, "7 bytes");
  refuse(bytes({134, 0, 0, 0, 0, 0, 0, 0}), kLinkLocal, 255, "type 134");
  refuse(bytes({133, 1, 0, 0, 0, 0, 0, 0}), kLinkLocal, 255, "code 1");
  refuse(bytes({133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}), kLinkLocal, 255, "length 0");
  refuse(bytes({133, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0}), kLinkLocal, 255, "runs past");
  refuse(bytes({133, 0, 0, 0, 0, 0, 0, 0, 1}), kLinkLocal, 255, "cut short");
  refuse(bytes({133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1}), kUnspecified, 255, "unspecified");
}

TEST(RouterSolicitation, EncodesHeaderAndSourceLinkLayerOptionPerRfc4861) {
  RouterSolicitation rs;
  rs.source_link_layer = mac("02:00:c6:12:bc:01");
  EXPECT_EQ(encodeRouterSolicitation(rs),
            bytes({// 4.1: type 133, code 0, checksum 0 (the kernel's), 4 reserved bytes 0
                   133, 0, 0, 0, 0, 0, 0, 0,
                   // 4.6.1: type 1 (source link-layer address), length 1 (8 bytes), the MAC
                   1, 1, 0x02, 0x00, 0xc6, 0x12, 0xbc, 0x01}));
}

TEST(RouterSolicitation, WithoutALinkLayerAddressHasNoOption) {
  // From the unspecified address (RFC 4861 4.1: the option MUST NOT be included).
  EXPECT_EQ(encodeRouterSolicitation(RouterSolicitation{}), bytes({133, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(RouterSolicitation, RoundTripsThroughTheRoutersDecoder) {
  RouterSolicitation with;
  with.source_link_layer = mac("02:00:c6:12:bc:02");
  auto back = decodeRouterSolicitation(encodeRouterSolicitation(with), kLinkLocal, kHopLimit);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->source_link_layer, with.source_link_layer);
  auto bare = decodeRouterSolicitation(encodeRouterSolicitation(RouterSolicitation{}), kUnspecified, kHopLimit);
  ASSERT_TRUE(bare) << bare.error().message();
  EXPECT_FALSE(bare->source_link_layer.has_value());
  // The pairing the caller must respect: the option never goes out from ::.
  EXPECT_FALSE(decodeRouterSolicitation(encodeRouterSolicitation(with), kUnspecified, kHopLimit));
}

TEST(Eui64, InvertsTheUniversalLocalBitAndInsertsFffe) {
  // RFC 4291 appendix A: 34-56-78-9A-BC-DE -> 3656:78ff:fe9a:bcde.
  auto id = eui64InterfaceId(mac("34:56:78:9a:bc:de"));
  EXPECT_EQ(id, (std::array<uint8_t, 8>{0x36, 0x56, 0x78, 0xff, 0xfe, 0x9a, 0xbc, 0xde}));
  // vnetd's MACs are locally administered (bit set): the identifier has it cleared.
  EXPECT_EQ(eui64Address(cidr("2001:db8:180::1/64"), mac("02:00:c6:12:b4:0a")), ip("2001:db8:180::c6ff:fe12:b40a"));
  EXPECT_TRUE(hasEui64InterfaceId(ip("fe80::c6ff:fe12:b40a"), mac("02:00:c6:12:b4:0a")));
  EXPECT_FALSE(hasEui64InterfaceId(ip("fe80::c6ff:fe12:b40b"), mac("02:00:c6:12:b4:0a")));
  EXPECT_FALSE(hasEui64InterfaceId(ip("198.18.180.1"), mac("02:00:c6:12:b4:0a")));
}

TEST(Eui64, LinkLocalIsFe80Slash10) {
  EXPECT_TRUE(isLinkLocal(ip("fe80::1")));
  EXPECT_TRUE(isLinkLocal(ip("febf::1")));
  EXPECT_FALSE(isLinkLocal(ip("fec0::1")));
  EXPECT_FALSE(isLinkLocal(ip("2001:db8:180::1")));
  EXPECT_FALSE(isLinkLocal(ip("198.18.180.1")));
}

}  // namespace
}  // namespace vnetd::ndp
