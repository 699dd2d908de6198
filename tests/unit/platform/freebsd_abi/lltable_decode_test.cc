// Neighbour-cache dump decoding against byte images laid out field by field per the
// FreeBSD amd64 ABI, as sys/netinet/in.c in_lltable_dump_entry and sys/netinet6/in6.c
// in6_lltable_dump_entry write them (offsets pinned to the real headers in abi_checks.cc):
//   struct rt_msghdr        152 bytes: msglen u16 @0, version u8 @2, type u8 @3,
//                           index u16 @4, flags int @8, addrs int @12, rtm_rmx @56
//   IPv4: sockaddr_in  @152 (16 bytes, sin_addr @4),  sockaddr_dl @168, msglen 224
//   IPv6: sockaddr_in6 @152 (28 bytes, sin6_addr @8), pad u32, sockaddr_dl @184, msglen 240
//   sockaddr_dl: 54 bytes: len @0, family @1, index u16 @2, type @4, nlen @5, alen @6,
//                          slen @7, sdl_data @8 (name, then the link-layer address)
#include "platform/freebsd/lltable_decode.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
void put(Bytes& b, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), b.size());
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

constexpr int kRtfUp = 0x1, kRtfHost = 0x4, kRtfLldata = 0x400, kRtfStatic = 0x800;
constexpr uint8_t kIftEther = 6;

struct Entry {
  uint16_t index = 3;
  std::array<uint8_t, 6> mac{0x02, 0x56, 0x4e, 0x00, 0x00, 0x07};
  bool valid = true;   // LLE_VALID: the kernel copies the MAC and sets sdl_alen
  int extra_flags = 0;  // RTF_STATIC, RTF_PINNED
};

// The sockaddr_dl the dump functions build: sdl_len = sizeof, index and type of the
// interface, no name, alen 6 + the MAC when valid, alen 0 and zeroes otherwise.
void putSdl(Bytes& b, size_t at, const Entry& e) {
  put<uint8_t>(b, at + 0, 54);
  put<uint8_t>(b, at + 1, 18);  // AF_LINK
  put<uint16_t>(b, at + 2, e.index);
  put<uint8_t>(b, at + 4, kIftEther);
  put<uint8_t>(b, at + 5, 0);  // sdl_nlen
  put<uint8_t>(b, at + 6, e.valid ? 6 : 0);
  if (e.valid) std::memcpy(b.data() + at + 8, e.mac.data(), 6);
}

void putHeader(Bytes& b, const Entry& e) {
  put<uint16_t>(b, 0, static_cast<uint16_t>(b.size()));
  put<uint8_t>(b, 2, 5);  // RTM_VERSION
  put<uint8_t>(b, 3, 4);  // RTM_GET
  put<uint16_t>(b, 4, e.index);
  put<int32_t>(b, 8, kRtfUp | kRtfHost | kRtfLldata | e.extra_flags);
  put<int32_t>(b, 12, 0x1 | 0x2);   // RTA_DST | RTA_GATEWAY
  put<uint64_t>(b, 56 + 24, 1234);  // rmx_expire: not ours to interpret
}

Bytes v4(std::array<uint8_t, 4> addr, const Entry& e = {}) {
  Bytes b(224);
  putHeader(b, e);
  put<uint8_t>(b, 152, 16);
  put<uint8_t>(b, 153, 2);  // AF_INET
  std::memcpy(b.data() + 152 + 4, addr.data(), 4);
  putSdl(b, 168, e);
  return b;
}

Bytes v6(std::array<uint8_t, 16> addr, const Entry& e = {}) {
  Bytes b(240);
  putHeader(b, e);
  put<uint8_t>(b, 152, 28);
  put<uint8_t>(b, 153, 28);  // AF_INET6
  std::memcpy(b.data() + 152 + 8, addr.data(), 16);
  put<uint32_t>(b, 152 + 28, 0);  // the LP64 pad of in6_lltable_dump_entry
  putSdl(b, 184, e);
  put<uint64_t>(b, 56 + 80, 4);  // rmx_state = ND6_LLINFO_STALE: not ours to interpret
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

constexpr std::array<uint8_t, 16> kV6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                      0,    0,    0,    0,    0, 0, 0, 0x2a};

TEST(LltableDecode, EmptyDumpIsAnEmptyTable) {
  auto r = decodeLltableDump({});
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_TRUE(r->empty());
}

TEST(LltableDecode, ResolvedIpv4Entry) {
  Entry e;
  e.index = 7;
  e.mac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  auto r = decodeLltableDump(v4({198, 18, 0, 5}, e));
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->size(), 1u);
  const LltableEntry& got = r->front();
  EXPECT_EQ(got.link_index, 7u);
  EXPECT_EQ(got.address.toString(), "198.18.0.5");
  ASSERT_TRUE(got.mac);
  EXPECT_EQ(got.mac->toString(), "02:aa:bb:cc:dd:ee");
  EXPECT_TRUE(got.resolved);
  EXPECT_FALSE(got.own_address);
}

TEST(LltableDecode, ResolvedIpv6EntryBehindTheLp64Pad) {
  Entry e;
  e.index = 9;
  auto r = decodeLltableDump(v6(kV6, e));
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().link_index, 9u);
  EXPECT_EQ(r->front().address.toString(), "2001:db8::2a");
  ASSERT_TRUE(r->front().mac);
  EXPECT_EQ(r->front().mac->toString(), "02:56:4e:00:00:07");
  EXPECT_TRUE(r->front().resolved);
}

TEST(LltableDecode, IncompleteEntryIsDecodedButNotResolved) {
  Entry e;
  e.valid = false;
  auto r = decodeLltableDump(v4({198, 18, 0, 9}, e));
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE(r->front().resolved);
  EXPECT_FALSE(r->front().mac);
}

TEST(LltableDecode, PinnedEntryIsTheInterfacesOwnAddress) {
  Entry e;
  e.extra_flags = kRtfStatic | kRtfPinned;
  auto r = decodeLltableDump(v4({198, 18, 0, 1}, e));
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->front().own_address);
}

TEST(LltableDecode, MacFollowsTheNameInSdlData) {
  // LLADDR(sdl) = sdl_data + sdl_nlen: a sockaddr_dl with a name still yields the MAC.
  Bytes b = v4({198, 18, 0, 5});
  const size_t sdl = 168;
  put<uint8_t>(b, sdl + 5, 3);  // sdl_nlen
  std::memcpy(b.data() + sdl + 8, "br0", 3);
  const uint8_t mac[6] = {0x02, 0x01, 0x02, 0x03, 0x04, 0x05};
  std::memcpy(b.data() + sdl + 8 + 3, mac, 6);
  auto r = decodeLltableDump(b);
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_TRUE(r->front().mac);
  EXPECT_EQ(r->front().mac->toString(), "02:01:02:03:04:05");
}

TEST(LltableDecode, NonEthernetAddressIsResolvedWithoutMac) {
  Bytes b = v4({198, 18, 0, 5});
  put<uint8_t>(b, 168 + 6, 20);  // sdl_alen of an InfiniBand address
  auto r = decodeLltableDump(b);
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_TRUE(r->front().resolved);
  EXPECT_FALSE(r->front().mac);
}

TEST(LltableDecode, ConcatenatedFamiliesAreAllDecoded) {
  Entry a, b, c;
  a.index = 3;
  b.index = 4;
  b.valid = false;
  c.index = 3;
  auto r = decodeLltableDump(cat({v4({198, 18, 0, 2}, a), v4({198, 18, 0, 3}, b), v6(kV6, c)}));
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].address.toString(), "198.18.0.2");
  EXPECT_EQ((*r)[1].address.toString(), "198.18.0.3");
  EXPECT_EQ((*r)[1].link_index, 4u);
  EXPECT_EQ((*r)[2].address.toString(), "2001:db8::2a");
}

TEST(LltableDecode, NeighboursInUseAreResolvedForeignEntriesOfTheLink) {
  Entry on3, incomplete3, own3, on4, static3;
  on3.index = 3;
  incomplete3.index = 3;
  incomplete3.valid = false;
  own3.index = 3;
  own3.extra_flags = kRtfStatic | kRtfPinned;
  on4.index = 4;
  static3.index = 3;
  static3.extra_flags = kRtfStatic;  // `arp -s`: set by hand, counts
  auto r = decodeLltableDump(cat({v4({198, 18, 0, 2}, on3), v4({198, 18, 0, 3}, incomplete3),
                                  v4({198, 18, 0, 1}, own3), v4({198, 18, 1, 2}, on4),
                                  v6(kV6, static3)}));
  ASSERT_TRUE(r) << r.error().context;

  auto on_link3 = neighboursInUse(*r, 3);
  ASSERT_EQ(on_link3.size(), 2u);
  EXPECT_EQ(on_link3[0].address.toString(), "198.18.0.2");
  EXPECT_EQ(on_link3[0].link_index, 3u);
  ASSERT_TRUE(on_link3[0].mac);
  EXPECT_EQ(on_link3[1].address.toString(), "2001:db8::2a");

  auto all = neighboursInUse(*r, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].address.toString(), "198.18.1.2");
  EXPECT_EQ(all[1].link_index, 4u);
}

// --- malformed dumps: each is an error naming where, never a partial table

void expectError(const Bytes& b, const std::string& fragment) {
  auto r = decodeLltableDump(b);
  ASSERT_FALSE(r) << "decoded " << r->size() << " entries";
  EXPECT_NE(r.error().context.find(fragment), std::string::npos) << r.error().context;
  EXPECT_NE(r.error().context.find("neighbour table dump"), std::string::npos);
}

TEST(LltableDecode, TruncatedDumpIsAnError) {
  Bytes whole = cat({v4({198, 18, 0, 2}), v4({198, 18, 0, 3})});
  Bytes cut(whole.begin(), whole.end() - 1);
  expectError(cut, "at byte 224: length 224 runs past the end");
  expectError(Bytes(whole.begin(), whole.begin() + 226), "2 trailing bytes");
}

TEST(LltableDecode, LengthShorterThanTheHeaderIsAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<uint16_t>(b, 0, 0);  // would loop forever if trusted
  expectError(b, "length 0 is shorter than an rt_msghdr");
  put<uint16_t>(b, 0, 151);
  expectError(b, "length 151");
}

TEST(LltableDecode, OtherVersionOrTypeIsAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 2, 4);
  expectError(b, "version 4");
  b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 3, 1);  // RTM_ADD
  expectError(b, "message type 1");
}

TEST(LltableDecode, InterfaceIndexZeroIsAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<uint16_t>(b, 4, 0);
  expectError(b, "interface index 0");
}

TEST(LltableDecode, MissingAddressBitsAreAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<int32_t>(b, 12, 0x1);
  expectError(b, "lacks RTA_DST or RTA_GATEWAY");
}

TEST(LltableDecode, BadDestinationIsAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 153, 18);  // AF_LINK where the address should be
  expectError(b, "destination family 18");
  b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 152, 7);  // sin_len too short for sin_addr
  expectError(b, "destination sockaddr length 7");
  b = v6(kV6);
  put<uint8_t>(b, 152, 23);  // sin6_len too short for sin6_addr
  expectError(b, "destination sockaddr length 23");
}

TEST(LltableDecode, BadLinkLayerSockaddrIsAnError) {
  Bytes b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 168 + 1, 2);
  expectError(b, "gateway family 2");
  b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 168, 57);  // runs 1 byte past the 224-byte message
  expectError(b, "link-layer sockaddr length 57");
  b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 168, 7);  // shorter than the sockaddr_dl header
  expectError(b, "link-layer sockaddr length 7");
  b = v4({198, 18, 0, 2});
  put<uint8_t>(b, 168 + 5, 41);  // nlen 41 + alen 6 > 54 - 8
  expectError(b, "run past their sockaddr");
}

TEST(LltableDecode, DestinationFillingTheMessageLeavesNoRoomForTheLinkLayer) {
  Bytes b = v4({198, 18, 0, 2});
  b.resize(152 + 16);
  put<uint16_t>(b, 0, static_cast<uint16_t>(b.size()));
  expectError(b, "no room for the link-layer sockaddr");
}

}  // namespace
}  // namespace vnetd::platform::fbsd
