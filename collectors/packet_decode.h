// Per-packet decoder of the per-bridge capture: one captured Ethernet frame → the few
// fields the per-jail aggregation needs (MACs for attribution, VLANs, addresses, ports,
// TCP flags, ICMP type).
//
// Pure: no allocation, no exception, no lock, no state, and nothing is ever read outside
// `frame` — it runs on the capture thread's hot path, once per frame, on bytes that
// anyone on the bridge (including a hostile jail) chose.
//
// Two lengths matter, and they answer different questions:
//   - frame.size() is what the capture kept (caplen). Snaplen 128 is the normal setting,
//     so running out of captured bytes is ordinary: the result is `truncated`, with every
//     field decoded so far kept. It is never an error.
//   - wire_len is what was on the wire (pkthdr.len). A header that cannot fit in the wire
//     frame, or a length field that points past the end of the datagram it belongs to, is
//     a lie the sender told: the result is `malformed`.
// So a frame is never both. The decoder checks a header against the wire (or the
// enclosing IP datagram) first and against the captured bytes second: a cut in the middle
// of a frame whose bytes so far are consistent is `truncated`, whatever comes after the
// cut.
//
// What is decoded, and why the edges are drawn where they are:
//   - Ethernet II: 14 bytes. A wire frame shorter than that is malformed. Short frames
//     (under the 60-byte minimum) are not: frames captured on transmit are seen before
//     the NIC pads them. Type values below 0x0600 are 802.3 lengths (LLC frames such as
//     the bridge's own STP BPDUs): reported in `ethertype` as they are, not decoded.
//   - VLAN: 802.1Q (0x8100) and 802.1ad (0x88a8) tags, outermost first, at most two (QinQ,
//     the deepest nesting a bridge port sees in practice). At a third tag decoding stops
//     without error: `vlan_tags` is 2 and `ethertype` is that third tag's TPID, which is
//     how a consumer can tell that more tags followed.
//   - ARP (0x0806): protocol Arp; for Ethernet/IPv4 ARP the sender and target protocol
//     addresses go to src_ip/dst_ip (first 4 bytes), so that ARP can be attributed like
//     IP. `family` stays Other: the frame carries no IP header, and per-family counters
//     must not count ARP.
//   - IPv4: version 4, IHL >= 5, total length >= IHL*4 and inside the wire frame.
//     Options are skipped by IHL. Only the first fragment (offset 0) carries the L4
//     header; a later fragment reports the protocol from the IP header and no ports.
//   - IPv6: version 6, payload inside the wire frame. Extension headers are walked:
//     Hop-by-Hop (0, only directly after the fixed header, as RFC 8200 requires),
//     Routing (43), Destination Options (60) — length in 8-byte units plus 1; AH (51) —
//     length in 4-byte units plus 2; Fragment (44) — a non-first fragment reports the
//     protocol of its next header and no ports. ESP (50) encrypts what follows and No
//     Next Header (59) ends the chain: protocol Other, not an error. At most
//     kMaxIpv6ExtHeaders are walked: a legitimate packet has at most 7 (each header once,
//     Destination Options twice), so more is an attempt to make the hot path walk an
//     arbitrarily long chain, and is malformed.
//   - A zero IPv4 total length or IPv6 payload length is taken literally, except when the
//     wire frame is too long for the 16-bit field to have described it: then it is a
//     Linux BIG TCP super-packet or an RFC 2675 jumbogram seen by the tap, and the
//     datagram runs to the end of the wire frame.
//   - TCP (6): data offset >= 5 and the header inside the datagram. UDP (17): 8 bytes
//     inside the datagram; its length field is not checked (GSO and jumbograms make it
//     legitimately disagree, and nothing here depends on it). ICMP (1, IPv4 only) and
//     ICMPv6 (58, IPv6 only): 4 bytes inside the datagram. A first fragment too short to
//     hold its L4 header (RFC 1858's tiny fragments, produced by no real stack) is
//     malformed.
//   - Anything else ends decoding with protocol Other and no error.
//
// Exactly which captured bytes are needed: those the decoder reads — the Ethernet header,
// each VLAN tag, the IPv4 (20) or IPv6 (40) fixed header, the first 2 bytes of each IPv6
// extension header (4 of a Fragment header), and of the L4 header only the fields
// reported (TCP: 14 bytes, up to the flags; UDP: 4, the ports; ICMP: 1, the type).
// Skipped bytes (IP options, extension header bodies, TCP options) need not be captured;
// their lengths are still checked against the datagram.
//
// A header's fields are set only once the header has been found consistent and the bytes
// read from it were captured; a truncated or malformed header leaves its fields zero. So
// decoding a prefix of a frame (the same wire_len) always yields the full decode's
// fields or zeros, and the prefix is marked truncated exactly when it ends before a byte
// the full decode read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace vnetd::collectors {

using MacBytes = std::array<uint8_t, 6>;  // same layout as vnetd::MacAddress::bytes

enum class Family : uint8_t { Other, IPv4, IPv6 };
enum class Protocol : uint8_t { Other, Tcp, Udp, Icmp, Icmp6, Arp };

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q C-tag
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad S-tag
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEtherTypeMinimum = 0x0600;  // below: an 802.3 length
inline constexpr uint8_t kMaxVlanTags = 2;
inline constexpr int kMaxIpv6ExtHeaders = 8;

// TCP flags byte (tcp_flags).
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10, kTcpUrg = 0x20;

struct FrameInfo {
  MacBytes src_mac{}, dst_mac{};
  // VIDs of the outer and inner tag; a single tag is the outer one. 0 when there is no
  // such tag, and for a priority-only (802.1p) tag, whose VID is 0: vlan_tags tells.
  uint16_t vlan_outer = 0, vlan_inner = 0;
  uint8_t vlan_tags = 0;       // tags decoded, 0..kMaxVlanTags
  uint16_t ethertype = 0;      // the type after the tags
  Family family = Family::Other;
  Protocol protocol = Protocol::Other;
  std::array<uint8_t, 16> src_ip{}, dst_ip{};  // network order; IPv4 in the first 4 bytes
  uint16_t src_port = 0, dst_port = 0;         // TCP and UDP only, host order
  uint8_t tcp_flags = 0;                       // the raw flags byte (kTcp*)
  uint8_t icmp_type = 0;                       // ICMP or ICMPv6
  // Destination MAC. Disjoint, as in IF-MIB's counters: broadcast is not also multicast.
  bool broadcast = false, multicast = false;
  bool malformed = false;  // the bytes (or the wire length) say something impossible
  bool truncated = false;  // a byte the decoder needed was not captured

  friend bool operator==(const FrameInfo&, const FrameInfo&) = default;
};

// Decodes one captured frame. `wire_len` is the length on the wire (pkthdr.len); it is
// never less than frame.size() for a real capture, and is taken as frame.size() if it
// is. Any thread; pure.
FrameInfo decodeFrame(std::span<const std::byte> frame, uint32_t wire_len) noexcept;

// decodeFrame with a memory of one frame: a frame whose bytes equal the previous frame's
// in every bit the decoder reads, at the same captured and wire length, gets the previous
// result without decoding. That is most frames of a bulk TCP transfer or a UDP stream (they
// differ only in IPv4 id, TTL, checksum, IPv6 flow label, TCP sequence numbers and payload).
// Remembered only for the simplest shapes — untagged Ethernet; IPv4 without options, first
// (or only) fragment, or IPv6 without extension headers; TCP or UDP — whose read bytes are
// fixed offsets in the first 48 (IPv4), 64 (IPv6 UDP) or 72 (IPv6 TCP) bytes, all captured.
// Always the same result as decodeFrame (unit tests flip every byte; fuzz_packet compares
// the two on every input). One thread.
class RepeatDecoder {
 public:
  const FrameInfo& decode(std::span<const std::byte> frame, uint32_t wire_len) noexcept;
  // The last decode() answered from memory: that frame read as the one before it.
  bool repeated() const { return repeated_; }
  // Frames answered from memory so far (tests).
  uint64_t reused() const { return reused_; }

 private:
  static constexpr size_t kWords = 9;  // the first 72 bytes at most
  FrameInfo last_;
  std::array<uint64_t, kWords> words_{}, masks_{};  // masks_: the bits the decoder read
  size_t bytes_ = 0;  // how many of the first bytes words_ holds (48, 64 or 72)
  size_t caplen_ = 0;
  uint64_t wire_len_ = 0;
  uint64_t reused_ = 0;
  bool valid_ = false;
  bool repeated_ = false;
};

}  // namespace vnetd::collectors
