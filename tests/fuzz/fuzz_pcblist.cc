// Fuzzes the FreeBSD TCP / UDP socket-list decoder (pcblist_decode.h; pure code, built on
// every OS — see tests/fuzz/CMakeLists.txt): the xinpgen head / tail framing, the walk by
// each record's own length, and the listening / bound selection. The first input byte
// picks the list (even: TCP, odd: UDP); the rest is the sysctl's answer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "platform/freebsd/pcblist_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fb = vnetd::platform::fbsd;
  if (size == 0) return 0;
  const auto proto = (data[0] & 1) ? fb::PcbProto::Udp : fb::PcbProto::Tcp;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  auto list = fb::decodePcbList(bytes, proto);
  if (!list) {
    if (list.error().context.empty()) __builtin_trap();  // every refusal says why
    for (char c : list.error().context)
      if (c == '\n') __builtin_trap();  // one line
    return 0;
  }
  // Head and tail are at least an xinpgen each, every record at least its struct.
  const size_t record = proto == fb::PcbProto::Tcp ? fb::kXtcpcbSize : fb::kXinpcbSize;
  if (2 * fb::kXinpgenSize + list->sockets.size() * record > bytes.size()) __builtin_trap();
  const auto ports = fb::boundPorts(list->sockets, proto);
  if (ports.size() > list->sockets.size()) __builtin_trap();
  for (const auto& p : ports) {
    if (p.proto != (proto == fb::PcbProto::Tcp ? vnetd::ExposeProto::Tcp : vnetd::ExposeProto::Udp))
      __builtin_trap();
    if (proto == fb::PcbProto::Udp && p.port == 0) __builtin_trap();  // unbound never counts
  }
  for (const auto& s : list->sockets) {
    if (proto == fb::PcbProto::Tcp && !s.tcp_state) __builtin_trap();
    if (proto == fb::PcbProto::Udp && s.tcp_state) __builtin_trap();
  }
  return 0;
}
