// Issue 19: the ports a jail's own stack has sockets bound to, for `vnetctl doctor`'s check
// of each port forward ("does the jail listen on the jail port?"). Read-only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/expose.h"
#include "core/result.h"
#include "platform/jails.h"

namespace vnetd::platform {

struct BoundPort {
  ExposeProto proto = ExposeProto::Tcp;
  uint16_t port = 0;
  friend bool operator==(const BoundPort&, const BoundPort&) = default;
};

// TCP sockets in LISTEN and bound UDP sockets of the jail's stack, IPv4 and IPv6.
// Linux: /proc/net/{tcp,tcp6,udp,udp6} opened from inside the jail's namespace.
// FreeBSD: not read (ENOTSUP; doctor then names `sockstat -4 -6 -l -j <jail>`).
Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail);

}  // namespace vnetd::platform
