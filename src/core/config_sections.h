// The schema: which tables and keys a vnetd.toml has, and how each value fills Config.
// Reads one table at a time (what a single value can tell: type, range, syntax, unknown
// keys) and records where everything was written for the cross-section rules
// (config_validate.h). A value that fails is reported and left unset.
#pragma once

#include <toml++/toml.h>

#include "core/config.h"
#include "core/config_errors.h"
#include "core/config_positions.h"

namespace vnetd {

// `config` holds the defaults on entry; every table of `root` is read into it.
void readSections(const toml::table& root, Config& config, ConfigPositions& positions,
                  ConfigErrors& errors);

}  // namespace vnetd
