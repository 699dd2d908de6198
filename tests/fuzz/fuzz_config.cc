// Fuzzes the configuration loader: arbitrary bytes must give a Config or errors, never a
// crash, an escaping exception, a leak or a multi-line message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  vnetd::ConfigLoadResult result = vnetd::parseConfig(text, "fuzz.toml");
  // The contract: a config or errors, never both, never neither.
  if (result.ok() != result.errors.empty()) std::abort();
  for (const vnetd::ConfigError& e : result.errors) {
    if (e.toString().find('\n') != std::string::npos) std::abort();
  }
  if (result.ok()) {
    // Exercise the defaults instantiation and the configured-jail path too.
    (void)result.config->jailFor("fuzz-jail");
    for (const auto& [name, jail] : result.config->jails) (void)result.config->jailFor(name);
  }
  return 0;
}
