// Fuzzes doctor's readers of pfctl -s output (pure code, built on every OS).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/freebsd/pf_show.h"
#include "platform/freebsd/policy_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::platform::fbsd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)pfInfoEnabled(text);
  static const vnetd::Cidr subnet = *vnetd::Cidr::parse("198.18.0.1/24");
  (void)pfNatRulesCover(text, "em0", subnet);
  (void)pfNatLoaded(text);
  // `pfctl -s nat` of the main ruleset: the daemon's and doctor's nat-anchor check.
  (void)pfConfHasVnetdNatAnchor(text);
  return 0;
}
