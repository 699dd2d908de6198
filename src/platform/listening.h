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

// TCP sockets in LISTEN and bound UDP sockets of the jail's stack, IPv4 and IPv6; the
// local address is not looked at (a service bound to one address, loopback included,
// counts). Duplicates are possible (one entry per socket).
// Linux: /proc/net/{tcp,tcp6,udp,udp6} opened from inside the jail's namespace.
// FreeBSD: sysctl net.inet.tcp.pcblist and net.inet.udp.pcblist read by a child attached
// to the jail (the lists are per vnet), decoded by freebsd/pcblist_decode.h; a bound
// UDP socket there is one with a local port and no foreign one.
// When the read fails (the jail stopped, not root), doctor names the command to look
// by hand (`sockstat -4 -6 -l -j <jail>` / `ss -ltnu` in the namespace).
Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail);

}  // namespace vnetd::platform
