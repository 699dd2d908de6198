// Fuzzes doctor's reader of libnftables' `list ruleset` JSON (platform/linux/
// forward_firewall.h) and the evaluation of what it decodes (platform/forward_firewall.h):
// any listing, however odd (loops of jumps, missing chains, huge sets), must decode or be
// refused with an error, and evaluate in bounded time.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/forward_firewall.h"
#include "platform/linux/forward_firewall.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rs = platform::lnx::decodeNftRuleset(text);
  if (!rs) return 0;
  static const Cidr v4 = *Cidr::parse("198.18.239.0/24");
  static const Cidr v6 = *Cidr::parse("2001:db8:239::/64");
  (void)platform::forwardBlocks(*rs, "br-fw", v4);
  (void)platform::forwardBlocks(*rs, "br-fw", v6);
  (void)platform::lnx::legacyFilterListed(text);
  return 0;
}
