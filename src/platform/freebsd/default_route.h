// Setting a default route over a FreeBSD routing socket (PF_ROUTE) so that exactly one
// nexthop via our gateway remains: request images, the RTM_GET reply decoder, the
// decision what to do next, and the look-act loop.
//
// Pure and platform-neutral like rtsock_decode.h: compiled and unit-tested on Linux too,
// against byte images laid out per the FreeBSD amd64 ABI; every constant below is
// static_assert'ed against <net/route.h> in abi_checks.cc. route_socket.cc (FreeBSD only)
// supplies the socket.
//
// Why not just RTM_ADD, RTM_CHANGE on EEXIST (what vnetd did first): since FreeBSD 14,
// RTM_ADD of a prefix that exists *appends* the new nexthop and makes the route
// multipath (ECMP) — sys/net/route/route_ctl.c add_route_byinfo() passes
// RTM_F_CREATE | RTM_F_APPEND for every non-RTF_PINNED route, add_route_flags() then
// takes add_route_flags_mpath() whenever net.route.multipath is on (the default,
// VNET_DEFINE rib_route_multipath = 1) and both nexthops have gateways. EEXIST comes
// only for the very same nexthop (nhgrp_ctl.c nhgrp_alloc(): duplicate nh_idx) or with
// multipath off. A jail whose gateway changed thus kept the old one too, and traffic was
// split between both. The facts the decision below relies on, all in the same sources:
//
//  - RTM_GET of an exact prefix (RTA_NETMASK given) with no RTA_GATEWAY answers for the
//    FIRST nexthop of a multipath route only (rtsock.c handle_rtm_get → select_nhop():
//    wn[0]; the group is sorted by nexthop index, nhgrp_ctl.c sort_weightened_nhops()).
//    Its rmx_weight is the route entry's weight (update_rtm_from_rc: rc_nh_weight =
//    rt->rt_weight), which is 0 exactly when the route is a nexthop group:
//    nhgrp_get_addition_group() and nhgrp_get_filtered_group() give groups
//    rnd_weight = 0, route_ctl.c change_route() copies it into rt_weight, while a
//    single nexthop always has a weight >= 1 (get_info_weight() turns 0 into the
//    default: RT_DEFAULT_WEIGHT = 1 on add, the old weight on change; a group cut down
//    to one nexthop takes that nexthop's weight).
//  - RTM_CHANGE of a single-nexthop route replaces its nexthop in one step (route_ctl.c
//    rib_change_route → change_route_byinfo → change_nhop + change_route_conditional);
//    the new nexthop looks up its interface from the new gateway only if the old one
//    had a gateway (change_nhop), and keeps the old one's other flags, blackhole/reject
//    included (nhop_ctl.c nhop_create_from_nhop: nhop_copy + alter_nhop_from_info).
//    So RTM_CHANGE is used only on a plain gateway route; others are deleted and added.
//  - RTM_CHANGE of a multipath route changes the nexthop whose gateway equals the
//    request's gateway, and fails ESRCH when none does (change_mpath_route): it can
//    never collapse a group.
//  - RTM_DELETE with RTA_GATEWAY removes the first nexthop with that gateway; a group
//    left with one nexthop becomes a plain route with that nexthop's weight
//    (rib_del_route → match_gw_one → rt_delete_conditional →
//    nhgrp_get_filtered_group). RTM_DELETE without RTA_GATEWAY deletes a single-nexthop
//    route and fails ESRCH on a group (rt_delete_conditional: no filter on a group).
//  - rtsock.c route_output() maps RTM_ADD/CHANGE/DELETE to rib_action() and adds no
//    RTM_F_* flags of its own; a group has at most RIB_MAX_MPATH_WIDTH (64) nexthops
//    (route_var.h; nhgrp_alloc() refuses more).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"

namespace vnetd::platform::fbsd {

using RouteBytes = std::vector<std::byte>;

// FreeBSD ABI facts (amd64, FreeBSD 14/15), verified in abi_checks.cc.
inline constexpr uint8_t kRtmAdd = 0x1, kRtmDelete = 0x2, kRtmChange = 0x3, kRtmGet = 0x4;
inline constexpr int kRtaDst = 0x1, kRtaGateway = 0x2;  // kRtaNetmask: rtsock_decode.h
inline constexpr int kRtaxDst = 0, kRtaxGateway = 1, kRtaxNetmask = 2;
inline constexpr int kRtfUp = 0x1, kRtfGateway = 0x2, kRtfReject = 0x8, kRtfStatic = 0x800,
                     kRtfBlackhole = 0x1000;
inline constexpr size_t kRtMsghdrSize = 152;        // sizeof(struct rt_msghdr)
inline constexpr size_t kRtmIndexOffset = 4;        // u_short rtm_index
inline constexpr size_t kRtmFlagsOffset = 8;        // int rtm_flags
inline constexpr size_t kRtmAddrsOffset = 12;       // int rtm_addrs
inline constexpr size_t kRtmPidOffset = 16;         // pid_t rtm_pid
inline constexpr size_t kRtmSeqOffset = 20;         // int rtm_seq
inline constexpr size_t kRtmErrnoOffset = 24;       // int rtm_errno
inline constexpr size_t kRtmRmxWeightOffset = 120;  // rtm_rmx.rmx_weight (u_long)
// RIB_MAX_MPATH_WIDTH of sys/net/route/route_var.h (kernel-only header, not pinnable).
inline constexpr unsigned kMaxMultipathWidth = 64;

// The default route as one RTM_GET reply describes it.
struct DefaultRoute {
  // The nexthop's gateway when it is an address of the route's own family (KAME's
  // embedded scope cleared for IPv6 link-local); nullopt for interface routes and for
  // IPv4 routes via an IPv6 nexthop.
  std::optional<IpAddress> gateway;
  RouteBytes gateway_sockaddr;  // RTA_GATEWAY exactly as the kernel wrote it; empty if absent
  int flags = 0;                // rtm_flags (RTF_*)
  uint16_t out_index = 0;       // rtm_index
  uint64_t weight = 0;          // rtm_rmx.rmx_weight: 0 for a multipath (nexthop group) route
  bool multipath() const { return weight == 0; }
  // A usable route via a gateway address (no blackhole/reject, no interface route).
  bool plainGateway() const {
    return (flags & kRtfGateway) != 0 && (flags & (kRtfBlackhole | kRtfReject)) == 0;
  }
};

struct RouteReply {
  enum class Kind : uint8_t {
    NotOurs,    // another message (other type, pid or sequence, other version): keep reading
    NoRoute,    // our reply: no such route (rtm_errno ESRCH)
    Failed,     // our reply with another rtm_errno (in `error`)
    Malformed,  // our reply, but a sockaddr runs past the message
    Found,      // our reply, with `route`
  };
  Kind kind = Kind::NotOurs;
  int error = 0;
  DefaultRoute route;
};

// Decodes one message read from the routing socket, which answers our RTM_GET of the
// default route of `family` when its type, pid and sequence number match. Never reads
// outside `msg`.
RouteReply decodeDefaultRouteReply(std::span<const std::byte> msg, IpFamily family, int32_t pid,
                                   int32_t seq);

// A sockaddr_in / sockaddr_in6 image of `address` (sa_len set, scope id 0).
RouteBytes sockaddrOf(const IpAddress& address);

// The request `type` (kRtmAdd, kRtmChange, kRtmDelete, kRtmGet) for the default route of
// `family`: DST 0/0 and a zero NETMASK (exact-prefix match), plus GATEWAY when
// `gateway` is not empty (flags RTF_UP | RTF_STATIC, and RTF_GATEWAY with a gateway).
RouteBytes encodeDefaultRouteRequest(uint8_t type, IpFamily family, int32_t seq,
                                     std::span<const std::byte> gateway = {});

// One step towards "exactly one nexthop, via `gateway`".
struct RouteOp {
  enum class Kind : uint8_t {
    Add,     // RTM_ADD via `gateway`
    Change,  // RTM_CHANGE of the single-nexthop route to `gateway`
    Delete,  // RTM_DELETE: of the nexthop `gateway` (a sockaddr as RTM_GET reported it),
             // or of the whole single-nexthop route when `gateway` is empty
  };
  Kind kind = Kind::Add;
  RouteBytes gateway;
  friend bool operator==(const RouteOp&, const RouteOp&) = default;
};

// What to do next, given what RTM_GET says now (nullopt: no default route). Empty when
// the route is already exactly one plain nexthop via `gateway`:
//   none                                  → Add
//   one plain gateway nexthop, ours       → nothing
//   one plain gateway nexthop, another    → Change (atomic: never without a default)
//   one nexthop of another kind           → Delete (whole route), Add
//   multipath (several nexthops)          → Delete the nexthop RTM_GET named, then look
//                                           again: each round removes one; the last
//                                           one left is kept or changed as above.
// Removing the reported nexthop even when it is ours is what makes the rounds converge:
// RTM_GET only ever names the group's first nexthop. The route never disappears on the
// way (a group keeps at least one nexthop; Change is in place).
Result<std::vector<RouteOp>> planDefaultRoute(const std::optional<DefaultRoute>& now,
                                              const IpAddress& gateway);

// True when `op` failing with `err` only means the route changed between our look and
// our request (someone else added, changed or deleted it): look again instead of failing.
bool changedUnderUs(const RouteOp& op, int err);

// The routing table as replaceDefaultRoute sees it. Implemented over the routing socket
// (route_socket.cc) and by test models of the kernel.
class DefaultRouteTable {
 public:
  virtual ~DefaultRouteTable() = default;
  // RTM_GET of the default route (exact prefix, no gateway); nullopt when there is none.
  virtual Result<std::optional<DefaultRoute>> lookup() = 0;
  // Sends `op`; the error carries the kernel's errno, and context only for what the
  // errno does not say (replaceDefaultRoute names the operation itself).
  virtual Result<void> apply(const RouteOp& op) = 0;
};

// Rounds of look + act before giving up: one per nexthop of the widest group, plus the
// final change and the look that confirms it, plus a few for others' changes in between.
inline constexpr unsigned kDefaultRouteRounds = kMaxMultipathWidth + 4;

// Looks and acts (planDefaultRoute) until the default route of `gateway`'s family is one
// plain nexthop via `gateway`. `what` prefixes error messages ("set default route via X
// in jail web"). A route that does not settle within kDefaultRouteRounds (someone keeps
// changing it, or the kernel does not behave as the sources above say) is an EAGAIN error.
Result<void> replaceDefaultRoute(DefaultRouteTable& table, const IpAddress& gateway,
                                 const std::string& what);

}  // namespace vnetd::platform::fbsd
