// Fuzzes the reader of libnftables' JSON listing of `list table ip vnetd` (Linux NAT, pure
// code), the commands built from what it read, and the error-buffer reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/linux/nft_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace lnx = vnetd::platform::lnx;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto listing = lnx::decodeNftNatListing(text)) {
    for (const auto& [bridge, rules] : listing->bridges) {
      (void)lnx::nftNatRemoveCommands(bridge, rules);
      (void)lnx::nftNatLoadCommands(bridge, "eth0", rules.nat.subnets, rules);
    }
  }
  (void)lnx::nftError("fuzz", text);
  return 0;
}
