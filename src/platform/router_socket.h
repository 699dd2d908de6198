// The router side of IPv6 neighbour discovery on one interface of the host's stack
// (issue 19: the daemon sends router advertisements on bridges with
// router_advertisements = true and answers router solicitations there).
//
// A raw ICMPv6 socket through the RFC 3542 advanced API, which both systems implement the
// same way (IPV6_PKTINFO, IPV6_HOPLIMIT, ICMP6_FILTER, IPV6_JOIN_GROUP), so this one
// implementation serves Linux and FreeBSD: no OS-specific code. The kernel computes the
// ICMPv6 checksum of what is sent and drops received messages with a bad one (core/ndp.h).
// Solicitations reach the socket although the host's kernel does not answer them itself:
// FreeBSD sys/netinet6/icmp6.c icmp6_input hands every message it accepted to the raw
// ICMPv6 sockets (icmp6_rip6_input, which applies each socket's ICMP6_FILTER) after its
// own processing (nd6_rs_input ignores RSs on a host that does not forward); Linux
// delivers to raw sockets before the protocol handler (net/ipv6/ip6_input.c
// ip6_protocol_deliver_rcu -> raw6_local_deliver).
//
// Threading: one thread at a time (the daemon loop). Owns its socket (RAII).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/naming.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd::platform {

class RouterSocket {
 public:
  // Opens the socket for interface `ifname` (index `ifindex`): only router solicitations
  // are let through (ICMP6_FILTER), the all-routers group ff02::2 is joined on the
  // interface (solicitations go there: RFC 4861 section 6.3.7), multicast leaves through
  // the interface with hop limit 255 and is not looped back. Non-blocking.
  static Result<RouterSocket> open(const std::string& ifname, uint32_t ifindex);

  int fd() const { return fd_.get(); }

  // Sends one ICMPv6 message to `destination` (ff02::1, or a link-local unicast address)
  // from `source` (the interface's link-local address: hosts accept router advertisements
  // only from one, RFC 4861 section 6.1.2), hop limit 255, out of this interface.
  Result<void> send(std::span<const std::byte> icmp, const IpAddress& destination, const IpAddress& source);

  struct Received {
    std::vector<std::byte> icmp;  // the ICMPv6 message (no IPv6 header)
    IpAddress source;
    int hop_limit = -1;           // from the IPv6 header (IPV6_HOPLIMIT); -1 when not reported
    uint32_t ifindex = 0;         // the interface it arrived on (IPV6_PKTINFO); 0 when not reported
    IpAddress destination;        // the IPv6 header's destination (IPV6_PKTINFO); unset when not reported
  };
  // One queued message that arrived on this socket's interface; nullopt when none is
  // queued. Messages that arrived on other interfaces (the group is joined per socket,
  // but a raw socket sees every interface's) are read and dropped.
  Result<std::optional<Received>> receive();

 private:
  RouterSocket(UniqueFd fd, std::string ifname, uint32_t ifindex)
      : fd_(std::move(fd)), ifname_(std::move(ifname)), ifindex_(ifindex) {}

  UniqueFd fd_;
  std::string ifname_;
  uint32_t ifindex_ = 0;
};

// The link-local address of `ifname` in the host's stack (getifaddrs), nullopt when it
// has none yet (a Linux bridge forms it once a port has carrier, after DAD).
Result<std::optional<IpAddress>> linkLocalAddress(const std::string& ifname);

// The host side of router discovery (issue 19): sends one router solicitation (RFC 4861
// section 6.3.7) out of `ifname` of the calling thread's network stack — the stack a
// socket is created in is the one it belongs to, so a FreeBSD jail's solicitation is sent
// by a child attached to the jail (platform/freebsd/jail_child.h). A raw ICMPv6 socket
// opened for this one message: to ff02::2 (all routers) scoped to the interface, hop
// limit 255, from the interface's link-local address (IPV6_PKTINFO) with `mac` in the
// source link-layer address option, so that a router can answer by unicast without
// resolving the jail first. The socket receives nothing (ICMP6_FILTER blocks all).
//
// Not from the unspecified address: neither kernel lets a raw socket send from ::
// when the interface has no usable address (FreeBSD sys/netinet6/in6_src.c in6_selectsrc,
// which rip6_output uses, skips IN6_IFF_NOTREADY — tentative or duplicated — addresses
// and returns EADDRNOTAVAIL when none is left; an explicitly given tentative source is
// refused the same way. Linux, tried on a veth here: EADDRNOTAVAIL from sendmsg without
// an address, EINVAL with a tentative one as IPV6_PKTINFO source). So: EADDRNOTAVAIL
// when `ifname` has no link-local address yet; the kernel's error when the one it has
// is still tentative (DAD). Callers on
// FreeBSD switch DAD off for the interface first (NetStack::enableIpv6, ND6_IFF_NO_DAD),
// which makes the link-local usable as soon as it exists.
Result<void> sendRouterSolicitation(const std::string& ifname, const MacAddress& mac);

}  // namespace vnetd::platform
