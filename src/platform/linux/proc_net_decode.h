// Decoder of /proc/net/{tcp,tcp6,udp,udp6} (issue 19: doctor's "does the jail listen"),
// pure so that it is unit-tested and fuzzed (tests/fuzz/fuzz_linux_proc_net.cc).
//
// Format (Linux net/ipv4/tcp_ipv4.c tcp4_seq_show / get_tcp4_sock, net/ipv6/tcp_ipv6.c,
// net/ipv4/udp.c udp4_format_sock): a header line, then one line per socket
//   "  sl  local_address rem_address   st ..."
//   "   0: 0100007F:0050 00000000:0000 0A ..."
// local_address is hex address:port (the port in host order as four hex digits, the
// address 8 or 32 hex digits), st the socket state in hex (TCP_LISTEN = 0x0A,
// include/net/tcp_states.h; a bound UDP socket is TCP_CLOSE = 0x07, a connected one
// TCP_ESTABLISHED = 0x01).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace vnetd::platform::lnx {

struct ProcNetSocket {
  uint16_t local_port = 0;
  uint8_t state = 0;
  friend bool operator==(const ProcNetSocket&, const ProcNetSocket&) = default;
};

inline constexpr uint8_t kTcpListen = 0x0A;

// Every socket line; error (errno 0) for text that is not such a table (a line without
// "sl:" / local_address / st fields in their places).
Result<std::vector<ProcNetSocket>> decodeProcNetSockets(std::string_view text);

}  // namespace vnetd::platform::lnx
