// Fuzzes the forwarding marker (<state_dir>/forwarding, src/daemon/forwarding.h): a file on
// disk that a crashed or older vnetd may have left, read at every start. decodeForwardingMarker
// must never crash, answer a bad file in one line, and whatever it accepts must survive
// encode → decode unchanged (the restore at the next stop reads what this start writes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/forwarding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = vnetd::daemon::decodeForwardingMarker(text);
  if (!decoded) {
    if (decoded.error().message().find('\n') != std::string::npos) std::abort();  // one line
    return 0;
  }
  const std::string encoded = vnetd::daemon::encodeForwardingMarker(*decoded);
  auto again = vnetd::daemon::decodeForwardingMarker(encoded);
  if (!again || !(*again == *decoded)) std::abort();
  if (vnetd::daemon::encodeForwardingMarker(*again) != encoded) std::abort();
  return 0;
}
