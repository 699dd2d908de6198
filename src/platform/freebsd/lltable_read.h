// Reading the neighbour caches (ARP, NDP) of the calling process's network stack.
// FreeBSD only; the bytes are decoded by lltable_decode.h.
//
// Like getifaddrs (interfaces.h), the dump is a sysctl and answers for the *calling
// process's* vnet (KERNEL-API.md section 13; sys/net/if_llatbl.c lltable_sysctl_dumparp
// walks V_lltables, the current vnet's list): the host's for the daemon. A jail's caches
// are read by a child attached to the jail (jail_child.h), which ships these bytes back
// unchanged — they are decoded in the parent.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/result.h"

namespace vnetd::platform::fbsd {

// sysctl {CTL_NET, PF_ROUTE, 0, af, NET_RT_FLAGS, RTF_LLINFO} for AF_INET, then AF_INET6,
// concatenated (each message names its own family). A kernel without INET6 has no IPv6
// tables and answers with nothing.
Result<std::vector<std::byte>> readNeighbourDump();

// The same for an arbitrary stack (host: readNeighbourDump; a jail: a child attached to it).
using NeighbourReader = std::function<Result<std::vector<std::byte>>()>;

}  // namespace vnetd::platform::fbsd
