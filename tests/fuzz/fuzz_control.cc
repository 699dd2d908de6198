// Fuzzes the control-protocol decoders: requests (the daemon's side) and replies (the
// hook's and vnetctl's side, capture headers included) — never a crash or an exception;
// every accepted request or header re-encodes to a line that decodes to the same value;
// errors are one line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::control;
  auto r = decodeRequest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r) {
    auto again = decodeRequest(encodeRequest(*r));
    if (!again || !(*again == *r)) std::abort();
  } else if (r.error().message().find('\n') != std::string::npos) {
    std::abort();  // errors go back to the client as one line
  }
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto reply = decodeHookReply(line);
  if (reply) {
    auto again = decodeHookReply(encodeHookReply(*reply));
    if (!again || again->jail_side_names != reply->jail_side_names || again->changed != reply->changed) std::abort();
  }
  (void)decodeReplyStatus(line);
  auto header = decodeCaptureHeader(line);
  if (header) {
    auto again = decodeCaptureHeader(encodeCaptureHeader(*header));
    if (!again || !(*again == *header)) std::abort();
  }
  return 0;
}
