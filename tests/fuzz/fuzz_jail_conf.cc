// Fuzzes the jail.conf(5) reader: arbitrary bytes must give jails or one error line,
// never a crash, a hang, an escaping exception or unbounded memory. `.include` is
// resolved by an includer that hands back the input itself a few times, then nothing
// (and nothing for a glob).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/jail_conf.h"

namespace {

void check(const vnetd::Result<std::vector<vnetd::JailConfJail>>& r) {
  if (!r.ok()) {
    if (r.error().message().find('\n') != std::string::npos) std::abort();
    return;
  }
  for (const vnetd::JailConfJail& j : *r) {
    if (j.error.find('\n') != std::string::npos) std::abort();
    for (const vnetd::JailConfParam& p : j.params) {
      if (p.values.size() != p.value_locations.size()) std::abort();
      (void)j.values(p.name);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  check(vnetd::parseJailConf(text, "fuzz.conf"));
  // At most 8 inclusions in all: two `.include`s per copy would otherwise double the
  // work at each of the 32 levels.
  int left = 8;
  vnetd::JailConfIncluder includer = [&text, &left](const std::string& pattern,
                                                    const std::string&) -> vnetd::Result<std::vector<vnetd::JailConfText>> {
    if (pattern.find('*') != std::string::npos || left == 0) return std::vector<vnetd::JailConfText>{};
    --left;
    return std::vector<vnetd::JailConfText>{{"fuzz-included.conf", text}};
  };
  check(vnetd::parseJailConf(text, "fuzz.conf", includer));
  return 0;
}
