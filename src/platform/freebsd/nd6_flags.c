#include "platform/freebsd/nd6_flags.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>

#include <errno.h>
#include <string.h>

const uint32_t vnetd_nd6_iff_ifdisabled = ND6_IFF_IFDISABLED;
const uint32_t vnetd_nd6_iff_no_dad = ND6_IFF_NO_DAD;
const uint32_t vnetd_nd6_iff_accept_rtadv = ND6_IFF_ACCEPT_RTADV;
const uint32_t vnetd_nd6_iff_auto_linklocal = ND6_IFF_AUTO_LINKLOCAL;
const uint32_t vnetd_nd6_iff_no_radr = ND6_IFF_NO_RADR;

static int getInfo(int fd, const char* ifname, struct in6_ndireq* nd) {
  if (strlen(ifname) >= sizeof nd->ifname) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memset(nd, 0, sizeof *nd);
  strncpy(nd->ifname, ifname, sizeof nd->ifname - 1);
  return ioctl(fd, SIOCGIFINFO_IN6, nd);
}

int vnetd_nd6_get_flags(int fd, const char* ifname, uint32_t* flags) {
  struct in6_ndireq nd;
  if (getInfo(fd, ifname, &nd) != 0) return -1;
  *flags = nd.ndi.flags;
  return 0;
}

int vnetd_nd6_change_flags(int fd, const char* ifname, uint32_t set, uint32_t clear) {
  struct in6_ndireq nd;
  // SIOCGIFINFO_IN6 copies the interface's whole nd_ifinfo; SIOCSIFINFO_IN6 takes the
  // flags from the same structure (and linkmtu/basereachable/retrans/chlim, which go
  // back unchanged), as ifconfig does.
  if (getInfo(fd, ifname, &nd) != 0) return -1;
  uint32_t wanted = (nd.ndi.flags | set) & ~clear;
  if (wanted == nd.ndi.flags) return 0;
  nd.ndi.flags = wanted;
  return ioctl(fd, SIOCSIFINFO_IN6, &nd);
}
