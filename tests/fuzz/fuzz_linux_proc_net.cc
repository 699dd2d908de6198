// Fuzzes the decoder of /proc/net/{tcp,tcp6,udp,udp6} (issue 19, doctor's listening check):
// any bytes give sockets or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/linux/proc_net_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vnetd::platform::lnx::decodeProcNetSockets(text);
  return 0;
}
