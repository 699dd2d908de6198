// Fuzzes the readers of libnftables' JSON listings of `list table ip vnetd` (Linux NAT) and
// `list table inet vnetd` (port forwards, issue 19) (pure
// code), the commands built from what it read, and the error-buffer reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/linux/nft_expose.h"
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
  // Issue 19: the forward table's listing (table inet vnetd), same JSON.
  if (auto listing = lnx::decodeNftExposeListing(text)) {
    for (const auto& [jail, rules] : listing->jails) {
      (void)lnx::nftExposeRemoveCommands(jail, *listing);
      (void)lnx::nftExposeLoaded(jail, {}, *listing);
    }
  }
  (void)lnx::nftError("fuzz", text);
  return 0;
}
