// Fuzzes the reader of `nft -j list table ip vnetd` (Linux NAT, pure code).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/linux/nft_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vnetd::platform::lnx::decodeNftNatListing(text);
  return 0;
}
