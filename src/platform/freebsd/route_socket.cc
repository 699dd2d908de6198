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

#include "platform/freebsd/default_route.h"

namespace vnetd::platform::fbsd {
namespace {

constexpr auto kReplyTimeout = std::chrono::seconds(1);

std::atomic<int> g_sequence{0};

int nextSequence() { return ++g_sequence; }

// Writes one request; the kernel's verdict is write(2)'s errno. The error carries no
// context of its own: callers say what they asked for.
Result<void> send(int fd, const RouteBytes& m) {
  for (;;) {
    ssize_t n = ::write(fd, m.data(), m.size());
    if (n == static_cast<ssize_t>(m.size())) return success();
    if (n >= 0) return Error{EIO, "short write to the routing socket"};
    if (errno != EINTR) return Error{errno, ""};
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

// RTM_GET of the default route of `family`; nullopt when there is none.
Result<std::optional<DefaultRoute>> lookup(int fd, IpFamily family, const std::string& what) {
  drainStale(fd);
  const int seq = nextSequence();
  auto sent = send(fd, encodeDefaultRouteRequest(kRtmGet, family, seq));
  if (!sent) {
    // ESRCH: no such route; EAFNOSUPPORT: this kernel has no such family.
    if (sent.error().code == ESRCH || sent.error().code == EAFNOSUPPORT)
      return std::optional<DefaultRoute>();
    return Error{sent.error().code, what};
  }
  const int32_t self = static_cast<int32_t>(::getpid());
  const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  alignas(struct rt_msghdr) std::byte buf[2048];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error{ETIMEDOUT, what + ": no reply from the routing socket"};
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errnoError(what + ": poll");
    }
    if (ready == 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      // ENOBUFS: messages were dropped, possibly our reply; the deadline bounds the wait.
      if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) continue;
      return errnoError(what + ": read reply");
    }
    RouteReply reply =
        decodeDefaultRouteReply(std::span<const std::byte>(buf, static_cast<size_t>(n)), family,
                                self, seq);
    switch (reply.kind) {
      case RouteReply::Kind::NotOurs: continue;
      case RouteReply::Kind::NoRoute: return std::optional<DefaultRoute>();
      case RouteReply::Kind::Failed: return Error{reply.error, what};
      case RouteReply::Kind::Malformed: return Error{EBADMSG, what + ": truncated reply"};
      case RouteReply::Kind::Found: return std::optional<DefaultRoute>(std::move(reply.route));
    }
  }
}

// The routing socket as replaceDefaultRoute's table.
class SocketTable final : public DefaultRouteTable {
 public:
  SocketTable(int fd, IpFamily family) : fd_(fd), family_(family) {}

  Result<std::optional<DefaultRoute>> lookup() override {
    return fbsd::lookup(fd_, family_, "look up the current default route");
  }

  Result<void> apply(const RouteOp& op) override {
    uint8_t type = kRtmAdd;
    switch (op.kind) {
      case RouteOp::Kind::Add: type = kRtmAdd; break;
      case RouteOp::Kind::Change: type = kRtmChange; break;
      case RouteOp::Kind::Delete: type = kRtmDelete; break;
    }
    return send(fd_, encodeDefaultRouteRequest(type, family_, nextSequence(), op.gateway));
  }

 private:
  int fd_;
  IpFamily family_;
};

}  // namespace

Result<void> setDefaultRoute(int route_fd, const IpAddress& gateway, const std::string& where) {
  SocketTable table(route_fd, gateway.family);
  return replaceDefaultRoute(table, gateway,
                             "set default route via " + gateway.toString() + suffix(where));
}

Result<std::optional<RouteInfo>> getDefaultRoute(int route_fd, IpFamily family,
                                                 const std::string& where) {
  const std::string what = std::string("look up the ") +
                           (family == IpFamily::V4 ? "IPv4" : "IPv6") + " default route" +
                           suffix(where);
  auto found = lookup(route_fd, family, what);
  if (!found) return found.error();
  if (!*found) return std::optional<RouteInfo>();
  RouteInfo route;
  route.destination.address.family = family;
  route.destination.prefix = 0;
  route.out_index = (*found)->out_index;
  if ((*found)->flags & kRtfGateway) route.gateway = (*found)->gateway;
  return std::optional<RouteInfo>(route);
}

}  // namespace vnetd::platform::fbsd
