// if_bridge request images, byte by byte, per the FreeBSD amd64 ABI (little-endian;
// sizes and offsets pinned to <net/if_bridgevar.h> and <net/if.h> in abi_checks.cc).
#include "platform/freebsd/bridge_request.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

template <size_t N>
std::vector<int> bytes(const std::array<std::byte, N>& image, size_t from, size_t count) {
  std::vector<int> out;
  for (size_t i = from; i < from + count; ++i) out.push_back(std::to_integer<int>(image[i]));
  return out;
}

template <size_t N>
bool zeroFrom(const std::array<std::byte, N>& image, size_t from) {
  for (size_t i = from; i < N; ++i) {
    if (image[i] != std::byte{0}) return false;
  }
  return true;
}

TEST(BridgeRequest, Sizes) {
  EXPECT_EQ(sizeof(IfbreqImage), 80u);
  EXPECT_EQ(sizeof(IfdrvImage), 40u);
  EXPECT_EQ(kIfbifconfSize, 16u);
}

TEST(BridgeRequest, IfbreqForBrdgAdd) {
  auto image = encodeIfbreq("e0a_web");
  // ifbr_ifsname at 0: the name, NUL-padded to 16 bytes.
  EXPECT_EQ(bytes(image, 0, 16),
            (std::vector<int>{'e', '0', 'a', '_', 'w', 'e', 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // ifbr_ifsflags at 16 is zero, and so is everything after it.
  EXPECT_TRUE(zeroFrom(image, 16));
  EXPECT_EQ(ifbreqMember(image), "e0a_web");
  EXPECT_EQ(ifbreqFlags(image), 0u);
}

TEST(BridgeRequest, IfbreqForBrdgSifflgs) {
  auto image = encodeIfbreq("e0a_web", kIfbifLearning | kIfbifDiscover | kIfbifPrivate);
  // 0x803 little-endian at offset 16.
  EXPECT_EQ(bytes(image, 16, 4), (std::vector<int>{0x03, 0x08, 0x00, 0x00}));
  EXPECT_TRUE(zeroFrom(image, 20));  // stpflags, path cost, ... untouched
  EXPECT_EQ(ifbreqFlags(image), 0x803u);
  auto all = encodeIfbreq("bridge0", 0xa1b2c3d4u);
  EXPECT_EQ(bytes(all, 16, 4), (std::vector<int>{0xd4, 0xc3, 0xb2, 0xa1}));
  EXPECT_EQ(ifbreqFlags(all), 0xa1b2c3d4u);
}

TEST(BridgeRequest, IfbreqReplyDecoding) {
  // A BRDGGIFS entry as the kernel fills it: stp fields set, name NUL-terminated.
  IfbreqImage reply{};
  const std::string name = "e3a_database";
  for (size_t i = 0; i < name.size(); ++i) reply[i] = std::byte{static_cast<uint8_t>(name[i])};
  reply[16] = std::byte{0x03};  // LEARNING|DISCOVER
  reply[17] = std::byte{0x08};  // PRIVATE
  reply[20] = std::byte{0xff};  // ifbr_stpflags: not the member flags
  reply[28] = std::byte{5};     // ifbr_portno
  EXPECT_EQ(ifbreqMember(reply), "e3a_database");
  EXPECT_EQ(ifbreqFlags(reply), 0x803u);
  // A name field without a NUL ends at the field, never reading the flags as text.
  IfbreqImage full{};
  for (size_t i = 0; i < 16; ++i) full[i] = std::byte{'x'};
  full[16] = std::byte{'y'};
  EXPECT_EQ(ifbreqMember(full), std::string(16, 'x'));
}

TEST(BridgeRequest, LongNamesAreCutToFitTheirNul) {
  // Callers validate names; an unvalidated one still cannot overrun or lose the NUL.
  auto image = encodeIfbreq("abcdefghijklmnopqrstuvwxyz", 0x1);
  EXPECT_EQ(ifbreqMember(image), "abcdefghijklmno");  // 15 bytes
  EXPECT_EQ(std::to_integer<int>(image[15]), 0);
  EXPECT_EQ(ifbreqFlags(image), 0x1u);
  auto exactly15 = encodeIfbreq("e0a_abcdefghijk");
  EXPECT_EQ(ifbreqMember(exactly15), "e0a_abcdefghijk");
  auto empty = encodeIfbreq("");
  EXPECT_TRUE(zeroFrom(empty, 0));
  EXPECT_EQ(ifbreqMember(empty), "");
}

TEST(BridgeRequest, IfdrvImage) {
  IfbreqImage req = encodeIfbreq("e0a_web");
  auto image = encodeIfdrv("bridge0", kBrdgAdd, sizeof req, &req);
  // ifd_name at 0, NUL-padded.
  EXPECT_EQ(bytes(image, 0, 16),
            (std::vector<int>{'b', 'r', 'i', 'd', 'g', 'e', '0', 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // ifd_cmd at 16 (unsigned long), ifd_len at 24 (size_t): 8 bytes little-endian each.
  EXPECT_EQ(bytes(image, 16, 8), (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bytes(image, 24, 8), (std::vector<int>{80, 0, 0, 0, 0, 0, 0, 0}));
  // ifd_data at 32: the pointer's value.
  auto p = reinterpret_cast<uintptr_t>(&req);
  std::vector<int> expected;
  for (int i = 0; i < 8; ++i) expected.push_back(static_cast<int>((uint64_t{p} >> (8 * i)) & 0xff));
  EXPECT_EQ(bytes(image, 32, 8), expected);

  auto flags = encodeIfdrv("bridge12", kBrdgSifflgs, kIfbreqSize, nullptr);
  EXPECT_EQ(bytes(flags, 16, 8), (std::vector<int>{3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bytes(flags, 32, 8), (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0}));
  auto gifs = encodeIfdrv("bridge0", kBrdgGifs, kIfbifconfSize, nullptr);
  EXPECT_EQ(bytes(gifs, 16, 8), (std::vector<int>{6, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bytes(gifs, 24, 8), (std::vector<int>{16, 0, 0, 0, 0, 0, 0, 0}));
  // A big command and length use all 8 bytes.
  auto big = encodeIfdrv("b", 0x0102030405060708ul, 0x1112131415161718ul, nullptr);
  EXPECT_EQ(bytes(big, 16, 8), (std::vector<int>{8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(bytes(big, 24, 8), (std::vector<int>{0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11}));
  // The bridge name gets the same 15-byte limit.
  auto long_name = encodeIfdrv("bridge_with_a_long_name", kBrdgDel, kIfbreqSize, nullptr);
  EXPECT_EQ(std::to_integer<int>(long_name[14]), 'l');  // "bridge_with_a_l"
  EXPECT_EQ(std::to_integer<int>(long_name[15]), 0);
}

TEST(BridgeRequest, CommandAndFlagValues) {
  EXPECT_EQ(kBrdgAdd, 0ul);
  EXPECT_EQ(kBrdgDel, 1ul);
  EXPECT_EQ(kBrdgGifflgs, 2ul);
  EXPECT_EQ(kBrdgSifflgs, 3ul);
  EXPECT_EQ(kBrdgGifs, 6ul);
  EXPECT_EQ(kIfbifLearning, 0x1u);
  EXPECT_EQ(kIfbifDiscover, 0x2u);
  EXPECT_EQ(kIfbifStp, 0x4u);
  EXPECT_EQ(kIfbifSpan, 0x8u);
  EXPECT_EQ(kIfbifPrivate, 0x800u);
}

TEST(BridgeRequest, WithPrivateKeepsOtherFlags) {
  // BRDGSIFFLGS replaces every flag: STP edge bits and learning must survive.
  constexpr uint32_t current = kIfbifLearning | kIfbifDiscover | kIfbifStp | 0x20 /* BSTP_EDGE */;
  static_assert(withPrivate(current, true) == (current | 0x800));
  EXPECT_EQ(withPrivate(current, true), 0x827u);
  EXPECT_EQ(withPrivate(0x827u, false), 0x027u);
  EXPECT_EQ(withPrivate(0x827u, true), 0x827u);  // idempotent
  EXPECT_EQ(withPrivate(0x027u, false), 0x027u);
  EXPECT_EQ(withPrivate(0xffffffffu, false), 0xfffff7ffu);
  EXPECT_EQ(withPrivate(0, true), 0x800u);
}

}  // namespace
}  // namespace vnetd::platform::fbsd
