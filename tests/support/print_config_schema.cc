// Prints what vnetd's configuration loader knows, one line each, for
// tests/scripts/check_man_pages.py (every table and key must be in vnetd.toml(5)):
//   table TABLE          a table allowed at the top level ("daemon", "bridge", ...)
//   key TABLE KEY        a key of TABLE ("bridge.* nat", "jail.*.limits pcpu")
// Taken from the loader's own lists (config_sections.h configSchema(), rctl_resources.h),
// so that a key added to the loader cannot be left out of the page.
#include <cstdio>
#include <string>

#include "core/config_sections.h"
#include "core/rctl_resources.h"

int main() {
  auto print = [](std::string line, std::string_view a, std::string_view b = {}) {
    line += " ";
    line += a;
    if (!b.empty()) line += " " + std::string(b);
    std::puts(line.c_str());
  };
  for (std::string_view t : vnetd::configTopLevelTables()) print("table", t);
  for (const auto& t : vnetd::configSchema())
    for (std::string_view k : t.keys) print("key", t.table, k);
  for (const auto& r : vnetd::rctlResources()) print("key", "jail.*.limits", r.name);
  return 0;
}
