// Per-interface IPv6 neighbour-discovery flags (ND6_IFF_*), read and changed the way
// ifconfig(8) does for `inet6 -ifdisabled` / `inet6 no_dad` (sbin/ifconfig/af_nd6.c
// setnd6flags: SIOCGIFINFO_IN6, change the flags, SIOCSIFINFO_IN6, on an AF_INET6
// socket; sys/netinet6/nd6.c nd6_ioctl applies the flag changes). FreeBSD only.
//
// Written in C (nd6_flags.c): <netinet6/nd6.h> declares `struct prf_ra` nested inside
// another struct, which is file scope in C and a nested type in C++, so the header does
// not compile as C++.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const uint32_t vnetd_nd6_iff_ifdisabled;  // ND6_IFF_IFDISABLED: IPv6 switched off
extern const uint32_t vnetd_nd6_iff_no_dad;      // ND6_IFF_NO_DAD: no duplicate address detection
// Issue 19 (address6 = "slaac"):
extern const uint32_t vnetd_nd6_iff_accept_rtadv;    // ND6_IFF_ACCEPT_RTADV: process RAs
extern const uint32_t vnetd_nd6_iff_auto_linklocal;  // ND6_IFF_AUTO_LINKLOCAL: form fe80:: from the MAC
extern const uint32_t vnetd_nd6_iff_no_radr;         // ND6_IFF_NO_RADR: ignore RAs' default routers

// Sets the ND6_IFF_* bits in `set` and clears those in `clear` on `ifname`, through the
// AF_INET6 socket `fd` (its vnet is the one changed). Nothing is written when the flags
// are already so. 0, or -1 with errno (ENXIO: no such interface).
int vnetd_nd6_change_flags(int fd, const char* ifname, uint32_t set, uint32_t clear);
// The ND6_IFF_* flags of `ifname` into `*flags`. 0, or -1 with errno.
int vnetd_nd6_get_flags(int fd, const char* ifname, uint32_t* flags);

#ifdef __cplusplus
}
#endif
