// Pure readers of the Linux kernel's self-descriptions that `vnetctl doctor` consults:
// the kernel configuration (/proc/config.gz, /boot/config-<release>), the module lists
// (/proc/modules, /lib/modules/<release>/modules.builtin and modules.dep) and boolean
// sysctls under /proc/sys. Outside bytes: never throw, any input is fine (fuzzed by
// tests/fuzz/fuzz_linux_kernel_facts.cc).
#pragma once

#include <optional>
#include <string_view>

namespace vnetd::platform::linux_facts {

// A kernel configuration symbol's setting in `config` (the text of a .config):
// 'y' (built in), 'm' (module), 'n' ("# CONFIG_X is not set"), nullopt when the text
// does not mention it. `symbol` includes the CONFIG_ prefix.
std::optional<char> kernelConfigOption(std::string_view config, std::string_view symbol);

// Whether /proc/modules text lists `module` (first field of a line). Module names
// compare with '-' and '_' as the same character, as the kernel does.
bool procModulesListed(std::string_view proc_modules, std::string_view module);

// Whether a modules.builtin / modules.dep text lists `module`: a line whose path (up to
// the first ':') has the base name <module>.ko, optionally compressed (.ko.xz, .ko.zst, ...).
bool moduleFileListed(std::string_view list, std::string_view module);

// A boolean sysctl's text ("0\n", "1\n"): nullopt unless it is one integer.
std::optional<bool> parseSysctlFlag(std::string_view text);

}  // namespace vnetd::platform::linux_facts
