#include "platform/listening.h"

#include <cerrno>

namespace vnetd::platform {

// Not read on FreeBSD: the sockets of a jail are in the host's pcb lists
// (net.inet.tcp.pcblist), tagged by credential, not in a per-jail table; doctor names
// sockstat(1) -j instead.
Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail) {
  return Error{ENOTSUP, "jail " + jail.name + ": listening sockets are not read on FreeBSD"};
}

}  // namespace vnetd::platform
