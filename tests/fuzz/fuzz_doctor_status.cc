// Fuzzes vnetctl doctor's decoder of the daemon's status reply: any line, no crash or
// exception, and whatever decodes names only jails and interfaces vnetd would accept.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/vnetctl/doctor_checks.h"
#include "core/naming.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto st = vnetd::cli::doctor::parseDaemonStatus(line);
  if (!st) return 0;
  for (const auto& j : st->jails) {
    if (!vnetd::isValidJailName(j.name)) __builtin_trap();
    for (const auto& i : j.interfaces)
      if (!vnetd::isValidInterfaceName(i.host_name) || !vnetd::isValidInterfaceName(i.jail_name)) __builtin_trap();
  }
  return 0;
}
