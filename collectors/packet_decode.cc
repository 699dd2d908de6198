#include "collectors/packet_decode.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace vnetd::collectors {
namespace {

constexpr size_t kEthernetHeaderSize = 14;
constexpr size_t kVlanTagSize = 4;  // TCI + the next type
constexpr size_t kArpFixedSize = 8;
constexpr size_t kIpv4MinHeaderSize = 20;
constexpr size_t kIpv6HeaderSize = 40;
constexpr size_t kIpv6ExtMinSize = 8;  // no extension header is shorter (AH included)
constexpr size_t kTcpMinHeaderSize = 20;
constexpr size_t kTcpReadSize = 14;  // ports .. flags
constexpr size_t kUdpHeaderSize = 8;
constexpr size_t kUdpReadSize = 4;  // ports
constexpr size_t kIcmpHeaderSize = 4;
constexpr size_t kIcmpReadSize = 1;  // type
constexpr size_t kMaxIpLengthField = 0xffff;

constexpr uint8_t kIpProtoHopByHop = 0, kIpProtoIcmp = 1, kIpProtoTcp = 6, kIpProtoUdp = 17,
                  kIpProtoRouting = 43, kIpProtoFragment = 44, kIpProtoEsp = 50, kIpProtoAh = 51,
                  kIpProtoIcmp6 = 58, kIpProtoNoNext = 59, kIpProtoDestOpts = 60;

constexpr uint16_t kArpHardwareEthernet = 1;

// One frame's decoding. `limit_` is where the unit being decoded ends on the wire: the
// wire frame at first, then the IP datagram once its header has said how long it is.
class Decoder {
 public:
  Decoder(std::span<const std::byte> frame, size_t wire_len, FrameInfo& info)
      : bytes_(frame), limit_(std::max(wire_len, frame.size())), info_(info) {}

  void run() {
    if (!need(0, kEthernetHeaderSize, kEthernetHeaderSize)) return;
    std::memcpy(info_.dst_mac.data(), bytes_.data(), 6);
    std::memcpy(info_.src_mac.data(), bytes_.data() + 6, 6);
    info_.broadcast = std::all_of(info_.dst_mac.begin(), info_.dst_mac.end(),
                                  [](uint8_t b) { return b == 0xff; });
    info_.multicast = !info_.broadcast && (info_.dst_mac[0] & 0x01) != 0;

    size_t type_at = 12;  // after the two MACs; moves past each tag
    uint16_t type = u16(type_at);
    uint8_t tags = 0;
    uint16_t vids[kMaxVlanTags] = {};
    auto is_tag = [](uint16_t t) { return t == kEtherTypeVlan || t == kEtherTypeQinQ; };
    while (is_tag(type) && tags < kMaxVlanTags) {
      size_t tag = type_at + 2;
      if (!need(tag, kVlanTagSize, kVlanTagSize)) return;
      vids[tags++] = u16(tag) & 0x0fff;
      type_at = tag + 2;
      type = u16(type_at);
    }
    // Set together, once the walk is over, so that a frame cut inside the tags reports
    // neither a partial stack nor a TPID as its type.
    info_.vlan_outer = vids[0];
    info_.vlan_inner = vids[1];
    info_.vlan_tags = tags;
    info_.ethertype = type;
    if (is_tag(type)) return;  // a third tag: reported by its TPID, not an error
    size_t l3 = type_at + 2;

    switch (type) {
      case kEtherTypeIpv4: ipv4(l3); break;
      case kEtherTypeIpv6: ipv6(l3); break;
      case kEtherTypeArp: arp(l3); break;
      default: break;
    }
  }

 private:
  // True when `size` bytes at `at` lie inside the current unit and the first `read` of
  // them were captured. Otherwise sets malformed (the unit is too short on the wire: the
  // bytes cannot exist) or truncated (they exist but were not kept), in that order, so a
  // cut frame is never called malformed for bytes the sender did send.
  bool need(size_t at, size_t size, size_t read) {
    if (at > limit_ || size > limit_ - at) {
      info_.malformed = true;
      return false;
    }
    if (at > bytes_.size() || read > bytes_.size() - at) {
      info_.truncated = true;
      return false;
    }
    return true;
  }

  // Callers have checked the bounds with need().
  uint8_t u8(size_t at) const { return std::to_integer<uint8_t>(bytes_[at]); }
  uint16_t u16(size_t at) const { return static_cast<uint16_t>(u8(at) << 8 | u8(at + 1)); }

  void fail() { info_.malformed = true; }

  void arp(size_t at) {
    if (!need(at, kArpFixedSize, kArpFixedSize)) return;
    uint16_t hardware = u16(at), proto = u16(at + 2);
    size_t hlen = u8(at + 4), plen = u8(at + 5);
    size_t body = kArpFixedSize + 2 * (hlen + plen);
    // The addresses are only read for Ethernet/IPv4, but a body that the wire frame
    // cannot hold is a lie whatever its kind.
    bool ether_ipv4 = hardware == kArpHardwareEthernet && proto == kEtherTypeIpv4 && hlen == 6 &&
                      plen == 4;
    if (!need(at, body, ether_ipv4 ? body : kArpFixedSize)) return;
    info_.protocol = Protocol::Arp;
    if (ether_ipv4) {
      std::memcpy(info_.src_ip.data(), bytes_.data() + at + 14, 4);
      std::memcpy(info_.dst_ip.data(), bytes_.data() + at + 24, 4);
    }
  }

  void ipv4(size_t at) {
    if (!need(at, kIpv4MinHeaderSize, kIpv4MinHeaderSize)) return;
    uint8_t version = u8(at) >> 4;
    size_t header = size_t{u8(at) & 0x0fu} * 4;
    size_t total = u16(at + 2);
    if (version != 4 || header < kIpv4MinHeaderSize) return fail();
    if (total == 0 && limit_ - at > kMaxIpLengthField) total = limit_ - at;  // BIG TCP
    if (total < header || !need(at, total, 0)) return fail();
    limit_ = at + total;  // Ethernet padding after the datagram is not part of it

    info_.family = Family::IPv4;
    std::memcpy(info_.src_ip.data(), bytes_.data() + at + 12, 4);
    std::memcpy(info_.dst_ip.data(), bytes_.data() + at + 16, 4);
    uint8_t proto = u8(at + 9);
    info_.protocol = proto == kIpProtoTcp    ? Protocol::Tcp
                     : proto == kIpProtoUdp  ? Protocol::Udp
                     : proto == kIpProtoIcmp ? Protocol::Icmp
                                             : Protocol::Other;
    bool later_fragment = (u16(at + 6) & 0x1fff) != 0;
    if (later_fragment) return;
    transport(at + header);
  }

  void ipv6(size_t at) {
    if (!need(at, kIpv6HeaderSize, kIpv6HeaderSize)) return;
    if (u8(at) >> 4 != 6) return fail();
    size_t total = kIpv6HeaderSize + u16(at + 4);
    if (total == kIpv6HeaderSize && limit_ - at > kIpv6HeaderSize + kMaxIpLengthField)
      total = limit_ - at;  // jumbogram or BIG TCP
    if (!need(at, total, 0)) return fail();
    limit_ = at + total;

    info_.family = Family::IPv6;
    std::memcpy(info_.src_ip.data(), bytes_.data() + at + 8, 16);
    std::memcpy(info_.dst_ip.data(), bytes_.data() + at + 24, 16);

    uint8_t next = u8(at + 6);
    size_t pos = at + kIpv6HeaderSize;
    for (int walked = 0;; ++walked) {
      switch (next) {
        case kIpProtoTcp:
        case kIpProtoUdp:
        case kIpProtoIcmp6:
          info_.protocol = next == kIpProtoTcp   ? Protocol::Tcp
                           : next == kIpProtoUdp ? Protocol::Udp
                                                 : Protocol::Icmp6;
          return transport(pos);
        case kIpProtoHopByHop:
        case kIpProtoRouting:
        case kIpProtoDestOpts:
        case kIpProtoAh:
        case kIpProtoFragment: break;
        case kIpProtoEsp:     // the rest is encrypted
        case kIpProtoNoNext:  // nothing follows
        default: return;      // nor what we do not decode: protocol Other
      }
      if (walked == kMaxIpv6ExtHeaders) return fail();
      if (next == kIpProtoHopByHop && walked != 0) return fail();
      bool fragment = next == kIpProtoFragment;
      if (!need(pos, kIpv6ExtMinSize, fragment ? 4 : 2)) return;
      uint8_t following = u8(pos);
      if (fragment) {
        if ((u16(pos + 2) & 0xfff8) != 0) {  // a later fragment: no L4 header here
          info_.protocol = following == kIpProtoTcp     ? Protocol::Tcp
                           : following == kIpProtoUdp   ? Protocol::Udp
                           : following == kIpProtoIcmp6 ? Protocol::Icmp6
                                                        : Protocol::Other;
          return;
        }
        pos += kIpv6ExtMinSize;
      } else {
        size_t units = u8(pos + 1);
        size_t size = next == kIpProtoAh ? (units + 2) * 4 : (units + 1) * 8;
        if (!need(pos, size, 0)) return fail();
        pos += size;
      }
      next = following;
    }
  }

  // The L4 header at `at`; info_.protocol is already set from the IP layer.
  void transport(size_t at) {
    switch (info_.protocol) {
      case Protocol::Tcp: {
        if (!need(at, kTcpMinHeaderSize, kTcpReadSize)) return;
        size_t header = size_t{u8(at + 12)} >> 4 << 2;
        if (header < kTcpMinHeaderSize || !need(at, header, 0)) return fail();
        info_.src_port = u16(at);
        info_.dst_port = u16(at + 2);
        info_.tcp_flags = u8(at + 13);
        return;
      }
      case Protocol::Udp:
        if (!need(at, kUdpHeaderSize, kUdpReadSize)) return;
        info_.src_port = u16(at);
        info_.dst_port = u16(at + 2);
        return;
      case Protocol::Icmp:
      case Protocol::Icmp6:
        if (!need(at, kIcmpHeaderSize, kIcmpReadSize)) return;
        info_.icmp_type = u8(at);
        return;
      default: return;
    }
  }

  std::span<const std::byte> bytes_;
  size_t limit_;
  FrameInfo& info_;
};

}  // namespace

FrameInfo decodeFrame(std::span<const std::byte> frame, uint32_t wire_len) noexcept {
  FrameInfo info;
  Decoder(frame, wire_len, info).run();
  return info;
}

namespace {

// The shapes RepeatDecoder remembers, and the byte offsets the decoder reads in each; the
// other bytes (IPv4 TOS, id, TTL, checksum; IPv6 flow label, hop limit; UDP length,
// checksum and payload; TCP sequence and acknowledgement numbers, window, ...) never
// change its result.
constexpr size_t kIpAt = kEthernetHeaderSize;
constexpr size_t kL4At4 = kIpAt + kIpv4MinHeaderSize, kL4At6 = kIpAt + kIpv6HeaderSize;
constexpr bool readsIpv4Byte(size_t i) {
  return i < kIpAt ||                                 // MACs, EtherType
         i == kIpAt ||                                // version, IHL
         i == kIpAt + 2 || i == kIpAt + 3 ||          // total length
         i == kIpAt + 6 || i == kIpAt + 7 ||          // flags, fragment offset
         i == kIpAt + 9 ||                            // protocol
         (i >= kIpAt + 12 && i < kIpAt + 20) ||       // addresses
         (i >= kL4At4 && i < kL4At4 + 4);             // ports
}
constexpr bool readsIpv6Byte(size_t i) {
  return i < kIpAt ||                                 // MACs, EtherType
         i == kIpAt ||                                // version (and traffic class bits)
         i == kIpAt + 4 || i == kIpAt + 5 ||          // payload length
         i == kIpAt + 6 ||                            // next header
         (i >= kIpAt + 8 && i < kIpAt + 40) ||        // addresses
         (i >= kL4At6 && i < kL4At6 + 4);             // ports
}
constexpr bool readsTcpByte(size_t i, size_t l4) { return i == l4 + 12 || i == l4 + 13; }  // offset, flags

struct Shape {
  size_t bytes;  // the first bytes compared: every byte read lies in them
  std::array<uint64_t, 9> mask;  // the bits read, as 64-bit words of those bytes
};

constexpr Shape shape(bool ipv6, bool tcp) {
  size_t l4 = ipv6 ? kL4At6 : kL4At4;
  size_t last = tcp ? l4 + 14 : l4 + 4;  // one past the last byte read
  Shape s{ipv6 ? (last + 7) / 8 * 8 : 48, {}};
  for (size_t i = 0; i < s.bytes; ++i) {
    if (!(ipv6 ? readsIpv6Byte(i) : readsIpv4Byte(i)) && !(tcp && readsTcpByte(i, l4))) continue;
    size_t shift = std::endian::native == std::endian::little ? 8 * (i % 8) : 8 * (7 - i % 8);
    s.mask[i / 8] |= uint64_t{0xff} << shift;
  }
  return s;
}
constexpr Shape kUdp4 = shape(false, false), kTcp4 = shape(false, true), kUdp6 = shape(true, false),
                kTcp6 = shape(true, true);
static_assert(kTcp4.bytes == 48 && kUdp6.bytes == 64 && kTcp6.bytes == 72);

// The shape of a decoded frame if RepeatDecoder may remember it, else nullptr.
const Shape* rememberable(std::span<const std::byte> frame, const FrameInfo& f) noexcept {
  if (f.malformed || f.truncated || f.vlan_tags != 0) return nullptr;
  bool tcp = f.protocol == Protocol::Tcp;
  if (!tcp && f.protocol != Protocol::Udp) return nullptr;
  auto byte = [&](size_t i) { return std::to_integer<uint8_t>(frame[i]); };
  const Shape* s = nullptr;
  if (f.ethertype == kEtherTypeIpv4 && f.family == Family::IPv4) {
    s = tcp ? &kTcp4 : &kUdp4;
    if (frame.size() < s->bytes || byte(kIpAt) != 0x45) return nullptr;        // options move L4
    if (((byte(kIpAt + 6) & 0x1f) | byte(kIpAt + 7)) != 0) return nullptr;   // a later fragment
  } else if (f.ethertype == kEtherTypeIpv6 && f.family == Family::IPv6) {
    s = tcp ? &kTcp6 : &kUdp6;
    if (frame.size() < s->bytes) return nullptr;
    if (byte(kIpAt + 6) != (tcp ? kIpProtoTcp : kIpProtoUdp)) return nullptr;  // extension headers
  }
  return s;
}

}  // namespace

const FrameInfo& RepeatDecoder::decode(std::span<const std::byte> frame, uint32_t wire_len) noexcept {
  constexpr size_t kFixed = 48;  // every shape compares at least these
  // decodeFrame takes a wire length below the captured one as the captured one: so here.
  uint64_t wire = std::max<uint64_t>(wire_len, frame.size());
  if (valid_ && frame.size() == caplen_ && wire == wire_len_) {
    // The remembered frame had this captured length, so these bytes are there.
    std::array<uint64_t, kWords> words{};
    std::memcpy(words.data(), frame.data(), kFixed);
    if (bytes_ > kFixed) std::memcpy(words.data() + kFixed / 8, frame.data() + kFixed, bytes_ - kFixed);
    uint64_t differ = 0;
    for (size_t w = 0; w < kWords; ++w) differ |= (words[w] ^ words_[w]) & masks_[w];
    if (differ == 0) {
      ++reused_;
      repeated_ = true;
      return last_;
    }
  }
  repeated_ = false;
  last_ = decodeFrame(frame, wire_len);
  const Shape* s = rememberable(frame, last_);
  valid_ = s != nullptr;
  if (!valid_) return last_;
  masks_ = s->mask;
  bytes_ = s->bytes;
  words_ = {};
  std::memcpy(words_.data(), frame.data(), bytes_);
  caplen_ = frame.size();
  wire_len_ = wire;
  return last_;
}

}  // namespace vnetd::collectors
