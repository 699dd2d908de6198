// Host facts that the platform-neutral core needs but cannot read portably.
#pragma once

#include <string>

#include "core/result.h"

namespace vnetd::platform {

// A stable identifier of this host, used to derive jail MACs that differ between hosts
// sharing an L2 segment (USERS.md #5). FreeBSD: sysctl kern.hostuuid. Linux:
// /etc/machine-id. Whitespace-trimmed; never empty on success.
// Any thread; reads the OS each call (cheap, called once per hook).
Result<std::string> readHostId();

}  // namespace vnetd::platform
