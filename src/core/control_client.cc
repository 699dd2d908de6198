#include "core/control_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace vnetd::control {
namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

CallResult failed(CallFailure kind, Error error) {
  CallResult r;
  r.failure = kind;
  r.error = std::move(error);
  return r;
}

// Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error (errno).
int waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

}  // namespace

Result<UniqueFd> connectToDaemon(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path))
    return plainError("control socket path " + socket_path + " is too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("socket(AF_UNIX)");
#ifdef SO_NOSIGPIPE
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  // A blocking connect to a listening Unix socket completes at once (or fails with
  // ECONNREFUSED / EAGAIN when its backlog is full).
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return errnoError("connect " + socket_path);
  return fd;
}

CallResult call(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                size_t max_reply_bytes) {
  auto connected = connectToDaemon(socket_path);
  if (!connected) return failed(CallFailure::Unreachable, connected.error());
  return exchange(std::move(*connected), socket_path, request, timeout, max_reply_bytes);
}

CallResult exchange(UniqueFd fd, const std::string& what, const std::string& request,
                    std::chrono::milliseconds timeout, size_t max_reply_bytes) {
  const auto deadline = Clock::now() + timeout;
  // Until the first byte is written the daemon cannot have the request: failing before
  // that is Unreachable, after it Lost or Timeout (the caller must then not redo the work).
  size_t sent = 0;
  auto notSent = [&](CallFailure otherwise) { return sent == 0 ? CallFailure::Unreachable : otherwise; };
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return failed(CallFailure::Unreachable, errnoError("fcntl " + what));

  std::string out = request + "\n";
  while (sent < out.size()) {
#ifdef MSG_NOSIGNAL
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
#else
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, 0);
#endif
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = waitFor(fd.get(), POLLOUT, deadline);
      if (w == 0)
        return failed(notSent(CallFailure::Timeout),
                      plainError(sent == 0 ? "vnetd did not accept the request in time (nothing was sent)"
                                           : "vnetd did not accept the whole request in time"));
      if (w < 0) return failed(notSent(CallFailure::Lost), errnoError("poll " + what));
      continue;
    }
    // EPIPE / ECONNRESET before the first byte: the daemon closed the connection without
    // reading anything (it was refused, or the daemon is stopping).
    return failed(notSent(CallFailure::Lost),
                  errnoError(std::string(sent == 0 ? "send to " + what + " (nothing was sent)" : "send to " + what)));
  }

  std::string in;
  char buf[16384];
  for (;;) {
    if (auto nl = in.find('\n'); nl != std::string::npos) {
      CallResult r;
      r.reply = in.substr(0, nl);
      if (!r.reply.empty() && r.reply.back() == '\r') r.reply.pop_back();
      return r;
    }
    if (in.size() > max_reply_bytes)
      return failed(CallFailure::Lost, plainError("vnetd's reply is larger than " + std::to_string(max_reply_bytes) +
                                                  " bytes"));
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return failed(CallFailure::Lost, plainError("vnetd closed the connection before replying"));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = waitFor(fd.get(), POLLIN, deadline);
      if (w == 0)
        return failed(CallFailure::Timeout, plainError("no reply from vnetd within " +
                                                       std::to_string(timeout.count()) + " ms"));
      if (w < 0) return failed(CallFailure::Lost, errnoError("poll " + what));
      continue;
    }
    return failed(CallFailure::Lost, errnoError("recv from " + what));
  }
}

}  // namespace vnetd::control
