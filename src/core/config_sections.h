// The schema: which tables and keys a vnetd.toml has, and how each value fills Config.
// Reads one table at a time (what a single value can tell: type, range, syntax, unknown
// keys) and records where everything was written for the cross-section rules
// (config_validate.h). A value that fails is reported and left unset.
#pragma once

#include <toml++/toml.h>

#include <span>
#include <string_view>

#include "core/config.h"
#include "core/config_errors.h"
#include "core/config_positions.h"

namespace vnetd {

// One table of the schema: its name as written in a file, with "*" for a key the user
// chooses ("daemon", "bridge.*", "jail.*.interface"), and the keys readSections() accepts
// in it — the very lists it checks keys against.
struct ConfigTableSchema {
  std::string_view table;
  std::span<const std::string_view> keys;
};

// What readSections() knows, for checks that keep the documentation complete
// (tests/scripts/check_man_pages.py via tests/support/print_config_schema.cc): the tables
// allowed at the top level, and the keys of each table. The keys of [jail.*.limits] are
// the rctl resources (rctl_resources.h rctlResources()).
std::span<const std::string_view> configTopLevelTables();
std::span<const ConfigTableSchema> configSchema();

// `config` holds the defaults on entry; every table of `root` is read into it.
void readSections(const toml::table& root, Config& config, ConfigPositions& positions,
                  ConfigErrors& errors);

}  // namespace vnetd
