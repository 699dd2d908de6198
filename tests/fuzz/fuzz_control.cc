// Fuzzes the control-protocol request decoder: never a crash or an exception; every
// accepted request re-encodes to a line that decodes to the same request.
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
  return 0;
}
