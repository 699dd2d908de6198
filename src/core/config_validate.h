// Rules between tables of a configuration, run once every table has been read
// (config_sections.h): references resolve (bridges, vlans), subnets do not overlap,
// addresses, MACs and kernel interface names are unique, jail addresses and gateways sit
// in their bridge's subnet, member MTUs agree with the bridge. Also fills what follows
// from a jail's bridge (default gateway, mtu). Each error is put at the value to change.
// toml++-free: it sees only Config and the positions recorded while reading.
#pragma once

#include "core/config.h"
#include "core/config_errors.h"
#include "core/config_positions.h"

namespace vnetd {

// Values that failed to read are unset in `config` and cause no errors here.
void validateConfig(Config& config, ConfigPositions& positions, ConfigErrors& errors);

}  // namespace vnetd
