// Compile-time checks that the constants vnetd's platform-neutral code relies on match
// the FreeBSD ABI. These run in CI through the Zig x86_64-freebsd cross-compile
// (scripts/check-freebsd) against FreeBSD 15 headers, and natively on FreeBSD.
//
// The pure decoders and request builders (rtsock_decode, default_route, bridge_request) are compiled
// and tested on Linux, where these headers do not exist: every offset, size and value
// they hard-code is pinned here against the real definitions, so a header change breaks
// the FreeBSD build instead of silently misreading kernel messages.
#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_bridgevar.h>
#include <net/if_dl.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/socketvar.h>
#include <netinet/in_pcb.h>
#include <netinet/tcp_fsm.h>
#include <netinet/tcp_var.h>

#include <cstddef>

#include "core/naming.h"
#include "platform/freebsd/bridge_request.h"
#include "platform/freebsd/default_route.h"
#include "platform/freebsd/lltable_decode.h"
#include "platform/freebsd/pcblist_decode.h"
#include "platform/freebsd/rtsock_decode.h"

namespace {

namespace fb = vnetd::platform::fbsd;

// --- names
static_assert(IFNAMSIZ == 16, "FreeBSD IFNAMSIZ changed: interface-name derivation assumes 16");
static_assert(vnetd::kMaxInterfaceNameLength + 1 == IFNAMSIZ,
              "generated names must fit IFNAMSIZ including the NUL");
static_assert(fb::kIfNameSize == IFNAMSIZ && fb::kBridgeNameSize == IFNAMSIZ);
static_assert(sizeof(struct ifreq) == 32, "struct ifreq is 32 bytes on LP64 FreeBSD");

// --- address families and sockaddrs
static_assert(fb::kAfInet == AF_INET && fb::kAfInet6 == AF_INET6 && fb::kAfLink == AF_LINK);
static_assert(offsetof(struct sockaddr, sa_len) == 0 && offsetof(struct sockaddr, sa_family) == 1,
              "every sockaddr starts with sa_len, sa_family (one byte each)");
static_assert(sizeof(sa_family_t) == 1);
static_assert(offsetof(struct sockaddr_in, sin_len) == 0 &&
              offsetof(struct sockaddr_in, sin_family) == 1);
static_assert(offsetof(struct sockaddr_in, sin_addr) == fb::kSinAddrOffset);
static_assert(sizeof(struct in_addr) == 4);
static_assert(sizeof(struct sockaddr_in) == fb::kSockaddrInSize);
static_assert(offsetof(struct sockaddr_in6, sin6_len) == 0 &&
              offsetof(struct sockaddr_in6, sin6_family) == 1);
static_assert(offsetof(struct sockaddr_in6, sin6_addr) == fb::kSin6AddrOffset);
static_assert(sizeof(struct in6_addr) == 16);
static_assert(sizeof(struct sockaddr_in6) == fb::kSockaddrIn6Size);
static_assert(offsetof(struct sockaddr_dl, sdl_len) == 0 &&
              offsetof(struct sockaddr_dl, sdl_family) == 1);
static_assert(offsetof(struct sockaddr_dl, sdl_nlen) == fb::kSdlNlenOffset);
static_assert(offsetof(struct sockaddr_dl, sdl_data) == fb::kSdlDataOffset,
              "sockaddr_dl: the interface name starts sdl_data");

// SA_SIZE itself (not a re-statement of its formula) against saSize for every sa_len.
constexpr bool saSizeMatchesKernelMacro() {
  for (unsigned len = 0; len <= 255; ++len) {
    struct sockaddr sa {};
    sa.sa_len = static_cast<unsigned char>(len);
    struct sockaddr* p = &sa;
    if (SA_SIZE(p) != fb::saSize(static_cast<uint8_t>(len))) return false;
  }
  return true;
}
static_assert(sizeof(long) == 8, "SA_SIZE rounds to sizeof(long): saSize assumes LP64");
static_assert(saSizeMatchesKernelMacro(), "saSize() disagrees with <net/route.h> SA_SIZE()");

// --- routing socket: common header, versions, types, address bits
static_assert(fb::kRtmVersion == RTM_VERSION);
static_assert(fb::kRtmNewAddr == RTM_NEWADDR && fb::kRtmDelAddr == RTM_DELADDR &&
              fb::kRtmIfInfo == RTM_IFINFO && fb::kRtmIfAnnounce == RTM_IFANNOUNCE);
static_assert(fb::kRtaNetmask == RTA_NETMASK && fb::kRtaIfp == RTA_IFP && fb::kRtaIfa == RTA_IFA);
static_assert(fb::kRtaxMax == RTAX_MAX);
static_assert(RTA_NETMASK == 1 << RTAX_NETMASK && RTA_IFP == 1 << RTAX_IFP &&
                  RTA_IFA == 1 << RTAX_IFA,
              "sockaddrs follow in RTA bit order");
static_assert(offsetof(struct rt_msghdr, rtm_msglen) == 0 &&
              offsetof(struct rt_msghdr, rtm_version) == 2 &&
              offsetof(struct rt_msghdr, rtm_type) == 3 &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_msglen) == 2);

// --- struct if_data (inside RTM_IFINFO; also getifaddrs' ifa_data)
static_assert(sizeof(struct if_data) == fb::kIfDataSize && fb::kIfDataSize == 152);
static_assert(offsetof(struct if_data, ifi_link_state) == fb::kIfiLinkStateOffset);
static_assert(sizeof(((struct if_data*)nullptr)->ifi_link_state) == 1);
static_assert(fb::kLinkStateUnknown == LINK_STATE_UNKNOWN &&
              fb::kLinkStateDown == LINK_STATE_DOWN && fb::kLinkStateUp == LINK_STATE_UP);

// --- struct if_msghdr (RTM_IFINFO)
static_assert(sizeof(struct if_msghdr) == fb::kIfMsghdrSize);
static_assert(offsetof(struct if_msghdr, ifm_msglen) == 0 &&
              offsetof(struct if_msghdr, ifm_version) == 2 &&
              offsetof(struct if_msghdr, ifm_type) == 3);
static_assert(offsetof(struct if_msghdr, ifm_addrs) == 4);
static_assert(offsetof(struct if_msghdr, ifm_index) == fb::kIfmIndexOffset);
static_assert(sizeof(((struct if_msghdr*)nullptr)->ifm_index) == 2);
static_assert(offsetof(struct if_msghdr, ifm_data) == fb::kIfmDataOffset);

// --- struct if_announcemsghdr (RTM_IFANNOUNCE)
static_assert(sizeof(struct if_announcemsghdr) == fb::kIfAnnounceMsghdrSize);
static_assert(offsetof(struct if_announcemsghdr, ifan_msglen) == 0 &&
              offsetof(struct if_announcemsghdr, ifan_version) == 2 &&
              offsetof(struct if_announcemsghdr, ifan_type) == 3);
static_assert(offsetof(struct if_announcemsghdr, ifan_index) == fb::kIfanIndexOffset);
static_assert(offsetof(struct if_announcemsghdr, ifan_name) == fb::kIfanNameOffset);
static_assert(sizeof(((struct if_announcemsghdr*)nullptr)->ifan_name) == fb::kIfNameSize);
static_assert(offsetof(struct if_announcemsghdr, ifan_what) == fb::kIfanWhatOffset);
static_assert(fb::kIfanArrival == IFAN_ARRIVAL && fb::kIfanDeparture == IFAN_DEPARTURE);

// --- struct ifa_msghdr (RTM_NEWADDR / RTM_DELADDR)
static_assert(sizeof(struct ifa_msghdr) == fb::kIfaMsghdrSize);
static_assert(offsetof(struct ifa_msghdr, ifam_msglen) == 0 &&
              offsetof(struct ifa_msghdr, ifam_version) == 2 &&
              offsetof(struct ifa_msghdr, ifam_type) == 3);
static_assert(offsetof(struct ifa_msghdr, ifam_addrs) == fb::kIfamAddrsOffset);
static_assert(sizeof(((struct ifa_msghdr*)nullptr)->ifam_addrs) == 4);
static_assert(offsetof(struct ifa_msghdr, ifam_index) == fb::kIfamIndexOffset);
static_assert(sizeof(((struct ifa_msghdr*)nullptr)->ifam_index) == 2);

// --- struct rt_msghdr (RTM_ADD / CHANGE / DELETE / GET: default_route.h)
static_assert(fb::kRtmAdd == RTM_ADD && fb::kRtmDelete == RTM_DELETE &&
              fb::kRtmChange == RTM_CHANGE && fb::kRtmGet == RTM_GET);
static_assert(fb::kRtaDst == RTA_DST && fb::kRtaGateway == RTA_GATEWAY);
static_assert(fb::kRtaxDst == RTAX_DST && fb::kRtaxGateway == RTAX_GATEWAY &&
              fb::kRtaxNetmask == RTAX_NETMASK);
static_assert(RTA_DST == 1 << RTAX_DST && RTA_GATEWAY == 1 << RTAX_GATEWAY);
static_assert(fb::kRtfUp == RTF_UP && fb::kRtfGateway == RTF_GATEWAY &&
              fb::kRtfReject == RTF_REJECT && fb::kRtfStatic == RTF_STATIC &&
              fb::kRtfBlackhole == RTF_BLACKHOLE);
static_assert(sizeof(struct rt_msghdr) == fb::kRtMsghdrSize);
static_assert(offsetof(struct rt_msghdr, rtm_index) == fb::kRtmIndexOffset &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_index) == 2);
static_assert(offsetof(struct rt_msghdr, rtm_flags) == fb::kRtmFlagsOffset &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_flags) == 4);
static_assert(offsetof(struct rt_msghdr, rtm_addrs) == fb::kRtmAddrsOffset &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_addrs) == 4);
static_assert(offsetof(struct rt_msghdr, rtm_pid) == fb::kRtmPidOffset && sizeof(pid_t) == 4);
static_assert(offsetof(struct rt_msghdr, rtm_seq) == fb::kRtmSeqOffset &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_seq) == 4);
static_assert(offsetof(struct rt_msghdr, rtm_errno) == fb::kRtmErrnoOffset &&
              sizeof(((struct rt_msghdr*)nullptr)->rtm_errno) == 4);
static_assert(offsetof(struct rt_msghdr, rtm_rmx) + offsetof(struct rt_metrics, rmx_weight) ==
                  fb::kRtmRmxWeightOffset &&
              sizeof(((struct rt_metrics*)nullptr)->rmx_weight) == 8);
static_assert(RT_DEFAULT_WEIGHT == 1,
              "a single-nexthop route has weight >= 1: default_route.h tells groups by weight 0");

// --- if_bridge requests
static_assert(sizeof(struct ifbreq) == fb::kIfbreqSize, "struct ifbreq is 80 bytes on 14 and 15");
static_assert(offsetof(struct ifbreq, ifbr_ifsname) == fb::kIfbrIfsnameOffset);
static_assert(sizeof(((struct ifbreq*)nullptr)->ifbr_ifsname) == fb::kBridgeNameSize);
static_assert(offsetof(struct ifbreq, ifbr_ifsflags) == fb::kIfbrIfsflagsOffset);
static_assert(sizeof(((struct ifbreq*)nullptr)->ifbr_ifsflags) == 4);
static_assert(sizeof(struct ifbifconf) == fb::kIfbifconfSize);
static_assert(offsetof(struct ifbifconf, ifbic_len) == fb::kIfbicLenOffset);
static_assert(offsetof(struct ifbifconf, ifbic_buf) == fb::kIfbicBufOffset);
static_assert(sizeof(struct ifdrv) == fb::kIfdrvSize);
static_assert(offsetof(struct ifdrv, ifd_name) == fb::kIfdNameOffset);
static_assert(sizeof(((struct ifdrv*)nullptr)->ifd_name) == fb::kBridgeNameSize);
static_assert(offsetof(struct ifdrv, ifd_cmd) == fb::kIfdCmdOffset);
static_assert(sizeof(((struct ifdrv*)nullptr)->ifd_cmd) == 8);
static_assert(offsetof(struct ifdrv, ifd_len) == fb::kIfdLenOffset);
static_assert(sizeof(((struct ifdrv*)nullptr)->ifd_len) == 8);
static_assert(offsetof(struct ifdrv, ifd_data) == fb::kIfdDataOffset);
static_assert(sizeof(((struct ifdrv*)nullptr)->ifd_data) == 8);
static_assert(fb::kBrdgAdd == BRDGADD && fb::kBrdgDel == BRDGDEL &&
              fb::kBrdgGifflgs == BRDGGIFFLGS && fb::kBrdgSifflgs == BRDGSIFFLGS &&
              fb::kBrdgGifs == BRDGGIFS);
static_assert(fb::kIfbifLearning == IFBIF_LEARNING && fb::kIfbifDiscover == IFBIF_DISCOVER &&
              fb::kIfbifStp == IFBIF_STP && fb::kIfbifSpan == IFBIF_SPAN &&
              fb::kIfbifPrivate == IFBIF_PRIVATE);

// --- neighbour-cache dump (lltable_decode.h)
static_assert(fb::kRtfLlinfo == RTF_LLINFO && fb::kRtfPinned == RTF_PINNED);
static_assert(offsetof(struct sockaddr_dl, sdl_alen) == fb::kSdlAlenOffset &&
              sizeof(((struct sockaddr_dl*)nullptr)->sdl_alen) == 1);
static_assert(sizeof(struct sockaddr_dl) == fb::kSockaddrDlSize);
// The entry images exactly as sys/netinet/in.c in_lltable_dump_entry and
// sys/netinet6/in6.c in6_lltable_dump_entry declare them (the IPv6 one with its LP64
// pad): the decoder finds the sockaddr_dl by SA_SIZE of the destination, which must be
// where these structs put it, and the lengths must be the rtm_msglen the kernel writes.
struct KernelArpEntry {
  struct rt_msghdr rtm;
  struct sockaddr_in sin;
  struct sockaddr_dl sdl;
};
struct KernelNdpEntry {
  struct rt_msghdr rtm;
  struct sockaddr_in6 sin6;
  uint32_t pad;
  struct sockaddr_dl sdl;
};
static_assert(offsetof(KernelArpEntry, sin) == fb::kRtMsghdrSize &&
              offsetof(KernelArpEntry, sdl) ==
                  fb::kRtMsghdrSize + fb::saSize(sizeof(struct sockaddr_in)));
static_assert(offsetof(KernelNdpEntry, sin6) == fb::kRtMsghdrSize &&
              offsetof(KernelNdpEntry, sdl) ==
                  fb::kRtMsghdrSize + fb::saSize(sizeof(struct sockaddr_in6)));
static_assert(sizeof(KernelArpEntry) == 224 && sizeof(KernelNdpEntry) == 240,
              "lltable_decode_test.cc builds messages of these lengths");

// --- TCP / UDP socket lists (pcblist_decode.h): net.inet.{tcp,udp}.pcblist
static_assert(sizeof(struct xinpgen) == fb::kXinpgenSize);
static_assert(offsetof(struct xinpgen, xig_len) == 0 &&
              sizeof(((struct xinpgen*)nullptr)->xig_len) == 8);
static_assert(offsetof(struct xinpgen, xig_gen) == fb::kXigGenOffset &&
              sizeof(((struct xinpgen*)nullptr)->xig_gen) == 8);
static_assert(sizeof(struct xinpcb) == fb::kXinpcbSize);
static_assert(offsetof(struct xinpcb, xi_len) == 0 &&
              sizeof(((struct xinpcb*)nullptr)->xi_len) == 8);
static_assert(offsetof(struct xinpcb, inp_inc) == fb::kXinpcbIncOffset);
static_assert(offsetof(struct xinpcb, inp_vflag) == fb::kXinpcbVflagOffset &&
              sizeof(((struct xinpcb*)nullptr)->inp_vflag) == 1);
static_assert(offsetof(struct in_conninfo, inc_ie) + offsetof(struct in_endpoints, ie_fport) ==
                  fb::kIncFportOffset &&
              sizeof(((struct in_endpoints*)nullptr)->ie_fport) == 2);
static_assert(offsetof(struct in_conninfo, inc_ie) + offsetof(struct in_endpoints, ie_lport) ==
                  fb::kIncLportOffset &&
              sizeof(((struct in_endpoints*)nullptr)->ie_lport) == 2);
static_assert(offsetof(struct in_conninfo, inc_ie) +
                  offsetof(struct in_endpoints, ie_dependladdr) == fb::kIncLaddrOffset &&
              sizeof(((struct in_endpoints*)nullptr)->ie_dependladdr) == 16);
static_assert(offsetof(struct in_addr_4in6, ia46_addr4) == fb::kIa46Addr4Offset);
static_assert(sizeof(struct xtcpcb) == fb::kXtcpcbSize);
static_assert(offsetof(struct xtcpcb, xt_len) == 0 &&
              sizeof(((struct xtcpcb*)nullptr)->xt_len) == 8);
static_assert(offsetof(struct xtcpcb, xt_inp) == fb::kXtcpcbInpOffset);
static_assert(offsetof(struct xtcpcb, t_state) == fb::kXtcpcbStateOffset &&
              sizeof(((struct xtcpcb*)nullptr)->t_state) == 4);
static_assert(fb::kTcpsListen == TCPS_LISTEN);
static_assert(fb::kInpIpv4 == INP_IPV4 && fb::kInpIpv6 == INP_IPV6);
// Records are walked by their leading length: it must be the first field of each.
static_assert(offsetof(struct xtcpcb, xt_inp) == sizeof(((struct xtcpcb*)nullptr)->xt_len));

}  // namespace
