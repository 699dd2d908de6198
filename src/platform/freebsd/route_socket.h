// Default routes over a PF_ROUTE socket. FreeBSD only.
//
// The socket decides the vnet (a jail's socket changes the jail's table). Requests are
// RTM_* messages written to it; the kernel answers write(2) with the error, and echoes
// the message (with RTM_GET: the route found) to every routing socket of that vnet,
// ours included — so lookups read replies back, matched by our pid and sequence number.
// What to send, and how replies decode, is platform-neutral: default_route.h.
#pragma once

#include <optional>

#include "core/ip.h"
#include "core/result.h"
#include "platform/netif.h"

namespace vnetd::platform::fbsd {

// Makes the default route of `gateway`'s family exactly one nexthop via `gateway`:
// adds it, changes another gateway in place, and takes apart a multipath default route
// (which a plain RTM_ADD would have extended: see default_route.h). `where` names the
// stack in error messages.
Result<void> setDefaultRoute(int route_fd, const IpAddress& gateway, const std::string& where);

// The default route of `family` (RTM_GET of 0/0), nullopt when there is none. Of a
// multipath route, the kernel reports the first nexthop.
Result<std::optional<RouteInfo>> getDefaultRoute(int route_fd, IpFamily family,
                                                 const std::string& where);

}  // namespace vnetd::platform::fbsd
