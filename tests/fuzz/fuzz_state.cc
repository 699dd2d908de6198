// Fuzzes the state file codec: decodeState must never crash on any bytes, and whatever
// it accepts must survive encodeState → decodeState unchanged (otherwise a save would
// write a file that the next load rejects or reads differently).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "core/state_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const char> bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = vnetd::decodeState(bytes);
  if (!decoded) {
    if (decoded.error().message().find('\n') != std::string::npos) std::abort();  // one line
    return 0;
  }
  if (!vnetd::validateState(*decoded).ok()) std::abort();
  const std::string encoded = vnetd::encodeState(*decoded);
  auto again = vnetd::decodeState(std::span<const char>(encoded.data(), encoded.size()));
  if (!again || !(*again == *decoded)) std::abort();
  if (vnetd::encodeState(*again) != encoded) std::abort();
  return 0;
}
