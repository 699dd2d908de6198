#include "platform/freebsd/route_socket.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>

namespace vnetd::platform::fbsd {
namespace {

// SA_SIZE() of <net/route.h>: a sockaddr's room in a routing message is its sa_len
// rounded up to sizeof(long), and sizeof(long) for an empty one.
constexpr size_t saRoundup(size_t sa_len) {
  return sa_len == 0 ? sizeof(long) : 1 + ((sa_len - 1) | (sizeof(long) - 1));
}
static_assert(saRoundup(sizeof(struct sockaddr_in)) == 16 &&
                  saRoundup(sizeof(struct sockaddr_in6)) == 32,
              "routing-socket sockaddr padding");

constexpr auto kReplyTimeout = std::chrono::seconds(1);

std::atomic<int> g_sequence{0};

struct RouteMessage {
  // Header plus DST, GATEWAY and NETMASK, each at most a padded sockaddr_in6.
  alignas(struct rt_msghdr) unsigned char bytes[sizeof(struct rt_msghdr) +
                                                3 * saRoundup(sizeof(struct sockaddr_in6))];
  size_t length = 0;
  int seq = 0;
};

void fillSockaddr(struct sockaddr_storage& ss, IpFamily family, const IpAddress* address) {
  std::memset(&ss, 0, sizeof ss);
  if (family == IpFamily::V4) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
    sin->sin_len = sizeof(struct sockaddr_in);
    sin->sin_family = AF_INET;
    if (address) std::memcpy(&sin->sin_addr, address->bytes.data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    sin6->sin6_len = sizeof(struct sockaddr_in6);
    sin6->sin6_family = AF_INET6;
    if (address) std::memcpy(&sin6->sin6_addr, address->bytes.data(), 16);
  }
}

// rtm_type message for the default route of `family`; with a gateway for ADD/CHANGE.
RouteMessage buildDefaultRoute(uint8_t type, IpFamily family, const IpAddress* gateway) {
  RouteMessage m;
  std::memset(m.bytes, 0, sizeof m.bytes);
  struct rt_msghdr hdr;
  std::memset(&hdr, 0, sizeof hdr);
  hdr.rtm_version = RTM_VERSION;
  hdr.rtm_type = type;
  hdr.rtm_flags = RTF_UP | RTF_STATIC | (gateway ? RTF_GATEWAY : 0);
  hdr.rtm_addrs = RTA_DST | RTA_NETMASK | (gateway ? RTA_GATEWAY : 0);
  m.seq = ++g_sequence;
  hdr.rtm_seq = m.seq;
  size_t offset = sizeof hdr;
  // Sockaddrs follow in RTA_* bit order: DST (0x1), GATEWAY (0x2), NETMASK (0x4). The
  // zero netmask is sent at full length; the kernel accepts full and trimmed masks.
  auto append = [&](const IpAddress* address) {
    struct sockaddr_storage ss;
    fillSockaddr(ss, family, address);
    std::memcpy(m.bytes + offset, &ss, ss.ss_len);
    offset += saRoundup(ss.ss_len);
  };
  append(nullptr);
  if (gateway) append(gateway);
  append(nullptr);
  hdr.rtm_msglen = static_cast<u_short>(offset);
  std::memcpy(m.bytes, &hdr, sizeof hdr);
  m.length = offset;
  return m;
}

Result<void> send(int fd, const RouteMessage& m, const std::string& what) {
  for (;;) {
    ssize_t n = ::write(fd, m.bytes, m.length);
    if (n == static_cast<ssize_t>(m.length)) return success();
    if (n >= 0) return Error{EIO, what + ": short write to the routing socket"};
    if (errno != EINTR) return errnoError(what);
  }
}

// Our own earlier replies and every other routing message of the vnet queue up on the
// socket; a lookup must not mistake them for its answer, nor find the buffer full.
void drainStale(int fd) {
  alignas(long) unsigned char junk[4096];
  while (::recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
  }
}

std::string suffix(const std::string& where) {
  return where.empty() ? std::string() : " in " + where;
}

bool allZero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

Result<void> setDefaultRoute(int route_fd, const IpAddress& gateway, const std::string& where) {
  const std::string what = "set default route via " + gateway.toString() + suffix(where);
  auto added = send(route_fd, buildDefaultRoute(RTM_ADD, gateway.family, &gateway), what);
  if (added || added.error().code != EEXIST) return added;
  // A default route exists: point it at our gateway. If it vanished in between, add again.
  auto changed = send(route_fd, buildDefaultRoute(RTM_CHANGE, gateway.family, &gateway), what);
  if (!changed && changed.error().code == ESRCH)
    return send(route_fd, buildDefaultRoute(RTM_ADD, gateway.family, &gateway), what);
  return changed;
}

Result<std::optional<RouteInfo>> getDefaultRoute(int route_fd, IpFamily family,
                                                 const std::string& where) {
  const std::string what = std::string("look up the ") +
                           (family == IpFamily::V4 ? "IPv4" : "IPv6") + " default route" +
                           suffix(where);
  drainStale(route_fd);
  RouteMessage request = buildDefaultRoute(RTM_GET, family, nullptr);
  auto sent = send(route_fd, request, what);
  if (!sent) {
    // ESRCH: no such route; EAFNOSUPPORT: this kernel has no such family.
    if (sent.error().code == ESRCH || sent.error().code == EAFNOSUPPORT)
      return std::optional<RouteInfo>();
    return sent.error();
  }
  const pid_t self = ::getpid();
  const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  alignas(struct rt_msghdr) unsigned char buf[2048];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error{ETIMEDOUT, what + ": no reply from the routing socket"};
    struct pollfd pfd = {route_fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errnoError(what + ": poll");
    }
    if (ready == 0) continue;
    ssize_t n = ::recv(route_fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      // ENOBUFS: messages were dropped, possibly our reply; the deadline bounds the wait.
      if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) continue;
      return errnoError(what + ": read reply");
    }
    if (static_cast<size_t>(n) < sizeof(struct rt_msghdr)) continue;
    struct rt_msghdr hdr;
    std::memcpy(&hdr, buf, sizeof hdr);
    if (hdr.rtm_version != RTM_VERSION || hdr.rtm_type != RTM_GET || hdr.rtm_pid != self ||
        hdr.rtm_seq != request.seq)
      continue;
    if (hdr.rtm_errno == ESRCH) return std::optional<RouteInfo>();
    if (hdr.rtm_errno != 0) return Error{hdr.rtm_errno, what};
    size_t end = std::min<size_t>(hdr.rtm_msglen, static_cast<size_t>(n));

    const unsigned char* sas[RTAX_MAX] = {};
    size_t offset = sizeof hdr;
    for (int i = 0; i < RTAX_MAX; ++i) {
      if ((hdr.rtm_addrs & (1 << i)) == 0) continue;
      if (offset + 2 > end) return Error{EBADMSG, what + ": truncated reply"};
      size_t sa_len = buf[offset];
      if (offset + sa_len > end) return Error{EBADMSG, what + ": truncated reply"};
      sas[i] = buf + offset;
      offset += saRoundup(sa_len);
    }
    const size_t addr_offset = family == IpFamily::V4 ? offsetof(struct sockaddr_in, sin_addr)
                                                      : offsetof(struct sockaddr_in6, sin6_addr);
    const size_t addr_len = family == IpFamily::V4 ? 4 : 16;
    // Not the default route (0/0) if the destination or a present mask byte is non-zero.
    auto zeroAddress = [&](const unsigned char* sa) {
      if (sa == nullptr) return true;
      size_t present = sa[0] > addr_offset ? std::min(addr_len, size_t{sa[0]} - addr_offset) : 0;
      return allZero(sa + addr_offset, present);
    };
    if (!zeroAddress(sas[RTAX_DST]) || !zeroAddress(sas[RTAX_NETMASK]))
      return std::optional<RouteInfo>();

    RouteInfo route;
    route.destination.address.family = family;
    route.destination.prefix = 0;
    route.out_index = hdr.rtm_index;
    const unsigned char* gw = sas[RTAX_GATEWAY];
    const int want_af = family == IpFamily::V4 ? AF_INET : AF_INET6;
    if ((hdr.rtm_flags & RTF_GATEWAY) && gw != nullptr && gw[1] == want_af &&
        gw[0] >= addr_offset + addr_len) {
      IpAddress a;
      a.family = family;
      std::memcpy(a.bytes.data(), gw + addr_offset, addr_len);
      // Link-local gateways may carry the KAME embedded scope in bytes 2-3.
      if (family == IpFamily::V6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80)
        a.bytes[2] = a.bytes[3] = 0;
      route.gateway = a;
    }
    return std::optional<RouteInfo>(route);
  }
}

}  // namespace vnetd::platform::fbsd
