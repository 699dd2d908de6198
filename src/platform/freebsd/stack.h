// Internals shared by the FreeBSD NetStack, Jails and EventSource implementations.
// FreeBSD only.
//
// Which network stack (vnet) a NetStack acts on is decided by where its sockets were
// created: `ifioctl` and the routing socket run in `so->so_vnet`. The host's sockets are
// created by the daemon itself; a jail's by a child attached to the jail (jail_child.h),
// passed back with SCM_RIGHTS. Reading the interface list is the exception — it is a
// sysctl, answered in the *caller's* vnet — hence the InterfaceReader; so is reading the
// neighbour caches — hence the NeighbourReader.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"
#include "platform/freebsd/interfaces.h"
#include "platform/freebsd/lltable_read.h"
#include "platform/netif.h"

namespace vnetd::platform::fbsd {

struct StackSockets {
  UniqueFd local;  // AF_LOCAL datagram: interface ioctls (create, rename, flags, bridge, move)
  UniqueFd inet;   // AF_INET datagram: IPv4 address ioctls (SIOCAIFADDR is per family)
  UniqueFd inet6;  // AF_INET6 datagram: IPv6 address ioctls; invalid on a kernel without INET6
  UniqueFd route;  // PF_ROUTE raw: default route changes and lookups
};

// The four sockets, created in the calling process's vnet.
Result<StackSockets> openStackSockets();

// Sends one router solicitation out of interface `ifname` of the stack
// (NetStack::solicitRouters). Like reading the interface list, it has to run *in* the
// stack: the raw socket it sends on belongs to the vnet it is created in. The host's is
// solicitRoutersHere itself; a jail's runs it in a child attached to the jail.
using RouterSolicitor = std::function<Result<void>(const std::string& ifname)>;

// In the calling process's vnet: the interface's MAC from readInterfaces(), then
// platform::sendRouterSolicitation (router_socket.h). ENODEV for no such interface.
Result<void> solicitRoutersHere(const std::string& ifname);

// A NetStack over `sockets`, listing interfaces with `reader` and neighbours with
// `neighbours`, soliciting routers with `solicitor`. `where` names the stack in error
// messages ("" for the host, "jail web" for a jail).
std::unique_ptr<NetStack> makeNetStack(StackSockets sockets, InterfaceReader reader,
                                       NeighbourReader neighbours, RouterSolicitor solicitor,
                                       std::string where);

}  // namespace vnetd::platform::fbsd
