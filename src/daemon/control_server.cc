#include "daemon/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>

#include "core/log.h"

namespace vnetd::daemon {
namespace {

// One recv() per readable callback: bounds buffered input to max_request_bytes + this, and
// keeps one busy client from starving the others (the fd is level-triggered, so the loop
// comes back to it on the next iteration).
constexpr size_t kReadChunk = 16 * 1024;
// The kernel caps it at somaxconn. Many jails starting at once each run a hook, and their
// connections arrive together.
constexpr int kListenBacklog = 512;
// How long accepting pauses after EMFILE/ENFILE: the listening fd stays readable while the
// backlog is non-empty, so retrying at once would spin the loop; meanwhile closing and
// timing-out connections give descriptors back.
constexpr std::chrono::milliseconds kAcceptPause{100};
// At most one "out of file descriptors" warning per this period, however often it flaps.
constexpr std::chrono::seconds kFdExhaustionLogPeriod{60};
// Output already written is compacted away once at least this much has accumulated.
constexpr size_t kCompactOutputBytes = 64 * 1024;

// Lookups in the user/group database need a scratch buffer of unspecified size.
constexpr size_t kInitialNssBuffer = 4096;
constexpr size_t kMaxNssBuffer = 1 << 20;

std::string groupLabel(gid_t gid) {
  std::vector<char> buf(kInitialNssBuffer);
  for (;;) {
    group grp{};
    group* found = nullptr;
    int rc = ::getgrgid_r(gid, &grp, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < kMaxNssBuffer) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc == 0 && found && found->gr_name) return found->gr_name;
    return std::to_string(gid);
  }
}

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// A connection refused at accept time gets one line if its socket buffer takes it; it is
// closed right after either way, so nothing waits for a client that does not read.
void sendFinalLine(int fd, const std::string& line) {
  std::string framed = line + "\n";
  (void)::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

Result<sockaddr_un> socketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return plainError("control socket path is empty");
  if (path.size() >= sizeof addr.sun_path)
    return plainError("control socket path " + path + " is longer than " + std::to_string(sizeof addr.sun_path - 1) +
                      " bytes (the AF_UNIX limit)");
  if (path.find('\0') != std::string::npos) return plainError("control socket path contains a NUL byte");
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Makes `path` free for bind(): removes a socket file nobody listens on (left by a crashed
// daemon), refuses a live one and anything that is not a socket.
Result<void> clearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return success();
    return errnoError("control socket " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    return plainError("control socket path " + path +
                      " exists and is not a socket; refusing to remove it (remove it or choose another path)");
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return errnoError("control socket " + path + ": socket()");
  // Non-blocking, so a live daemon with a full backlog cannot hang our start: Linux then
  // says EAGAIN, which also means somebody is listening. (FreeBSD reports a full backlog
  // as ECONNREFUSED; the pidfile is what really keeps a second daemon out.)
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || wouldBlock(errno) ||
      errno == EINPROGRESS)
    return plainError("control socket " + path + " is in use by another process");
  if (errno == ENOENT) return success();  // removed meanwhile
  if (errno != ECONNREFUSED)
    return errnoError("control socket " + path + ": cannot tell whether another process uses it");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errnoError("remove stale control socket " + path);
  VNETD_LOG_INFO("removed stale control socket %s (nothing was listening on it)", path.c_str());
  return success();
}

}  // namespace

std::string accessProblem(const PeerCredentials& peer, const AccessPolicy& policy) {
  if (peer.uid == 0) return "";
  if (!policy.group) return "uid " + std::to_string(peer.uid) + " is not root (the control socket is root-only)";
  if (peer.gid == *policy.group ||
      std::find(peer.groups.begin(), peer.groups.end(), *policy.group) != peer.groups.end())
    return "";
  return "uid " + std::to_string(peer.uid) + " is not root and not in group " + groupLabel(*policy.group);
}

// Whether anybody still waits on a connection, for Reply::abandoned() on any thread.
// `ended` is set on the loop thread once the connection is Closed or Handed (or the
// server is gone). While a request is pending, `probe` is the server's own duplicate of
// the connection's socket, so a worker can ask the kernel whether the client closed it
// before the loop thread has read the EOF. The probe lives only while a request waits:
// released (on the loop thread) when the reply or hand-over is given or the connection
// ends, so a Reply kept after that holds no descriptor and keeps no socket alive, and the
// daemon holds at most one extra descriptor per pending request (max_connections). The
// mutex keeps a worker's poll() from racing the close() of the probe (whose number could
// otherwise be reused by an unrelated descriptor).
class ControlServer::Liveness {
 public:
  // A request is pending on `fd`. Without a probe (dup failed: out of descriptors),
  // abandoned() falls back to `ended` alone, which the loop thread sets when it notices.
  void watch(int fd) {
    UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    std::lock_guard<std::mutex> lock(mutex_);
    probe_ = std::move(dup);
  }
  // The pending request was answered (or handed over): nothing to watch any more.
  void release() {
    UniqueFd old;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      old = std::move(probe_);
    }
  }
  void end() {
    ended_.store(true);
    release();
  }
  bool abandoned() const {
    if (ended_.load()) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    return probe_.valid() && !ControlServer::peerStillReads(probe_.get());
  }

 private:
  std::atomic<bool> ended_{false};
  mutable std::mutex mutex_;
  UniqueFd probe_;
};

bool ControlServer::Reply::abandoned() const { return liveness_ && liveness_->abandoned(); }

struct ControlServer::Connection {
  // Declared first so it is closed last: the Events below are removed from the loop
  // before their fd number can be reused.
  UniqueFd fd;
  PeerCredentials peer;
  State state = State::Reading;  // transitions: control_server.h
  std::unique_ptr<Event> read_event;   // null when not reading (see State), or paused at the input bound
  std::unique_ptr<Event> write_event;  // only while output is pending
  std::string input;                   // the unfinished line (and, within one read, the next ones)
  size_t scanned = 0;                  // input[0, scanned) holds no '\n'
  std::string output;
  size_t output_sent = 0;  // output[0, output_sent) is already written
  uint64_t id = 0;
  Take take;  // HandingOver/Handed, or a hand-over the connection ended first: called from reap()
  // Read by the Replies of its requests from any thread (Reply::abandoned()).
  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();
  Clock::time_point last_request;

  size_t pendingOutput() const { return output.size() - output_sent; }
  bool ended() const { return state == State::Closed || state == State::Handed; }
  bool handed() const { return state == State::Handed; }
  bool awaiting() const { return state == State::Awaiting || state == State::AwaitingAtEof; }
};

namespace {
// Takers of handed-over (or abandoned) connections, with what they get: the fd of a
// connection whose header went out, else nothing. Events go first: an fd is never given
// away while the loop still watches it.
template <class Conn>
std::vector<std::pair<ControlServer::Take, UniqueFd>> takers(std::vector<std::unique_ptr<Conn>>& conns) {
  std::vector<std::pair<ControlServer::Take, UniqueFd>> out;
  for (auto& c : conns) {
    if (!c->take) continue;
    c->read_event.reset();
    c->write_event.reset();
    out.emplace_back(std::move(c->take), c->handed() ? std::move(c->fd) : UniqueFd());
  }
  return out;
}
}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::create(Dispatcher& dispatcher, ControlServerOptions options,
                                                             Handler handler) {
  if (!handler) return plainError("control socket " + options.path + ": no request handler");
  return createAsync(dispatcher, std::move(options),
                     [h = std::move(handler)](const control::Request& r, const PeerCredentials& p, Reply reply) {
                       reply(h(r, p));
                     });
}

Result<std::unique_ptr<ControlServer>> ControlServer::createAsync(Dispatcher& dispatcher, ControlServerOptions options,
                                                                  AsyncHandler handler) {
  const std::string path = options.path;
  if (!handler) return plainError("control socket " + path + ": no request handler");
  if (options.max_connections == 0 || options.max_request_bytes == 0 || options.max_pending_output == 0 ||
      options.idle_timeout.count() <= 0)
    return plainError("control socket " + path + ": limits and the idle timeout must be positive");
  auto addr = socketAddress(path);
  if (!addr) return addr.error();
  VNETD_TRY(clearStaleSocket(path, *addr));

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errnoError("control socket " + path + ": socket()");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
    return errnoError("bind control socket " + path);

  // The file is ours from here on (not yet listening, so nobody can connect through it).
  struct stat bound{};
  if (::lstat(path.c_str(), &bound) != 0) return errnoError("control socket " + path + " after bind");
  if (!S_ISSOCK(bound.st_mode)) return plainError("control socket " + path + " was replaced right after bind");
  auto fail = [&](Error e) -> Error {
    struct stat now{};
    if (::lstat(path.c_str(), &now) == 0 && now.st_dev == bound.st_dev && now.st_ino == bound.st_ino)
      ::unlink(path.c_str());
    return e;
  };
  const mode_t mode = options.access.group ? 0660 : 0600;
  if (::chmod(path.c_str(), mode) != 0) return fail(errnoError("chmod control socket " + path));
  if (options.access.group && ::lchown(path.c_str(), static_cast<uid_t>(-1), *options.access.group) != 0)
    return fail(errnoError("set group of control socket " + path + " to " + std::to_string(*options.access.group)));
  // chmod() follows symlinks: had the path been swapped meanwhile, we would have changed
  // something else and our socket would keep the umask's mode. Check before listening.
  struct stat after{};
  if (::lstat(path.c_str(), &after) != 0 || after.st_dev != bound.st_dev || after.st_ino != bound.st_ino)
    return fail(plainError("control socket " + path + " was replaced while being set up"));
  if (::listen(fd.get(), kListenBacklog) != 0) return fail(errnoError("listen on control socket " + path));

  std::unique_ptr<ControlServer> server(new ControlServer(dispatcher, std::move(options), std::move(handler),
                                                          std::move(fd), bound.st_dev, bound.st_ino));
  // From here the destructor unlinks the file on failure.
  auto listen_event = dispatcher.onReadable(server->listen_fd_.get(), [s = server.get()] { s->acceptReady(); });
  if (!listen_event) return std::move(listen_event).withContext("control socket " + path).error();
  server->listen_event_ = std::move(*listen_event);
  auto period = std::clamp(server->options_.idle_timeout / 4, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(1000));
  auto sweep = dispatcher.onTimer(period, true, [s = server.get()] { s->sweepIdle(); });
  if (!sweep) return std::move(sweep).withContext("control socket " + path).error();
  server->sweep_timer_ = std::move(*sweep);
  VNETD_LOG_INFO("control socket %s listening (mode %04o)", path.c_str(), static_cast<unsigned>(mode));
  return server;
}

ControlServer::ControlServer(Dispatcher& dispatcher, ControlServerOptions options, AsyncHandler handler,
                             UniqueFd listen_fd, dev_t dev, ino_t ino)
    : dispatcher_(dispatcher),
      options_(std::move(options)),
      handler_(std::move(handler)),
      listen_fd_(std::move(listen_fd)),
      dev_(dev),
      ino_(ino) {}

ControlServer::~ControlServer() {
  alive_.reset();  // replies still in flight elsewhere become no-ops
  // Events first (they reference this object and the fds), then the fds.
  listen_event_.reset();
  resume_timer_.reset();
  sweep_timer_.reset();
  reap_timer_.reset();
  retired_.clear();
  // Pending hand-overs end here: the taker gets the socket when the header went out,
  // nothing otherwise.
  std::vector<std::unique_ptr<Connection>> open;
  for (auto& [raw, c] : connections_) {
    c->liveness->end();
    open.push_back(std::move(c));
  }
  auto take = takers(closed_);
  for (auto& t : takers(open)) take.push_back(std::move(t));
  connections_.clear();
  open.clear();
  closed_.clear();
  // Another daemon may have replaced the file since (after deciding ours was stale):
  // remove only the socket we bound.
  struct stat st{};
  if (::lstat(options_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(options_.path.c_str());
  listen_fd_.reset();
  for (auto& [fn, fd] : take) fn(std::move(fd));
}

void ControlServer::acceptReady() {
  if (accept_paused_) return;  // a retired listen event firing once more before reap()
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      int err = errno;
      if (wouldBlock(err)) return;
      // The half-open connection is gone; the next one may be fine.
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      pauseAccepting(err);
      return;
    }
    if (fd_exhaustion_reported_) {
      VNETD_LOG_INFO("control socket %s: accepting connections again", options_.path.c_str());
      fd_exhaustion_reported_ = false;
    }
    ++stats_.accepted;
    adopt(std::move(fd));
  }
}

// Out of descriptors (EMFILE/ENFILE) or kernel memory, or an unexpected accept error: the
// listening fd stays readable, so stop watching it for kAcceptPause rather than spin.
// Pending clients wait in the backlog (or time out on their side).
void ControlServer::pauseAccepting(int err) {
  accept_paused_ = true;
  if (listen_event_) retire(std::move(listen_event_));
  auto now = Clock::now();
  if (!fd_exhaustion_reported_ &&
      (last_fd_exhaustion_log_ == Clock::time_point{} || now - last_fd_exhaustion_log_ >= kFdExhaustionLogPeriod)) {
    VNETD_LOG_WARN("control socket %s: accept: %s; not accepting connections for %lld ms", options_.path.c_str(),
                   std::strerror(err), static_cast<long long>(kAcceptPause.count()));
    last_fd_exhaustion_log_ = now;
  }
  fd_exhaustion_reported_ = true;
  // May run inside resume_timer_'s own callback (resumeAccepting failed): retire, not destroy.
  if (resume_timer_) retire(std::move(resume_timer_));
  auto timer = dispatcher_.onTimer(kAcceptPause, false, [this] { resumeAccepting(); });
  if (!timer) {
    VNETD_LOG_ERROR("control socket %s: %s; no longer accepting connections", options_.path.c_str(),
                    timer.error().message().c_str());
    return;
  }
  resume_timer_ = std::move(*timer);
}

void ControlServer::resumeAccepting() {
  auto event = dispatcher_.onReadable(listen_fd_.get(), [this] { acceptReady(); });
  if (!event) {
    pauseAccepting(ENOMEM);
    return;
  }
  accept_paused_ = false;
  listen_event_ = std::move(*event);
}

void ControlServer::adopt(UniqueFd fd) {
#if defined(SO_NOSIGPIPE)
  // Where it exists (FreeBSD), on top of MSG_NOSIGNAL: a vanished client never raises SIGPIPE.
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  auto peer = platform::peerCredentials(fd.get());
  if (!peer) {
    VNETD_LOG_WARN("control socket %s: %s; closing the connection", options_.path.c_str(),
                   peer.error().message().c_str());
    return;
  }
  if (std::string why = accessProblem(*peer, options_.access); !why.empty()) {
    ++stats_.refused_access;
    VNETD_LOG_INFO("control socket %s: refused pid %d: %s", options_.path.c_str(), static_cast<int>(peer->pid),
                   why.c_str());
    sendFinalLine(fd.get(), control::encodeError("permission denied: " + why));
    return;
  }
  if (connections_.size() >= options_.max_connections) {
    ++stats_.refused_too_many;
    VNETD_LOG_DEBUG("control socket %s: refused a connection: %zu already open", options_.path.c_str(),
                    connections_.size());
    sendFinalLine(fd.get(), control::encodeError("too many connections (" + std::to_string(options_.max_connections) +
                                                 " open); try again later"));
    return;
  }
  auto c = std::make_unique<Connection>();
  c->fd = std::move(fd);
  c->peer = *peer;
  c->last_request = Clock::now();
  Connection* raw = c.get();
  auto event = dispatcher_.onReadable(raw->fd.get(), [this, raw] { readReady(raw); });
  if (!event) {
    VNETD_LOG_WARN("control socket %s: %s; closing the connection", options_.path.c_str(),
                   event.error().message().c_str());
    return;
  }
  c->read_event = std::move(*event);
  c->id = next_id_++;
  by_id_.emplace(c->id, raw);
  connections_.emplace(raw, std::move(c));
}

// The client's input: requests while Reading; while a request is pending (Awaiting) its
// bytes are only buffered, up to max_request_bytes + one chunk, so that the end of the
// connection is seen (a client giving up must be noticed before its request runs).
void ControlServer::readReady(Connection* c) {
  // Any other state: a retired event firing once more before reap().
  if (c->state != State::Reading && c->state != State::Awaiting) return;
  const size_t old = c->input.size();
  c->input.resize(old + kReadChunk);
  ssize_t n = ::recv(c->fd.get(), c->input.data() + old, kReadChunk, 0);
  int err = errno;
  c->input.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n < 0) {
    if (wouldBlock(err) || err == EINTR) return;
    // ECONNRESET and friends: nobody left to answer.
    if (c->awaiting()) clientGone(c);
    else close(c);
    return;
  }
  if (n == 0) {
    // The client will send nothing more. An unterminated last line is still a request.
    if (!c->input.empty() && c->input.back() != '\n') c->input.push_back('\n');
    if (c->state == State::Awaiting) {
      if (!peerStillReads(c->fd.get())) {
        clientGone(c);
        return;
      }
      // Only its write side is shut (shutdown(SHUT_WR)): it waits for the reply.
      c->state = State::AwaitingAtEof;
      stopReading(c);
      return;
    }
    // Reading: answer what was read, then close.
    c->state = State::Draining;
    stopReading(c);
    processInput(c);
    if (c->ended()) return;
    flush(c);
    return;
  }
  if (c->state == State::Awaiting) {
    // Bounded like a Reading connection's input; reading resumes with the reply.
    if (c->input.size() >= options_.max_request_bytes + kReadChunk) stopReading(c);
    return;
  }
  processInput(c);
  if (!c->ended()) flush(c);
}

// Whether a client that sent EOF still reads, i.e. only shut down its write side (a
// hook-style client may), or closed the socket — then no reply can reach it. POLLHUP on a
// connected AF_UNIX stream socket means the peer closed it (or shut down both sides):
// Linux net/unix/af_unix.c unix_release_sock sets the peer's sk_shutdown = SHUTDOWN_MASK
// and unix_poll reports EPOLLHUP exactly then, while a peer's SHUT_WR only sets
// RCV_SHUTDOWN (EPOLLRDHUP); FreeBSD 15 sys/kern/uipc_usrreq.c
// uipc_sopoll_stream_or_seqpacket reports POLLHUP for SS_ISDISCONNECTED (the peer's
// socket went: unp_disconnect) or a peer that cannot receive (its SBS_CANTRCVMORE),
// FreeBSD 14 sys/kern/uipc_socket.c sopoll_generic when both SBS_CANTRCVMORE and
// SBS_CANTSENDMORE are set (soisdisconnected(), called by uipc_usrreq.c unp_disconnect
// for SOCK_STREAM). A peer's shutdown(SHUT_WR) only sets SBS_CANTRCVMORE on ours
// (uipc_usrreq.c unp_shutdown → socantrcvmore): no POLLHUP.
bool ControlServer::peerStillReads(int fd) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, 0) < 0) return true;  // cannot tell: keep the request
  return (p.revents & (POLLHUP | POLLERR)) == 0;
}

// The client left while a request of it was pending (its Reply now says abandoned()).
void ControlServer::clientGone(Connection* c) {
  ++stats_.abandoned;
  VNETD_LOG_DEBUG("control socket %s: pid %d left before its reply", options_.path.c_str(),
                  static_cast<int>(c->peer.pid));
  close(c);
}

void ControlServer::processInput(Connection* c) {
  size_t start = 0;
  for (;;) {
    size_t nl = c->input.find('\n', std::max(start, c->scanned));
    if (nl == std::string::npos) break;
    const bool refused = !handleLine(c, std::string_view(c->input).substr(start, nl - start));
    start = nl + 1;
    if (refused || c->ended()) break;  // refused an oversized line, or dropped
    if (c->state != State::Reading && c->state != State::Draining) break;  // waits for the reply (order)
  }
  if (c->ended()) return;
  if (c->awaiting()) {
    c->input.erase(0, start);
    c->scanned = 0;
    return;
  }
  if (c->state != State::Reading) {  // EOF or an oversized line: nothing buffered is needed any more
    std::string().swap(c->input);
    c->scanned = 0;
    return;
  }
  c->input.erase(0, start);
  c->scanned = c->input.size();
  // An idle connection should not keep the buffer of a past long line.
  if (c->input.empty() && c->input.capacity() > 2 * kReadChunk) std::string().swap(c->input);
  // An unfinished line already too long (one byte of slack for a '\r' before its '\n'):
  // refuse it now rather than buffer the rest of it.
  const size_t limit = options_.max_request_bytes;
  if (c->input.size() > limit + 1 || (c->input.size() == limit + 1 && c->input.back() != '\r')) {
    refuseOversized(c);
    std::string().swap(c->input);
    c->scanned = 0;
  }
}

bool ControlServer::handleLine(Connection* c, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return true;  // blank lines are keep-alive noise, not requests
  if (line.size() > options_.max_request_bytes) {
    refuseOversized(c);
    return false;
  }
  c->last_request = Clock::now();
  auto request = control::decodeRequest(line);
  if (!request) {
    ++stats_.bad_requests;
    respond(c, control::encodeError(request.error().message()));
    return true;
  }
  ++stats_.requests;
  // A client that closed its socket right after sending has given up before its request
  // was even read (a vnetd-hook that timed out while the daemon was stopped): the handler
  // still gets the request, with a Reply that is abandoned() from the start, so the work
  // is skipped the same way (and logged and counted where it would have run).
  if (!peerStillReads(c->fd.get())) {
    clientGone(c);
  } else {
    c->state = c->state == State::Draining ? State::AwaitingAtEof : State::Awaiting;
    c->liveness->watch(c->fd.get());
  }
  Connection* const outer = handling_;
  handling_ = c;
  const uint64_t id = c->id;
  Reply reply;
  reply.line_ = [this, alive = std::weak_ptr<char>(alive_), id](std::string line) {
    if (alive.expired()) return;
    complete(id, std::move(line));
  };
  reply.hand_over_ = [this, alive = std::weak_ptr<char>(alive_), id](std::string header, Take take) {
    if (alive.expired()) {
      if (take) take(UniqueFd());
      return;
    }
    handOver(id, std::move(header), std::move(take));
  };
  reply.liveness_ = c->liveness;
  try {
    handler_(*request, c->peer, std::move(reply));
  } catch (const std::exception& e) {
    VNETD_LOG_ERROR("control socket %s: handler failed on a %s request: %s", options_.path.c_str(),
                    control::opName(request->op), e.what());
    if (c->awaiting()) complete(id, control::encodeError("internal error"));
  } catch (...) {
    VNETD_LOG_ERROR("control socket %s: handler failed on a %s request", options_.path.c_str(),
                    control::opName(request->op));
    if (c->awaiting()) complete(id, control::encodeError("internal error"));
  }
  handling_ = outer;
  return true;
}

void ControlServer::complete(uint64_t id, std::string line) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;  // the client went away meanwhile
  Connection* c = it->second;
  if (!c->awaiting()) return;  // a second reply for one request, or handed over: ignored
  c->liveness->release();
  c->state = c->state == State::AwaitingAtEof ? State::Draining : State::Reading;
  respond(c, std::move(line));
  if (handling_ == c || c->ended()) return;  // synchronous: handleLine's caller carries on
  // Late reply: serve the requests that queued behind it, then read again.
  c->last_request = Clock::now();
  processInput(c);
  if (c->ended()) return;
  if (c->state == State::Reading || c->state == State::Awaiting) resumeReading(c);
  flush(c);
}

void ControlServer::handOver(uint64_t id, std::string header_line, Take take) {
  if (!take) take = [](UniqueFd) {};
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->awaiting()) {
    take(UniqueFd());  // the client went away, or this request was answered already
    return;
  }
  Connection* c = it->second;
  c->liveness->release();
  c->take = std::move(take);
  // Nothing more of this connection is handled, and it is exempt from the idle timeout
  // while the header goes out.
  c->state = State::HandingOver;
  stopReading(c);
  respond(c, std::move(header_line));
  flush(c);  // hands over at once when the socket takes it all (the usual case)
}

// The header and everything before it are written: the connection leaves the server.
// The fd changes hands in reap(), after its events are off the loop.
void ControlServer::finishHandOver(Connection* c) {
  ++stats_.handed_over;
  close(c, State::Handed);
}

void ControlServer::resumeReading(Connection* c) {
  if ((c->state != State::Reading && c->state != State::Awaiting) || c->read_event) return;
  auto event = dispatcher_.onReadable(c->fd.get(), [this, c] { readReady(c); });
  if (!event) {
    VNETD_LOG_WARN("control socket %s: %s; closing the connection", options_.path.c_str(),
                   event.error().message().c_str());
    close(c);
    return;
  }
  c->read_event = std::move(*event);
}

void ControlServer::refuseOversized(Connection* c) {
  ++stats_.oversized;
  VNETD_LOG_INFO("control socket %s: pid %d sent a request line over %zu bytes; closing", options_.path.c_str(),
                 static_cast<int>(c->peer.pid), options_.max_request_bytes);
  c->state = State::Draining;
  stopReading(c);
  respond(c, control::encodeError("request larger than " + std::to_string(options_.max_request_bytes) + " bytes"));
}

void ControlServer::respond(Connection* c, std::string line) {
  if (c->ended()) return;
  std::replace_if(line.begin(), line.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
  c->output.append(line);
  c->output.push_back('\n');
  if (c->pendingOutput() > options_.max_pending_output) {
    ++stats_.dropped_slow;
    VNETD_LOG_INFO("control socket %s: pid %d does not read its replies (%zu bytes pending); dropping it",
                   options_.path.c_str(), static_cast<int>(c->peer.pid), c->pendingOutput());
    close(c);
  }
}

void ControlServer::flush(Connection* c) {
  if (c->ended()) return;
  while (c->pendingOutput() > 0) {
    ssize_t n = ::send(c->fd.get(), c->output.data() + c->output_sent, c->pendingOutput(), MSG_NOSIGNAL);
    if (n > 0) {
      c->output_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && wouldBlock(errno)) {
      if (c->output_sent >= kCompactOutputBytes && c->output_sent * 2 >= c->output.size()) {
        c->output.erase(0, c->output_sent);
        c->output_sent = 0;
      }
      if (!c->write_event) {
        auto event = dispatcher_.onWritable(c->fd.get(), [this, c] { flush(c); });
        if (!event) {
          VNETD_LOG_WARN("control socket %s: %s; closing the connection", options_.path.c_str(),
                         event.error().message().c_str());
          close(c);
          return;
        }
        c->write_event = std::move(*event);
      }
      return;
    }
    // EPIPE, ECONNRESET: the client went away.
    if (c->awaiting()) clientGone(c);
    else close(c);
    return;
  }
  // Drained: give a large buffer back, and stop watching for writability (retired, as
  // this may be the write event's own callback).
  if (c->output.capacity() > kCompactOutputBytes) std::string().swap(c->output);
  c->output.clear();
  c->output_sent = 0;
  if (c->write_event) retire(std::move(c->write_event));
  if (c->state == State::HandingOver) {
    finishHandOver(c);
    return;
  }
  if (c->state == State::Draining) close(c);
}

void ControlServer::stopReading(Connection* c) {
  if (c->read_event) retire(std::move(c->read_event));
}

void ControlServer::close(Connection* c, State final_state) {
  if (c->ended()) return;
  auto it = connections_.find(c);
  if (it == connections_.end()) return;
  c->state = final_state;
  c->liveness->end();
  by_id_.erase(c->id);
  // Its events may be the ones running right now: the connection (events, then fd) is
  // destroyed by reap() on a later loop iteration; until then its callbacks return early.
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
  scheduleReap();
}

void ControlServer::sweepIdle() {
  const auto now = Clock::now();
  std::vector<Connection*> expired;
  for (const auto& [raw, c] : connections_)
    if ((c->state == State::Reading || c->state == State::Draining) && now - c->last_request >= options_.idle_timeout)
      expired.push_back(raw);
  for (Connection* c : expired) {
    ++stats_.timeouts;
    VNETD_LOG_DEBUG("control socket %s: pid %d idle for %lld ms; closing", options_.path.c_str(),
                    static_cast<int>(c->peer.pid), static_cast<long long>(options_.idle_timeout.count()));
    close(c);
  }
}

void ControlServer::retire(std::unique_ptr<Event> event) {
  retired_.push_back(std::move(event));
  scheduleReap();
}

void ControlServer::scheduleReap() {
  if (reap_scheduled_) return;
  // A zero timer runs on the next loop iteration, after every callback of this one.
  // reap_timer_ is never the running callback here: reap() itself schedules nothing.
  auto timer = dispatcher_.onTimer(std::chrono::milliseconds(0), false, [this] { reap(); });
  if (!timer) {
    // Out of memory in libevent: the garbage waits for the next successful schedule or
    // for the destructor; callbacks of closed connections stay harmless meanwhile.
    VNETD_LOG_ERROR("control socket %s: %s", options_.path.c_str(), timer.error().message().c_str());
    return;
  }
  reap_timer_ = std::move(*timer);
  reap_scheduled_ = true;
}

void ControlServer::reap() {
  reap_scheduled_ = false;
  // Moved out first so that nothing destroyed here can disturb the containers.
  auto closed = std::move(closed_);
  auto retired = std::move(retired_);
  closed_.clear();
  retired_.clear();
  retired.clear();
  auto take = takers(closed);
  closed.clear();
  // Last: a taker may use the loop (post, new events) but never sees this server mid-reap.
  for (auto& [fn, fd] : take) fn(std::move(fd));
}

}  // namespace vnetd::daemon
