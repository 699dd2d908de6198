// The FreeBSD TCP and UDP socket lists as sysctl net.inet.tcp.pcblist and
// net.inet.udp.pcblist return them (what sockstat(1) and netstat(1) read) →
// the BoundPort list of platform/listening.h (issue 19: doctor's "does the jail listen
// on the jail port?").
//
// Pure and platform-neutral like lltable_decode.h: compiled, unit-tested and fuzzed on
// Linux against byte images laid out per the FreeBSD amd64 ABI; every offset, size and
// value below is static_assert'ed against the real headers in abi_checks.cc (Zig's
// FreeBSD 15 headers). listening.cc does the sysctls, in a child attached to the jail.
//
// What the kernel writes. The stored snapshots of freebsd/freebsd-src's own in_pcb.h are
// far older than 14 (no xi_len-framed xinpcb of today), so this was read in stable/14
// trees: ilnp/ilnp-freebsd14 at cd3ca6af (sys/netinet/tcp_subr.c, whose tcp_inptoxtp says
// "this fixup needs to stay for stable/14"; sys/netinet/in_pcb.c), sobomax/freebsd14_vendor
// at 0f7ff342 (sys/netinet/in_pcb.h), and 15-CURRENT fel1x-developer/freebsd-src at 2d614aa2
// (sys/netinet/udp_usrreq.c); the xsocket / xtcpcb layouts of 14 were compared with the
// Zig FreeBSD 15 headers the ABI checks run against — the offsets used here are the same
// in both (15 turned spares into so_splice_so / so_fibnum / inp_spare64[5] at equal size).
//  - Framing. sys/netinet/tcp_subr.c tcp_pcblist and sys/netinet/udp_usrreq.c udp_pcblist
//    both write a struct xinpgen (xig_len = sizeof xig), one record per PCB of the
//    CALLING thread's vnet (INP_ALL_ITERATOR over V_tcbinfo / V_udbinfo; IPv4 and IPv6
//    PCBs share the list — usr.bin/sockstat/sockstat.c gather_inet reads these two
//    sysctls for both families and tells them apart by inp_vflag), then a second
//    xinpgen with the generation count at the end. TCP records are struct xtcpcb
//    (tcp_inptoxtp: xt_len = sizeof, t_state = the tcpcb's state, the xinpcb embedded
//    by in_pcbtoxinpcb); tcp_pcblist emits the syncache's embryonic connections too
//    (syncache_pcblist), which are not in LISTEN. UDP records are struct xinpcb
//    (in_pcbtoxinpcb: xi_len = sizeof, inp_inc copied whole, inp_vflag).
//    Each record is walked by its own leading length (ksize_t, 8 bytes), so a newer
//    kernel whose records grew at the end still decodes; the embedded xinpcb of a TCP
//    record must have the known size, because t_state follows it.
//  - The head and tail xinpgen carry the PCB generation; when they differ the list
//    changed while it was copied (sockstat.c gather_inet retries then): reported as
//    `consistent = false` for the reader to retry.
//  - Ports in in_conninfo are in network byte order (tcp_subr.c tcp_log_addr prints
//    ntohs(inc->inc_lport)); an unbound socket has local port 0 (udp_usrreq.c udp_send
//    binds one on first send: "inp_lport == 0").
//  - Addresses: sockstat.c gather_inet reads the IPv4 address (in_addr_4in6's last four
//    bytes) when inp_vflag has INP_IPV4, else the IPv6 one; the same here.
//
// Input is untrusted bytes: every length is checked against the buffer; a list that is not
// head + records + tail exactly is an error as a whole (a misread list must not turn into
// a confidently short one). Nothing is read outside the span, nothing throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/listening.h"

namespace vnetd::platform::fbsd {

// FreeBSD ABI facts (amd64, FreeBSD 14 and 15), verified in abi_checks.cc.
// sys/netinet/in_pcb.h struct xinpgen: xig_len (ksize_t) @0, xig_gen @16, 64 bytes.
inline constexpr size_t kXinpgenSize = 64;
inline constexpr size_t kXigGenOffset = 16;
// sys/netinet/in_pcb.h struct xinpcb: xi_len @0, xi_socket (struct xsocket, 240 bytes,
// sys/sys/socketvar.h) @8, inp_inc (struct in_conninfo) @248, inp_vflag @392; 400 bytes.
inline constexpr size_t kXinpcbSize = 400;
inline constexpr size_t kXinpcbIncOffset = 248;
inline constexpr size_t kXinpcbVflagOffset = 392;
// sys/netinet/in_pcb.h struct in_conninfo { inc_flags, inc_len, inc_fibnum, inc_ie }, and
// struct in_endpoints { ie_fport @0, ie_lport @2, ie_dependfaddr @4, ie_dependladdr @20 }:
// offsets from the start of the in_conninfo.
inline constexpr size_t kIncFportOffset = 4;
inline constexpr size_t kIncLportOffset = 6;
inline constexpr size_t kIncLaddrOffset = 24;
// struct in_addr_4in6 { ia46_pad32[3]; ia46_addr4 }: the IPv4 address is its last 4 bytes.
inline constexpr size_t kIa46Addr4Offset = 12;
// sys/netinet/tcp_var.h struct xtcpcb: xt_len @0, xt_inp (struct xinpcb) @8,
// t_state (int32) @568; 744 bytes.
inline constexpr size_t kXtcpcbSize = 744;
inline constexpr size_t kXtcpcbInpOffset = 8;
inline constexpr size_t kXtcpcbStateOffset = 568;
// sys/netinet/tcp_fsm.h TCPS_LISTEN; sys/netinet/in_pcb.h INP_IPV4 / INP_IPV6 (inp_vflag).
inline constexpr int32_t kTcpsListen = 1;
inline constexpr uint8_t kInpIpv4 = 0x1;
inline constexpr uint8_t kInpIpv6 = 0x2;

enum class PcbProto { Tcp, Udp };

// One PCB as the kernel described it.
struct PcbSocket {
  uint8_t vflag = 0;                 // inp_vflag: INP_IPV4 / INP_IPV6 bits
  IpAddress local;                   // IPv4 when vflag has INP_IPV4 (as sockstat shows it)
  uint16_t local_port = 0;           // host byte order; 0: not bound
  uint16_t foreign_port = 0;         // host byte order; 0: not connected
  std::optional<int32_t> tcp_state;  // xtcpcb t_state (TCP lists only)
};

struct PcbList {
  std::vector<PcbSocket> sockets;
  bool consistent = true;  // head and tail generation equal: nothing changed during the copy
};

// Decodes one sysctl answer (net.inet.tcp.pcblist for Tcp, net.inet.udp.pcblist for Udp).
// Errors (EBADMSG) name the list, the byte offset and what is wrong, on one line.
Result<PcbList> decodePcbList(std::span<const std::byte> bytes, PcbProto proto);

// The ports something in the stack accepts connections / datagrams on: TCP sockets in
// LISTEN; UDP sockets with a local port and no foreign one (a connected UDP socket
// only takes datagrams from its peer — udp_usrreq.c udp_input looks PCBs up by the
// packet's 4-tuple — so it does not receive a forward's traffic; sockstat -l draws the
// same line with inp_fport == 0). The local ADDRESS is not looked at, as on Linux
// (proc_net_decode.h): a service bound to one address of the jail, even loopback, counts.
std::vector<BoundPort> boundPorts(const std::vector<PcbSocket>& sockets, PcbProto proto);

}  // namespace vnetd::platform::fbsd
