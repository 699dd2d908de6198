// Fuzzes doctor's readers of the Linux kernel's self-descriptions (kernel config text,
// /proc/modules, modules.builtin / modules.dep, sysctl flags): any bytes, no crash, and
// the answers stay within their contracts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/linux/kernel_facts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::platform::linux_facts;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view symbol : {"CONFIG_VETH", "CONFIG_BRIDGE", "CONFIG_NF_TABLES"}) {
    auto opt = kernelConfigOption(text, symbol);
    if (opt && *opt != 'y' && *opt != 'm' && *opt != 'n') __builtin_trap();
  }
  for (std::string_view module : {"veth", "bridge", "nf_tables"}) {
    (void)procModulesListed(text, module);
    (void)moduleFileListed(text, module);
  }
  // An empty module name is never "listed".
  if (procModulesListed(text, "") || moduleFileListed(text, "")) __builtin_trap();
  (void)parseSysctlFlag(text);
  return 0;
}
