// Fuzzes the per-frame capture decoder (collectors/packet_decode.h). Input: 2 bytes of
// wire-length slack (big-endian: how many more bytes the frame had on the wire than were
// captured, so snaplen cuts, BIG TCP and jumbogram lengths are all reachable), then the
// captured frame. Beyond "no crash, no read outside the frame" (ASan), it checks the
// contract the capture's counters rely on, that RepeatDecoder (which remembers the
// previous frame, here the previous input's) always answers as decodeFrame does, and that
// the Aggregator's shortcut for repeated frames counts exactly as its whole path does.
#include <cstddef>
#include <cstdint>
#include <span>

#include "collectors/capture_aggregator.h"
#include "collectors/packet_decode.h"

namespace {

using vnetd::collectors::Aggregator;
using vnetd::collectors::Attribution;
using vnetd::collectors::decodeFrame;
using vnetd::collectors::Family;
using vnetd::collectors::FrameInfo;
using vnetd::collectors::Protocol;
using vnetd::collectors::RepeatDecoder;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void checkInvariants(const FrameInfo& f, size_t captured, uint32_t wire) {
  // One verdict at most, and truncation needs bytes the capture did not keep.
  check(!(f.malformed && f.truncated));
  check(!f.truncated || captured < wire);
  // Fields belong to the layers that set them.
  bool tcp_udp = f.protocol == Protocol::Tcp || f.protocol == Protocol::Udp;
  check(tcp_udp || (f.src_port == 0 && f.dst_port == 0));
  check(f.protocol == Protocol::Tcp || f.tcp_flags == 0);
  check(f.protocol == Protocol::Icmp || f.protocol == Protocol::Icmp6 || f.icmp_type == 0);
  check(f.family == Family::IPv4 || f.family == Family::IPv6 || f.protocol == Protocol::Other ||
        f.protocol == Protocol::Arp);
  check(f.protocol != Protocol::Arp || f.family == Family::Other);
  check(f.protocol != Protocol::Icmp || f.family == Family::IPv4);
  check(f.protocol != Protocol::Icmp6 || f.family == Family::IPv6);
  if (f.family == Family::IPv4 || f.protocol == Protocol::Arp) {
    for (size_t i = 4; i < 16; ++i) check(f.src_ip[i] == 0 && f.dst_ip[i] == 0);
  }
  check(f.vlan_tags <= vnetd::collectors::kMaxVlanTags);
  check(f.vlan_tags >= 1 || f.vlan_outer == 0);
  check(f.vlan_tags == 2 || f.vlan_inner == 0);
  check(f.vlan_outer <= 0x0fff && f.vlan_inner <= 0x0fff);
  check(!(f.broadcast && f.multicast));
}

// A prefix (same wire length) knows less, never something else.
template <typename T>
bool zeroOrSame(const T& part, const T& full) {
  return part == T{} || part == full;
}

void checkPrefix(const FrameInfo& p, const FrameInfo& full) {
  if (!p.truncated) {
    check(p == full);
    return;
  }
  check(zeroOrSame(p.src_mac, full.src_mac) && zeroOrSame(p.dst_mac, full.dst_mac));
  check(zeroOrSame(p.vlan_outer, full.vlan_outer) && zeroOrSame(p.vlan_inner, full.vlan_inner));
  check(zeroOrSame(p.vlan_tags, full.vlan_tags) && zeroOrSame(p.ethertype, full.ethertype));
  check(zeroOrSame(p.family, full.family) && zeroOrSame(p.protocol, full.protocol));
  check(zeroOrSame(p.src_ip, full.src_ip) && zeroOrSame(p.dst_ip, full.dst_ip));
  check(zeroOrSame(p.src_port, full.src_port) && zeroOrSame(p.dst_port, full.dst_port));
  check(zeroOrSame(p.tcp_flags, full.tcp_flags) && zeroOrSame(p.icmp_type, full.icmp_type));
  check(zeroOrSame(p.broadcast, full.broadcast) && zeroOrSame(p.multicast, full.multicast));
}

// Two aggregators, one taking the shortcut for repeated frames and one never, across
// inputs; each input goes in twice (the second time a repeat whenever the shape allows).
// The jails own the two MACs the seed corpus's frames are between.
void checkAggregators(std::span<const std::byte> frame, uint32_t wire) {
  static Aggregator whole(64, 10), shortcut(64, 10);
  static uint32_t now = 0;
  if (now == 0) {
    auto table = Attribution::build(
        {{{0x02, 0x16, 0xf3, 0x95, 0xec, 0xf6}, "a"}, {{0x02, 0x5b, 0x10, 0x44, 0x20, 0x01}, "b"}});
    whole.setAttribution(table);
    shortcut.setAttribution(table);
    whole.shortcutRepeats(false);
  }
  ++now;
  for (int i = 0; i < 2; ++i) check(whole.add(frame, wire, now) == shortcut.add(frame, wire, now));
  if (now % 16 == 0) {
    whole.expire(now);
    shortcut.expire(now);
  }
  auto x = whole.snapshot(true), y = shortcut.snapshot(true);
  check(x.jails == y.jails && x.peers == y.peers && x.bridge == y.bridge);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t slack = uint32_t{data[0]} << 8 | data[1];
  std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data + 2), size - 2);
  auto wire = static_cast<uint32_t>(frame.size() + slack);

  FrameInfo full = decodeFrame(frame, wire);
  checkInvariants(full, frame.size(), wire);
  static RepeatDecoder repeat;  // across inputs: the fuzzer's next input is often a mutation
  check(repeat.decode(frame, wire) == full);
  checkAggregators(frame, wire);
  // Everything the capture kept was on the wire: without slack nothing is truncated.
  if (slack == 0) check(!full.truncated);

  // Shorter captures of the same wire frame: every cut near the start, where nearly all
  // headers are, then a sample (IPv6 extension headers can reach kilobytes in).
  for (size_t k = 0; k < frame.size(); k += k < 256 ? 1 : 1 + frame.size() / 64) {
    FrameInfo part = decodeFrame(frame.first(k), wire);
    checkInvariants(part, k, wire);
    // A prefix is malformed only where the full frame is, with the same fields.
    check(!part.malformed || part == full);
    checkPrefix(part, full);
  }
  // wire_len below the captured size is taken as the captured size.
  check(decodeFrame(frame, 0) == decodeFrame(frame, static_cast<uint32_t>(frame.size())));
  return 0;
}
