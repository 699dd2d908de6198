#include "platform/router_socket.h"

// Order matters on FreeBSD: <netinet/icmp6.h> uses struct in6_addr from <netinet/in.h>.
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

#include "core/ndp.h"

namespace vnetd::platform {
namespace {

IpAddress fromIn6(const in6_addr& a) {
  IpAddress out;
  out.family = IpFamily::V6;
  std::memcpy(out.bytes.data(), a.s6_addr, 16);
  return out;
}

in6_addr toIn6(const IpAddress& a) {
  in6_addr out{};
  std::memcpy(out.s6_addr, a.bytes.data(), 16);
  return out;
}

// Sends one ICMPv6 message on raw socket `fd` to `destination` (scoped to `ifindex`) from
// `source` out of `ifindex`: IPV6_PKTINFO picks the source address and the outgoing
// interface for this message (RFC 3542 section 6.1). Errors: errno, with `what`.
Result<void> sendFrom(int fd, std::span<const std::byte> icmp, const IpAddress& destination,
                      const IpAddress& source, uint32_t ifindex, const std::string& what) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = toIn6(destination);
  to.sin6_scope_id = ifindex;  // link-local scope: this interface
  iovec iov{const_cast<std::byte*>(icmp.data()), icmp.size()};
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  info.ipi6_addr = toIn6(source);
  info.ipi6_ifindex = ifindex;
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  for (;;) {
    if (::sendmsg(fd, &msg, 0) >= 0) return success();
    if (errno != EINTR) return errnoError(what);
  }
}

}  // namespace

Result<RouterSocket> RouterSocket::open(const std::string& ifname, uint32_t ifindex) {
  const std::string what = "open the router advertisement socket on " + ifname;
  UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!fd) return errnoError(what);
  auto set = [&](int level, int name, const void* value, socklen_t size, const char* option) -> Result<void> {
    if (::setsockopt(fd.get(), level, name, value, size) != 0) return errnoError(what + ": " + option);
    return success();
  };
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  VNETD_TRY(set(IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter, "ICMP6_FILTER"));
  const int on = 1, off = 0, hops = ndp::kHopLimit;
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on, "IPV6_RECVPKTINFO"));
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on, "IPV6_RECVHOPLIMIT"));
  const unsigned index = ifindex;
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index, "IPV6_MULTICAST_IF"));
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops, "IPV6_MULTICAST_HOPS"));
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops, "IPV6_UNICAST_HOPS"));
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off, "IPV6_MULTICAST_LOOP"));
  ipv6_mreq group{};
  group.ipv6mr_multiaddr = toIn6(*IpAddress::parse("ff02::2"));
  group.ipv6mr_interface = ifindex;
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_JOIN_GROUP, &group, sizeof group, "join ff02::2 (IPV6_JOIN_GROUP)"));
  return RouterSocket(std::move(fd), ifname, ifindex);
}

Result<void> RouterSocket::send(std::span<const std::byte> icmp, const IpAddress& destination,
                                const IpAddress& source) {
  return sendFrom(fd_.get(), icmp, destination, source, ifindex_,
                  "send a neighbour discovery message on " + ifname_ + " to " + destination.toString() + " from " +
                      source.toString());
}

Result<std::optional<RouterSocket::Received>> RouterSocket::receive() {
  for (;;) {
    // An ICMPv6 message fits in the link MTU; a solicitation is a few dozen bytes and a
    // longer message is cut (MSG_TRUNC) and then refused by the decoder's option walk.
    std::vector<std::byte> buf(1500);
    sockaddr_in6 from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_.get(), &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<Received>();
      if (errno == EINTR) continue;
      return errnoError("receive on the router advertisement socket of " + ifname_);
    }
    Received r;
    buf.resize(static_cast<size_t>(n));
    r.icmp = std::move(buf);
    r.source = fromIn6(from.sin6_addr);
    // FreeBSD may hand a link-local source with the interface index embedded in bytes 2-3
    // (KAME scope embedding; sbin/ifconfig af_inet6.c in6_fillscopeid clears it the same way).
    if (ndp::isLinkLocal(r.source)) r.source.bytes[2] = r.source.bytes[3] = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        r.ifindex = info.ipi6_ifindex;
        r.destination = fromIn6(info.ipi6_addr);
      } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&r.hop_limit, CMSG_DATA(c), sizeof(int));
      }
    }
    if (r.ifindex != ifindex_) continue;  // another interface's: another socket answers it
    return std::optional<Received>(std::move(r));
  }
}

Result<std::optional<IpAddress>> linkLocalAddress(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return errnoError("list the addresses of " + ifname);
  std::optional<IpAddress> out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET6 || ifname != a->ifa_name) continue;
    IpAddress ip = fromIn6(reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr);
    if (!ndp::isLinkLocal(ip)) continue;
    ip.bytes[2] = ip.bytes[3] = 0;  // KAME scope embedding (see receive())
    out = ip;
    break;
  }
  ::freeifaddrs(list);
  return out;
}

Result<void> sendRouterSolicitation(const std::string& ifname, const MacAddress& mac) {
  const std::string what = "send a router solicitation on " + ifname;
  const unsigned ifindex = ::if_nametoindex(ifname.c_str());
  if (ifindex == 0) return errnoError(what + ": no such interface");
  auto source = linkLocalAddress(ifname);
  if (!source) return std::move(source).withContext(what).error();
  if (!*source)
    return Error{EADDRNOTAVAIL, what + ": it has no IPv6 link-local address yet (is IPv6 enabled on it?)"};
  UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!fd) return errnoError(what + ": open a raw ICMPv6 socket");
  auto set = [&](int level, int name, const void* value, socklen_t size, const char* option) -> Result<void> {
    if (::setsockopt(fd.get(), level, name, value, size) != 0) return errnoError(what + ": " + option);
    return success();
  };
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);  // a sender only: nothing queues up on it
  VNETD_TRY(set(IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter, "ICMP6_FILTER"));
  // RFC 4861 6.1.1: a router drops solicitations with any other hop limit.
  const int hops = ndp::kHopLimit, off = 0;
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops, "IPV6_MULTICAST_HOPS"));
  VNETD_TRY(set(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off, "IPV6_MULTICAST_LOOP"));

  ndp::RouterSolicitation rs;
  rs.source_link_layer = mac;  // from the link-local address: the option belongs (RFC 4861 4.1)
  const std::vector<std::byte> icmp = ndp::encodeRouterSolicitation(rs);
  return sendFrom(fd.get(), icmp, *IpAddress::parse("ff02::2"), **source, ifindex,
                  what + " from " + (*source)->toString());
}

}  // namespace vnetd::platform
