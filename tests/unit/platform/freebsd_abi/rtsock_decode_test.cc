// Routing-socket decoding against byte images laid out field by field per the FreeBSD
// amd64 ABI (the offsets below are the ones abi_checks.cc pins to the real headers).
#include "platform/freebsd/rtsock_decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

using Bytes = std::vector<std::byte>;
using Type = InterfaceEvent::Type;

// --- a small builder: fields written at their ABI offsets, little-endian as on amd64

template <typename T>
void put(Bytes& b, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), b.size());
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

void putHeader(Bytes& b, uint8_t type, uint8_t version = kRtmVersion) {
  put<uint16_t>(b, 0, static_cast<uint16_t>(b.size()));  // rtm_msglen
  put<uint8_t>(b, 2, version);                           // rtm_version
  put<uint8_t>(b, 3, type);                              // rtm_type
}

// struct if_announcemsghdr: 24 bytes.
Bytes announce(uint16_t index, const std::string& name, uint16_t what,
               uint8_t version = kRtmVersion) {
  Bytes b(24);
  putHeader(b, kRtmIfAnnounce, version);
  put<uint16_t>(b, 4, index);  // ifan_index
  // ifan_name[16] at 6; a 16-character name deliberately leaves no NUL.
  std::memcpy(b.data() + 6, name.data(), std::min<size_t>(name.size(), 16));
  put<uint16_t>(b, 22, what);  // ifan_what
  return b;
}

// struct if_msghdr (16 bytes) + struct if_data (152 bytes) = 168 bytes.
Bytes ifinfo(uint16_t index, uint8_t link_state, uint8_t version = kRtmVersion) {
  Bytes b(168);
  putHeader(b, kRtmIfInfo, version);
  put<int32_t>(b, 4, 0);                // ifm_addrs: none
  put<int32_t>(b, 8, 0x8843);           // ifm_flags: UP|BROADCAST|RUNNING|SIMPLEX|MULTICAST
  put<uint16_t>(b, 12, index);          // ifm_index
  put<uint8_t>(b, 16 + 0, 6);           // ifi_type = IFT_ETHER
  put<uint8_t>(b, 16 + 2, 6);           // ifi_addrlen
  put<uint8_t>(b, 16 + 3, 14);          // ifi_hdrlen
  put<uint8_t>(b, 16 + 4, link_state);  // ifi_link_state
  put<uint16_t>(b, 16 + 6, 152);        // ifi_datalen
  put<uint32_t>(b, 16 + 8, 1500);       // ifi_mtu
  put<uint64_t>(b, 16 + 24, 42);        // ifi_ipackets: counters must not matter
  return b;
}

// sockaddr_in: 16 bytes, sin_addr at 4. A trimmed netmask passes sa_len < 16.
Bytes sa4(std::array<uint8_t, 4> addr, uint8_t sa_len = 16) {
  Bytes b(16);
  b[0] = std::byte{sa_len};
  b[1] = std::byte{kAfInet};
  std::memcpy(b.data() + 4, addr.data(), 4);
  b.resize(sa_len);
  return b;
}

// sockaddr_in6: 28 bytes, sin6_addr at 8.
Bytes sa6(std::array<uint8_t, 16> addr, uint8_t sa_len = 28) {
  Bytes b(28);
  b[0] = std::byte{sa_len};
  b[1] = std::byte{kAfInet6};
  std::memcpy(b.data() + 8, addr.data(), 16);
  b.resize(sa_len);
  return b;
}

// sockaddr_dl as if_attach makes it: at least sizeof(struct sockaddr_dl) = 54 bytes,
// name then the 6-byte MAC in sdl_data (offset 8), sdl_nlen at 5, sdl_alen at 6.
Bytes sdl(uint16_t index, const std::string& name) {
  Bytes b(54);
  b[0] = std::byte{54};
  b[1] = std::byte{kAfLink};
  put<uint16_t>(b, 2, index);  // sdl_index
  b[4] = std::byte{6};         // sdl_type = IFT_ETHER
  b[5] = std::byte{static_cast<uint8_t>(name.size())};
  b[6] = std::byte{6};
  std::memcpy(b.data() + 8, name.data(), name.size());
  const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x0a};
  std::memcpy(b.data() + 8 + name.size(), mac, 6);
  return b;
}

// struct ifa_msghdr (20 bytes), then the sockaddrs in RTA bit order, each padded to SA_SIZE.
Bytes addrMsg(uint8_t type, uint16_t index,
              std::initializer_list<std::pair<int, Bytes>> sockaddrs) {
  Bytes b(20);
  int addrs = 0;
  int last_bit = 0;
  for (const auto& [bit, sa] : sockaddrs) {
    EXPECT_GT(bit, last_bit) << "fixture sockaddrs must be in RTA bit order";
    last_bit = bit;
    addrs |= bit;
    size_t at = b.size();
    b.resize(at + saSize(static_cast<uint8_t>(sa.empty() ? 0 : std::to_integer<uint8_t>(sa[0]))));
    if (!sa.empty()) std::memcpy(b.data() + at, sa.data(), sa.size());
  }
  putHeader(b, type);
  put<int32_t>(b, 4, addrs);    // ifam_addrs
  put<int32_t>(b, 8, 0);        // ifam_flags
  put<uint16_t>(b, 12, index);  // ifam_index
  put<int32_t>(b, 16, 0);       // ifam_metric
  return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

const char* typeName(Type t) {
  switch (t) {
    case Type::Arrived: return "Arrived";
    case Type::Departed: return "Departed";
    case Type::Renamed: return "Renamed";
    case Type::LinkUp: return "LinkUp";
    case Type::LinkDown: return "LinkDown";
    case Type::AddressAdded: return "AddressAdded";
    case Type::AddressRemoved: return "AddressRemoved";
    case Type::ResyncNeeded: return "ResyncNeeded";
  }
  return "?";
}

// One line per event, so a whole sequence is compared (and printed on failure) at once.
std::vector<std::string> describe(const std::vector<InterfaceEvent>& events) {
  std::vector<std::string> lines;
  for (const auto& e : events) {
    std::ostringstream s;
    s << typeName(e.type) << " " << e.source << " #" << e.index << " " << e.name;
    if (!e.old_name.empty()) s << " from " << e.old_name;
    if (e.address) s << " " << e.address->toString();
    lines.push_back(s.str());
  }
  return lines;
}

using Lines = std::vector<std::string>;

struct Run {
  Lines events;
  uint64_t malformed;
  uint64_t skipped;
};

Run translate(RtsockEventTranslator& t, const Bytes& buffer) {
  std::vector<InterfaceEvent> out;
  uint64_t malformed = t.stats().malformed, skipped = t.stats().skipped;
  t.translate(buffer, out);
  return {describe(out), t.stats().malformed - malformed, t.stats().skipped - skipped};
}

const std::array<uint8_t, 16> kV6Doc = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::array<uint8_t, 16> kV6LinkLocal = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::array<uint8_t, 16> kMask64 = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

TEST(RtsockDecode, SaSizeRoundsToLong) {
  EXPECT_EQ(saSize(0), 8u);
  EXPECT_EQ(saSize(1), 8u);
  EXPECT_EQ(saSize(5), 8u);
  EXPECT_EQ(saSize(8), 8u);
  EXPECT_EQ(saSize(16), 16u);
  EXPECT_EQ(saSize(28), 32u);
  EXPECT_EQ(saSize(54), 56u);
  EXPECT_EQ(saSize(255), 256u);
}

TEST(RtsockDecode, FixtureLayout) {
  // The builders themselves: sizes are the ABI's (checked in abi_checks.cc on FreeBSD).
  EXPECT_EQ(announce(1, "x", kIfanArrival).size(), kIfAnnounceMsghdrSize);
  EXPECT_EQ(ifinfo(1, kLinkStateUp).size(), kIfMsghdrSize);
  auto m = addrMsg(kRtmNewAddr, 3,
                   {{kRtaNetmask, sa4({255, 0, 0, 0}, 5)}, {kRtaIfa, sa4({10, 0, 0, 1})}});
  EXPECT_EQ(m.size(), kIfaMsghdrSize + 8 + 16);  // netmask sa_len 5 occupies 8 bytes
  EXPECT_EQ(std::to_integer<int>(m[0]), static_cast<int>(m.size()));
}

TEST(RtsockDecode, Arrival) {
  RtsockEventTranslator t;
  auto r = translate(t, announce(5, "epair0a", kIfanArrival));
  EXPECT_EQ(r.events, (Lines{"Arrived route #5 epair0a"}));
  EXPECT_EQ(r.malformed, 0u);
  EXPECT_EQ(r.skipped, 0u);
}

TEST(RtsockDecode, FullLengthNameNeedsItsNul) {
  RtsockEventTranslator t;
  // 15 characters + NUL fill the field exactly.
  auto r = translate(t, announce(5, "e0a_abcdefghijk", kIfanArrival));
  EXPECT_EQ(r.events, (Lines{"Arrived route #5 e0a_abcdefghijk"}));
  // 16 characters leave no NUL: not a kernel-written name.
  r = translate(t, announce(6, "e0a_abcdefghijkl", kIfanArrival));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.malformed, 1u);
  r = translate(t, announce(7, "", kIfanArrival));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.malformed, 1u);
}

TEST(RtsockDecode, DepartureForgetsTheIndex) {
  RtsockEventTranslator t;
  t.seed({{5, {"e0a_web", kLinkStateUp}}});
  auto r = translate(t, announce(5, "e0a_web", kIfanDeparture));
  EXPECT_EQ(r.events, (Lines{"Departed route #5 e0a_web"}));
  // The index is unknown again: its next IFINFO is a first sighting, not a transition.
  r = translate(t, ifinfo(5, kLinkStateDown));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.malformed + r.skipped, 0u);
}

TEST(RtsockDecode, UnknownAnnouncementIsSkipped) {
  RtsockEventTranslator t;
  auto r = translate(t, announce(5, "e0a_web", 7));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST(RtsockDecode, RenameIsDepartureArrivalAndRenamed) {
  RtsockEventTranslator t;
  t.seed({{7, {"epair0a", kLinkStateUp}}});
  auto r = translate(
      t, concat({announce(7, "epair0a", kIfanDeparture), announce(7, "e0a_web", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Departed route #7 epair0a", "Arrived route #7 e0a_web",
                             "Renamed route #7 e0a_web from epair0a"}));
  EXPECT_EQ(r.malformed + r.skipped, 0u);
  // The link state survives the rename: still up, so UP is no transition, DOWN is.
  r = translate(t, ifinfo(7, kLinkStateUp));
  EXPECT_TRUE(r.events.empty());
  r = translate(t, ifinfo(7, kLinkStateDown));
  EXPECT_EQ(r.events, (Lines{"LinkDown route #7 e0a_web"}));
}

TEST(RtsockDecode, RenameAcrossRecvBuffers) {
  // A raw routing socket returns one message per recv(): the pair spans two calls.
  RtsockEventTranslator t;
  t.seed({{7, {"epair0a", kLinkStateDown}}});
  auto r = translate(t, announce(7, "epair0a", kIfanDeparture));
  EXPECT_EQ(r.events, (Lines{"Departed route #7 epair0a"}));
  r = translate(t, announce(7, "e0a_web", kIfanArrival));
  EXPECT_EQ(r.events, (Lines{"Arrived route #7 e0a_web", "Renamed route #7 e0a_web from epair0a"}));
}

TEST(RtsockDecode, NoRenameWithoutIndexReuseOrNameChange) {
  RtsockEventTranslator t;
  // Destroy + create with another index.
  auto r = translate(
      t, concat({announce(4, "epair0a", kIfanDeparture), announce(9, "epair1a", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Departed route #4 epair0a", "Arrived route #9 epair1a"}));
  // Same index, same name (bridge0 destroyed and recreated): nothing was renamed.
  r = translate(
      t, concat({announce(3, "bridge0", kIfanDeparture), announce(3, "bridge0", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Departed route #3 bridge0", "Arrived route #3 bridge0"}));
  // A departure followed by another announcement is no longer "just departed".
  r = translate(t, concat({announce(4, "a", kIfanDeparture), announce(5, "b", kIfanDeparture),
                           announce(4, "c", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Departed route #4 a", "Departed route #5 b", "Arrived route #4 c"}));
  // seed() (a resync) forgets a pending departure.
  translate(t, announce(8, "old", kIfanDeparture));
  t.seed({});
  r = translate(t, announce(8, "new", kIfanArrival));
  EXPECT_EQ(r.events, (Lines{"Arrived route #8 new"}));
}

TEST(RtsockDecode, LinkTransitions) {
  RtsockEventTranslator t;
  // First sighting of an unknown index: remembered, no event.
  auto r = translate(t, ifinfo(9, kLinkStateUp));
  EXPECT_TRUE(r.events.empty());
  r = translate(t, ifinfo(9, kLinkStateUp));  // same state (e.g. MTU change)
  EXPECT_TRUE(r.events.empty());
  r = translate(t, ifinfo(9, kLinkStateDown));
  EXPECT_EQ(r.events, (Lines{"LinkDown route #9 "}));  // no name known for #9
  r = translate(t, ifinfo(9, kLinkStateUp));
  EXPECT_EQ(r.events, (Lines{"LinkUp route #9 "}));
  r = translate(t, ifinfo(9, kLinkStateUnknown));  // remembered, not an event
  EXPECT_TRUE(r.events.empty());
  r = translate(t, ifinfo(9, kLinkStateUp));
  EXPECT_EQ(r.events, (Lines{"LinkUp route #9 "}));
  EXPECT_EQ(t.stats().malformed + t.stats().skipped, 0u);

  // An announced interface starts in UNKNOWN: its first UP is a transition.
  r = translate(
      t, concat({announce(10, "epair3a", kIfanArrival), announce(11, "epair3b", kIfanArrival),
                 ifinfo(10, kLinkStateUp), ifinfo(11, kLinkStateUp)}));
  EXPECT_EQ(r.events, (Lines{"Arrived route #10 epair3a", "Arrived route #11 epair3b",
                             "LinkUp route #10 epair3a", "LinkUp route #11 epair3b"}));
  // Seeded state counts as remembered.
  t.seed({{2, {"em0", kLinkStateUp}}});
  r = translate(t, ifinfo(2, kLinkStateDown));
  EXPECT_EQ(r.events, (Lines{"LinkDown route #2 em0"}));
}

TEST(RtsockDecode, NewAddrV4WithNetmaskIfpAndBroadcast) {
  RtsockEventTranslator t;
  auto m = addrMsg(kRtmNewAddr, 3,
                   {{kRtaNetmask, sa4({255, 255, 255, 0})},
                    {kRtaIfp, sdl(3, "e0a_web")},
                    {kRtaIfa, sa4({198, 18, 0, 1})},
                    {0x80 /* RTA_BRD */, sa4({198, 18, 0, 255})}});
  EXPECT_EQ(m.size(), 20u + 16 + 56 + 16 + 16);
  auto r = translate(t, m);
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3 e0a_web 198.18.0.1/24"}));
  EXPECT_EQ(r.malformed + r.skipped, 0u);
}

TEST(RtsockDecode, TrimmedAndMissingNetmasks) {
  RtsockEventTranslator t;
  // sa_len 5: one mask byte present (0xff), the rest implied zero → /8; SA_SIZE 8.
  auto r =
      translate(t, addrMsg(kRtmNewAddr, 3,
                           {{kRtaNetmask, sa4({255, 0, 0, 0}, 5)}, {kRtaIfa, sa4({10, 1, 2, 3})}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  10.1.2.3/8"}));
  // sa_len 7: three bytes → /20 from 255.255.240.
  r = translate(
      t, addrMsg(kRtmNewAddr, 3,
                 {{kRtaNetmask, sa4({255, 255, 240, 0}, 7)}, {kRtaIfa, sa4({10, 1, 2, 3})}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  10.1.2.3/20"}));
  // An empty netmask (sa_len 0, 8 bytes of space) is the all-zero mask.
  r = translate(t,
                addrMsg(kRtmNewAddr, 3, {{kRtaNetmask, Bytes{}}, {kRtaIfa, sa4({10, 1, 2, 3})}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  10.1.2.3/0"}));
  // No netmask at all: a host address.
  r = translate(t, addrMsg(kRtmNewAddr, 3, {{kRtaIfa, sa4({10, 1, 2, 3})}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  10.1.2.3/32"}));
  // A trimmed IPv6 mask: 8 mask bytes in sa_len 16 → /64.
  r = translate(t,
                addrMsg(kRtmNewAddr, 3, {{kRtaNetmask, sa6(kMask64, 16)}, {kRtaIfa, sa6(kV6Doc)}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  2001:db8::1/64"}));
  // A non-contiguous mask yields its leading run of ones.
  r = translate(t, addrMsg(kRtmNewAddr, 3,
                           {{kRtaNetmask, sa4({255, 0, 255, 0})}, {kRtaIfa, sa4({10, 1, 2, 3})}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #3  10.1.2.3/8"}));
  EXPECT_EQ(t.stats().malformed + t.stats().skipped, 0u);
}

TEST(RtsockDecode, NewAddrAndDelAddrV6) {
  RtsockEventTranslator t;
  auto added =
      addrMsg(kRtmNewAddr, 4,
              {{kRtaNetmask, sa6(kMask64)}, {kRtaIfp, sdl(4, "e0b_web")}, {kRtaIfa, sa6(kV6Doc)}});
  EXPECT_EQ(added.size(), 20u + 32 + 56 + 32);  // sockaddr_in6: sa_len 28 → 32 bytes
  auto removed = addrMsg(
      kRtmDelAddr, 4,
      {{kRtaNetmask, sa6(kMask64)}, {kRtaIfp, sdl(4, "e0b_web")}, {kRtaIfa, sa6(kV6LinkLocal)}});
  auto r = translate(t, concat({added, removed}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #4 e0b_web 2001:db8::1/64",
                             "AddressRemoved route #4 e0b_web fe80::1/64"}));
  EXPECT_EQ(r.malformed + r.skipped, 0u);
}

TEST(RtsockDecode, DelAddrWithoutIfpUsesTheKnownName) {
  RtsockEventTranslator t;
  t.seed({{6, {"e0a_db", kLinkStateUp}}});
  auto r = translate(
      t, addrMsg(kRtmDelAddr, 6,
                 {{kRtaNetmask, sa4({255, 255, 0, 0})}, {kRtaIfa, sa4({198, 18, 1, 1})}}));
  EXPECT_EQ(r.events, (Lines{"AddressRemoved route #6 e0a_db 198.18.1.1/16"}));
}

TEST(RtsockDecode, AddressesAfterARenameCarryTheNewName) {
  // Renames and addresses are this translator's alone (devd's RENAME/ADDR_* come from
  // jails too): after SIOCSIFNAME, an address message naming only the index must be
  // reported under the new name.
  RtsockEventTranslator t;
  t.seed({{7, {"epair0a", kLinkStateUp}}});
  translate(t, announce(7, "epair0a", kIfanDeparture));
  translate(t, announce(7, "e0a_web", kIfanArrival));
  auto r = translate(t, addrMsg(kRtmDelAddr, 7,
                                {{kRtaNetmask, sa4({255, 255, 255, 0})}, {kRtaIfa, sa4({198, 18, 0, 1})}}));
  EXPECT_EQ(r.events, (Lines{"AddressRemoved route #7 e0a_web 198.18.0.1/24"}));
  r = translate(t, addrMsg(kRtmNewAddr, 7,
                           {{kRtaNetmask, sa6(kMask64)}, {kRtaIfp, sdl(7, "e0a_web")}, {kRtaIfa, sa6(kV6Doc)}}));
  EXPECT_EQ(r.events, (Lines{"AddressAdded route #7 e0a_web 2001:db8::1/64"}));
  EXPECT_EQ(t.stats().malformed + t.stats().skipped, 0u);
}

TEST(RtsockDecode, IfpNameFillsAnUnnamedIndex) {
  RtsockEventTranslator t;
  translate(t, ifinfo(12, kLinkStateUp));  // known by index only
  translate(t, addrMsg(kRtmNewAddr, 12,
                       {{kRtaIfp, sdl(12, "e1a_web")}, {kRtaIfa, sa4({198, 18, 0, 9})}}));
  auto r = translate(t, ifinfo(12, kLinkStateDown));
  EXPECT_EQ(r.events, (Lines{"LinkDown route #12 e1a_web"}));
}

TEST(RtsockDecode, AddressMessagesThatAreNotOurs) {
  RtsockEventTranslator t;
  // An AF_LINK "address" is not an IP address: skipped, not malformed.
  auto r = translate(t, addrMsg(kRtmNewAddr, 3, {{kRtaIfa, sdl(3, "e0a_web")}}));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST(RtsockDecode, BadSockaddrsAreMalformed) {
  RtsockEventTranslator t;
  std::vector<Bytes> bad = {
      addrMsg(kRtmNewAddr, 3, {}),                                  // no IFA at all
      addrMsg(kRtmNewAddr, 3, {{kRtaIfa, sa4({10, 0, 0, 1}, 6)}}),  // sin too short for sin_addr
      addrMsg(kRtmNewAddr, 3, {{kRtaIfa, sa6(kV6Doc, 20)}}),        // sin6 too short for sin6_addr
      addrMsg(kRtmNewAddr, 3,
              {{kRtaIfp, sa4({1, 2, 3, 4})}, {kRtaIfa, sa4({10, 0, 0, 1})}}),  // IFP not AF_LINK
  };
  // IFP whose sdl_nlen runs past its sa_len.
  auto long_name = sdl(3, "e0a_web");
  long_name[5] = std::byte{50};
  bad.push_back(addrMsg(kRtmNewAddr, 3, {{kRtaIfp, long_name}, {kRtaIfa, sa4({10, 0, 0, 1})}}));
  // A sockaddr whose SA_SIZE runs past msglen: claim sa_len 200 for the last one.
  auto overrun =
      addrMsg(kRtmNewAddr, 3, {{kRtaNetmask, sa4({255, 0, 0, 0})}, {kRtaIfa, sa4({10, 0, 0, 1})}});
  overrun[20 + 16] = std::byte{200};
  bad.push_back(overrun);
  // ifam_addrs names a sockaddr that is not there.
  auto missing = addrMsg(kRtmNewAddr, 3, {{kRtaIfa, sa4({10, 0, 0, 1})}});
  put<int32_t>(missing, 4, kRtaIfa | 0x80);
  bad.push_back(missing);
  for (size_t i = 0; i < bad.size(); ++i) {
    auto r = translate(t, concat({bad[i], announce(1, "lo0", kIfanArrival)}));
    EXPECT_EQ(r.malformed, 1u) << "case " << i;
    EXPECT_EQ(r.events, (Lines{"Arrived route #1 lo0"}))
        << "case " << i << ": the next message still decodes";
  }
  EXPECT_EQ(t.stats().skipped, 0u);
}

TEST(RtsockDecode, WrongVersionIsSkippedAndTheNextMessageDecoded) {
  RtsockEventTranslator t;
  auto r = translate(t, concat({announce(5, "epair0a", kIfanArrival, 4), ifinfo(5, kLinkStateUp, 6),
                                announce(6, "epair0b", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Arrived route #6 epair0b"}));
  EXPECT_EQ(r.skipped, 2u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST(RtsockDecode, OtherTypesAreSkipped) {
  RtsockEventTranslator t;
  Bytes route(92);  // an rt_msghdr-sized RTM_ADD: not an interface event
  putHeader(route, 0x1);
  Bytes maddr(20);  // RTM_NEWMADDR
  putHeader(maddr, 0x0f);
  Bytes bare(4);  // just a header, type 0x12 (RTM_IEEE80211)
  putHeader(bare, 0x12);
  auto r = translate(t, concat({route, maddr, bare, announce(2, "bridge0", kIfanArrival)}));
  EXPECT_EQ(r.events, (Lines{"Arrived route #2 bridge0"}));
  EXPECT_EQ(r.skipped, 3u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST(RtsockDecode, SeveralMessagesInOneBuffer) {
  // epair create + rename + address, as the host vnet sees it.
  RtsockEventTranslator t;
  auto r = translate(
      t, concat({announce(5, "epair0a", kIfanArrival), announce(6, "epair0b", kIfanArrival),
                 announce(5, "epair0a", kIfanDeparture), announce(5, "e0a_web", kIfanArrival),
                 ifinfo(5, kLinkStateUp),
                 addrMsg(kRtmNewAddr, 5,
                         {{kRtaNetmask, sa6(kMask64)},
                          {kRtaIfp, sdl(5, "e0a_web")},
                          {kRtaIfa, sa6(kV6LinkLocal)}}),
                 ifinfo(6, kLinkStateDown), announce(6, "epair0b", kIfanDeparture)}));
  EXPECT_EQ(r.events, (Lines{"Arrived route #5 epair0a", "Arrived route #6 epair0b",
                             "Departed route #5 epair0a", "Arrived route #5 e0a_web",
                             "Renamed route #5 e0a_web from epair0a", "LinkUp route #5 e0a_web",
                             "AddressAdded route #5 e0a_web fe80::1/64",
                             "LinkDown route #6 epair0b", "Departed route #6 epair0b"}));
  EXPECT_EQ(r.malformed + r.skipped, 0u);
}

// Cutting a buffer of several messages anywhere: the complete messages before the cut
// decode, and a cut inside a message is exactly one malformed (the lying msglen ends the
// buffer). Run under ASan this also shows nothing is read past the span.
TEST(RtsockDecode, TruncatedBufferAtEveryOffset) {
  std::vector<Bytes> messages = {announce(5, "epair0a", kIfanArrival), ifinfo(5, kLinkStateUp),
                                 addrMsg(kRtmNewAddr, 5,
                                         {{kRtaNetmask, sa4({255, 255, 255, 0})},
                                          {kRtaIfp, sdl(5, "epair0a")},
                                          {kRtaIfa, sa4({198, 18, 0, 1})}}),
                                 announce(5, "epair0a", kIfanDeparture)};
  Lines all = {"Arrived route #5 epair0a", "LinkUp route #5 epair0a",
               "AddressAdded route #5 epair0a 198.18.0.1/24", "Departed route #5 epair0a"};
  Bytes buffer;
  std::vector<size_t> ends;
  for (const auto& m : messages) {
    buffer.insert(buffer.end(), m.begin(), m.end());
    ends.push_back(buffer.size());
  }
  for (size_t cut = 0; cut <= buffer.size(); ++cut) {
    RtsockEventTranslator t;
    auto r = translate(t, Bytes(buffer.begin(), buffer.begin() + static_cast<long>(cut)));
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    bool at_boundary = cut == 0 || (complete > 0 && ends[complete - 1] == cut);
    EXPECT_EQ(r.events, Lines(all.begin(), all.begin() + static_cast<long>(complete)))
        << "cut at " << cut;
    EXPECT_EQ(r.malformed, at_boundary ? 0u : 1u) << "cut at " << cut;
    EXPECT_EQ(r.skipped, 0u) << "cut at " << cut;
  }
}

// Each message cut short with its msglen telling the truth about the cut: below 4 the
// length itself is impossible (stop); otherwise the message is malformed and skipped,
// and the message after it still decodes.
TEST(RtsockDecode, EveryMessageShortenedWithAConsistentMsglen) {
  std::vector<Bytes> messages = {
      announce(5, "epair0a", kIfanArrival), ifinfo(5, kLinkStateUp),
      addrMsg(kRtmNewAddr, 5,
              {{kRtaNetmask, sa6(kMask64)}, {kRtaIfp, sdl(5, "epair0a")}, {kRtaIfa, sa6(kV6Doc)}})};
  auto next = announce(9, "lo0", kIfanArrival);
  for (size_t i = 0; i < messages.size(); ++i) {
    for (size_t len = 0; len < messages[i].size(); ++len) {
      Bytes shortened(messages[i].begin(), messages[i].begin() + static_cast<long>(len));
      if (len >= 2) put<uint16_t>(shortened, 0, static_cast<uint16_t>(len));
      RtsockEventTranslator t;
      t.seed({{5, {"epair0a", kLinkStateDown}}});
      auto r = translate(t, concat({shortened, next}));
      if (len == 0) {
        EXPECT_EQ(r.events, (Lines{"Arrived route #9 lo0"}));
        EXPECT_EQ(r.malformed, 0u);
      } else if (len < kRtmHeaderSize) {
        EXPECT_TRUE(r.events.empty()) << "message " << i << " len " << len;
        EXPECT_EQ(r.malformed, 1u) << "message " << i << " len " << len;
      } else {
        EXPECT_EQ(r.events, (Lines{"Arrived route #9 lo0"})) << "message " << i << " len " << len;
        EXPECT_EQ(r.malformed, 1u) << "message " << i << " len " << len;
      }
      EXPECT_EQ(r.skipped, 0u) << "message " << i << " len " << len;
    }
  }
}

TEST(RtsockDecode, LyingMsglen) {
  auto good = announce(6, "epair0b", kIfanArrival);
  {
    // Bigger than the buffer: malformed, nothing decoded, the rest of the buffer dropped.
    RtsockEventTranslator t;
    auto first = announce(5, "epair0a", kIfanArrival);
    put<uint16_t>(first, 0, 0xffff);
    auto r = translate(t, concat({first, good}));
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.malformed, 1u);
  }
  for (uint16_t len : {0, 1, 2, 3}) {
    // Smaller than the 4-byte header: no way to find the next message.
    RtsockEventTranslator t;
    auto first = announce(5, "epair0a", kIfanArrival);
    put<uint16_t>(first, 0, len);
    auto r = translate(t, concat({first, good}));
    EXPECT_TRUE(r.events.empty()) << len;
    EXPECT_EQ(r.malformed, 1u) << len;
  }
  {
    // At least a header but shorter than the announcement: malformed, advance by msglen.
    // Here the 8 claimed bytes are followed by the rest of the same fixture, whose first
    // bytes (name "ir0a...") read as msglen 0x6961 > remaining: a second malformed.
    RtsockEventTranslator t;
    auto first = announce(5, "epair0a", kIfanArrival);
    put<uint16_t>(first, 0, 8);
    auto r = translate(t, concat({first, good}));
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.malformed, 2u);
  }
  {
    // Longer than the struct but within the buffer: trailing bytes are ignored.
    RtsockEventTranslator t;
    auto first = announce(5, "epair0a", kIfanArrival);
    first.resize(32);
    put<uint16_t>(first, 0, 32);
    auto r = translate(t, concat({first, good}));
    EXPECT_EQ(r.events, (Lines{"Arrived route #5 epair0a", "Arrived route #6 epair0b"}));
    EXPECT_EQ(r.malformed, 0u);
  }
}

TEST(RtsockDecode, StatsAccumulateAcrossCalls) {
  RtsockEventTranslator t;
  std::vector<InterfaceEvent> out;
  t.translate(announce(1, "x", kIfanArrival, 3), out);
  t.translate(announce(1, "x", kIfanArrival, 3), out);
  Bytes junk = {std::byte{1}, std::byte{0}};
  t.translate(junk, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(t.stats().skipped, 2u);
  EXPECT_EQ(t.stats().malformed, 1u);
  // Events are appended, never cleared.
  out.push_back(InterfaceEvent{});
  t.translate(announce(1, "x", kIfanArrival), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].name, "x");
  EXPECT_STREQ(out[1].source, "route");
  EXPECT_FALSE(out[1].address.has_value());
}

}  // namespace
}  // namespace vnetd::platform::fbsd
