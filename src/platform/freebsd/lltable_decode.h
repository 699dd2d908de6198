// The FreeBSD neighbour caches (IPv4 ARP, IPv6 NDP) as sysctl
// {CTL_NET, PF_ROUTE, 0, AF_INET | AF_INET6, NET_RT_FLAGS, RTF_LLINFO} dumps them
// (the tables `arp -an` / `ndp -an` show; arp(8) itself reads this sysctl only when built
// WITHOUT_NETLINK — usr.sbin/arp/arp.c print_entries — and asks netlink by default) →
// platform-neutral NeighbourInfo.
//
// Pure and platform-neutral like rtsock_decode.h: compiled, unit-tested and fuzzed on
// Linux against byte images laid out per the FreeBSD amd64 ABI; every offset and value
// below (and the rt_msghdr ones reused from default_route.h) is static_assert'ed against
// the real headers in abi_checks.cc. lltable_read.h does the sysctl (FreeBSD only).
//
// What the kernel writes, read in a FreeBSD 15-CURRENT tree (__FreeBSD_version 1500012,
// early 2024: the stored snapshots of freebsd/freebsd-src's own in.c are far older), a
// GitHub copy of freebsd-src: fel1x-developer/freebsd-src at 2d614aa2 (sys/netinet/in.c,
// sys/net/if_llatbl.c, sys/net/route.h, usr.sbin/arp/arp.c) and b252a43e
// (sys/netinet6/in6.c, sys/net/rtsock.c); the IPv4 dump function is unchanged from the
// 13.x copies seen alongside. The layouts are also asserted against Zig's FreeBSD 15
// headers in abi_checks.cc.
//  - sys/net/rtsock.c sysctl_rtsock: NET_RT_FLAGS with RTF_LLINFO in the flags argument
//    (and a non-zero af; 0 is EINVAL) goes to lltable_sysctl_dumparp, not to the route
//    walk. sys/net/if_llatbl.c lltable_sysctl_dumparp → lltable_dump_af calls each
//    table's llt_dump_entry for every entry of every interface of that family, loopback
//    interfaces excepted, back to back in one buffer.
//  - One message per entry, a C struct written whole with SYSCTL_OUT:
//    IPv4 (sys/netinet/in.c in_lltable_dump_entry): struct { rt_msghdr; sockaddr_in;
//    sockaddr_dl }; IPv6 (sys/netinet6/in6.c in6_lltable_dump_entry): struct {
//    rt_msghdr; sockaddr_in6; uint32_t pad (LP64 only, "ndp.c assumes that sdl is word
//    aligned"); sockaddr_dl }. rtm_msglen = sizeof the struct (224 / 240 on amd64),
//    rtm_version RTM_VERSION, rtm_type RTM_GET, rtm_addrs RTA_DST | RTA_GATEWAY,
//    rtm_index = the interface. On LP64 the sockaddr_dl therefore sits exactly where the
//    routing-socket rule puts the second sockaddr (after SA_SIZE of the first: 16 / 32),
//    which is how usr.sbin/arp/arp.c search() finds it; this decoder walks it that way.
//  - The sockaddr_dl carries the link-layer address only when the entry is resolved:
//    sdl_alen = if_addrlen and the address at LLADDR() when la_flags has LLE_VALID,
//    sdl_alen = 0 (address zeroed) otherwise — an entry still resolving, or whose
//    resolution failed. arp(8) print_entry prints exactly those as "(incomplete)".
//  - rtm_flags: RTF_UP | RTF_HOST | RTF_LLDATA always; RTF_STATIC for entries set by hand
//    (LLE_STATIC); RTF_PINNED for LLE_IFADDR, the entry the kernel keeps for one of the
//    interface's OWN addresses (sys/net/if_llatbl.h: "entry is interface addr").
//  - IPv6 addresses come with their KAME embedded scope already removed
//    (in6_lltable_dump_entry calls sa6_recoverscope).
//
// Input is untrusted bytes: every length is checked against the buffer; a dump that is
// not a sequence of such messages is an error as a whole (a misread dump must not turn
// into a confidently short neighbour list). Nothing is read outside the span, nothing
// throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/netif.h"

namespace vnetd::platform::fbsd {

// FreeBSD ABI facts (amd64, FreeBSD 14/15), verified in abi_checks.cc.
inline constexpr int kRtfLlinfo = 0x400;      // RTF_LLINFO (the sysctl's flags argument)
inline constexpr int kRtfPinned = 0x100000;   // RTF_PINNED: lltable entry of an own address
inline constexpr size_t kSdlAlenOffset = 6;   // offsetof(sockaddr_dl, sdl_alen)
inline constexpr size_t kSockaddrDlSize = 54; // sizeof(struct sockaddr_dl): the kernel's sdl_len

// One entry of a dump, as the kernel described it.
struct LltableEntry {
  uint32_t link_index = 0;        // rtm_index
  IpAddress address;              // RTA_DST
  std::optional<MacAddress> mac;  // the link-layer address when it is 6 bytes long
  bool resolved = false;          // sdl_alen != 0: LLE_VALID, something answered (or static)
  bool own_address = false;       // RTF_PINNED: the interface's own address (LLE_IFADDR)
  int flags = 0;                  // rtm_flags
};

// Decodes a whole dump (one or more families' dumps concatenated; empty is an empty
// table). Errors name the byte offset of the offending message and what is wrong.
Result<std::vector<LltableEntry>> decodeLltableDump(std::span<const std::byte> dump);

// The entries NetStack::neighbours() reports: resolved (something answered, or set by
// hand), not the interface's own address (addresses() reports those), on `link_index`
// (0: every link). Unresolved entries say nothing about an address being in use.
std::vector<NeighbourInfo> neighboursInUse(const std::vector<LltableEntry>& entries,
                                           uint32_t link_index);

}  // namespace vnetd::platform::fbsd
