// Fuzzes the Linux neighbour-cache decoder (RTM_NEWNEIGH/DELNEIGH, what "auto" address
// allocation reads from the bridge), through the message splitter like a dump reply.
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/linux/rtnl_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::platform::lnx;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  (void)forEachMessage(bytes, [](std::span<const std::byte> m) {
    auto n = decodeNeighbourMessage(m);
    if (n) (void)neighbourInUse(*n);
  });
  (void)decodeNeighbourMessage(bytes);
  return 0;
}
