#include "core/control_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
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

Result<UniqueFd> connectToDaemon(const std::string& socket_path, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
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
  // A listener whose backlog is full (a daemon stopped, or swamped): on Linux a blocking
  // connect() then sleeps until the daemon accepts — forever if it never does — unless
  // SO_SNDTIMEO bounds it: net/unix/af_unix.c unix_stream_connect takes its wait from
  // sock_sndtimeo(), sleeps in unix_wait_for_peer() while unix_recvq_full(), and fails
  // with EAGAIN when that time is used up (at once on a non-blocking socket, which is why
  // a non-blocking connect plus poll() cannot wait for room: AF_UNIX connect never gives
  // EINPROGRESS, and nothing wakes a poll() on the unconnected socket when the daemon
  // accepts). FreeBSD never waits: sys/kern/uipc_usrreq.c unp_connectat (read at commit
  // b7a3af0b9f01) connects synchronously and fails with ECONNREFUSED when sonewconn()
  // on the listener gives no socket (its queue is full). Either way nothing was sent.
  for (;;) {
    auto left = std::max<std::chrono::microseconds>(
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()), std::chrono::milliseconds(1));
    timeval tv{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
      return errnoError("setsockopt(SO_SNDTIMEO) for " + socket_path);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    const int err = errno;
    // A signal: the connection was not made (AF_UNIX connects atomically); try again.
    if (err == EINTR && Clock::now() < deadline) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
      return plainError("connect " + socket_path + ": vnetd accepted no connection within " +
                        std::to_string(timeout.count()) +
                        " ms (its listen backlog is full: the daemon is stopped or swamped; nothing was sent)");
    errno = err;
    return errnoError("connect " + socket_path);
  }
  // The caller gets a plain blocking socket: no send timeout left behind.
  timeval none{0, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  return fd;
}

CallResult call(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                size_t max_reply_bytes) {
  const auto deadline = Clock::now() + timeout;
  auto connected = connectToDaemon(socket_path, timeout);
  if (!connected) return failed(CallFailure::Unreachable, connected.error());
  // One deadline for the whole call: what connecting used is not given again.
  return exchange(std::move(*connected), socket_path, request, std::chrono::milliseconds(remainingMs(deadline)),
                  max_reply_bytes);
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
