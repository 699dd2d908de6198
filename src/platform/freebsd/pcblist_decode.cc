#include "platform/freebsd/pcblist_decode.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "platform/freebsd/wire.h"

namespace vnetd::platform::fbsd {
namespace {

const char* listName(PcbProto proto) {
  return proto == PcbProto::Tcp ? "TCP socket list (net.inet.tcp.pcblist)"
                                : "UDP socket list (net.inet.udp.pcblist)";
}

Error bad(PcbProto proto, size_t at, const std::string& what) {
  return Error{EBADMSG, std::string(listName(proto)) + ": at byte " + std::to_string(at) + ": " +
                            what};
}

uint16_t netOrder16(std::span<const std::byte> s, size_t offset) {
  const auto hi = std::to_integer<uint16_t>(s[offset]);
  const auto lo = std::to_integer<uint16_t>(s[offset + 1]);
  return static_cast<uint16_t>(hi << 8 | lo);
}

// The xinpcb part (`xi` is at least kXinpcbSize bytes: checked by the caller).
PcbSocket decodeXinpcb(std::span<const std::byte> xi) {
  PcbSocket s;
  const size_t inc = kXinpcbIncOffset;
  s.vflag = loadHost<uint8_t>(xi, kXinpcbVflagOffset);
  s.local_port = netOrder16(xi, inc + kIncLportOffset);
  s.foreign_port = netOrder16(xi, inc + kIncFportOffset);
  if (s.vflag & kInpIpv4) {
    s.local.family = IpFamily::V4;
    std::memcpy(s.local.bytes.data(), xi.data() + inc + kIncLaddrOffset + kIa46Addr4Offset, 4);
  } else {
    s.local.family = IpFamily::V6;
    std::memcpy(s.local.bytes.data(), xi.data() + inc + kIncLaddrOffset, 16);
  }
  return s;
}

}  // namespace

Result<PcbList> decodePcbList(std::span<const std::byte> bytes, PcbProto proto) {
  const size_t size = bytes.size();
  if (size < kXinpgenSize)
    return bad(proto, 0,
               std::to_string(size) + " bytes, shorter than its xinpgen header (" +
                   std::to_string(kXinpgenSize) + ")");
  // The same struct opens and closes the list (tcp_pcblist / udp_pcblist write `xig`
  // twice): its length, from the head, says where the tail starts.
  const uint64_t head_len = loadHost<uint64_t>(bytes, 0);
  if (head_len < kXinpgenSize || head_len > size / 2)
    return bad(proto, 0,
               "xinpgen length " + std::to_string(head_len) + " is not between " +
                   std::to_string(kXinpgenSize) + " and half the list (" + std::to_string(size) +
                   " bytes): not a PCB list");
  const size_t head = static_cast<size_t>(head_len);
  const size_t tail = size - head;
  const uint64_t tail_len = loadHost<uint64_t>(bytes, tail);
  if (tail_len != head_len)
    return bad(proto, tail,
               "the closing xinpgen has length " + std::to_string(tail_len) + ", expected " +
                   std::to_string(head_len) + " (list truncated?)");

  const size_t min_record = proto == PcbProto::Tcp ? kXtcpcbSize : kXinpcbSize;
  PcbList out;
  out.consistent =
      loadHost<uint64_t>(bytes, kXigGenOffset) == loadHost<uint64_t>(bytes, tail + kXigGenOffset);
  size_t pos = head;
  while (pos < tail) {
    const size_t remaining = tail - pos;
    if (remaining < sizeof(uint64_t))
      return bad(proto, pos, std::to_string(remaining) + " stray bytes before the closing xinpgen");
    const uint64_t len = loadHost<uint64_t>(bytes, pos);
    if (len < min_record)
      return bad(proto, pos,
                 "record length " + std::to_string(len) + " is shorter than a" +
                     (proto == PcbProto::Tcp ? " struct xtcpcb (" : " struct xinpcb (") +
                     std::to_string(min_record) + ")");
    if (len > remaining)
      return bad(proto, pos,
                 "record length " + std::to_string(len) + " runs past the closing xinpgen (" +
                     std::to_string(remaining) + " bytes left)");
    const auto record = bytes.subspan(pos, static_cast<size_t>(len));
    PcbSocket s;
    if (proto == PcbProto::Tcp) {
      // t_state lies after the embedded xinpcb: a different xinpcb size moves it.
      const uint64_t inner = loadHost<uint64_t>(record, kXtcpcbInpOffset);
      if (inner != kXinpcbSize)
        return bad(proto, pos,
                   "embedded xinpcb length " + std::to_string(inner) + ", expected " +
                       std::to_string(kXinpcbSize) + " (a kernel whose layout vnetd does not know)");
      s = decodeXinpcb(record.subspan(kXtcpcbInpOffset));
      s.tcp_state = loadHost<int32_t>(record, kXtcpcbStateOffset);
    } else {
      s = decodeXinpcb(record);
    }
    out.sockets.push_back(s);
    pos += static_cast<size_t>(len);
  }
  return out;
}

std::vector<BoundPort> boundPorts(const std::vector<PcbSocket>& sockets, PcbProto proto) {
  std::vector<BoundPort> out;
  for (const PcbSocket& s : sockets) {
    if (proto == PcbProto::Tcp) {
      if (s.tcp_state != kTcpsListen) continue;
      out.push_back({ExposeProto::Tcp, s.local_port});
    } else {
      if (s.local_port == 0 || s.foreign_port != 0) continue;
      out.push_back({ExposeProto::Udp, s.local_port});
    }
  }
  return out;
}

}  // namespace vnetd::platform::fbsd
