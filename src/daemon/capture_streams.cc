#include "daemon/capture_streams.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "collectors/live_capture.h"
#include "core/log.h"
#include "core/unique_fd.h"
#include "platform/host.h"

namespace vnetd::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Records waiting for a slow client are bounded: beyond this the session stops reading
// its capture (the kernel buffer then drops, as tcpdump's would) until the client reads.
constexpr size_t kMaxBuffered = 4 << 20;
// How often a session thread looks at its clock when nothing happens.
constexpr int kTickMs = 200;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

Result<CaptureTarget> resolveCaptureTarget(const State& state, const std::string& jail) {
  auto it = state.jails.find(jail);
  if (it == state.jails.end()) return plainError("no jail '" + jail + "' is recorded by vnetd");
  CaptureTarget t;
  for (const auto& ir : it->second.interfaces) {
    if (ir.bridge.empty()) continue;
    if (std::find(t.bridges.begin(), t.bridges.end(), ir.bridge) == t.bridges.end()) t.bridges.push_back(ir.bridge);
    for (const auto* mac : {&ir.host_mac, &ir.jail_mac})
      if (!mac->empty() && std::find(t.macs.begin(), t.macs.end(), *mac) == t.macs.end()) t.macs.push_back(*mac);
  }
  if (t.bridges.empty()) return plainError("jail " + jail + " has no interface on a bridge: nothing to capture");
  if (t.macs.empty()) return plainError("jail " + jail + " has no recorded MAC address: nothing to capture");
  return t;
}

std::string captureFilterExpression(const std::vector<std::string>& macs, const std::string& filter) {
  std::string e = "(";
  for (size_t i = 0; i < macs.size(); ++i) e += (i ? " or ether host " : "ether host ") + macs[i];
  e += ")";
  if (!filter.empty()) e += " and (" + filter + ")";
  return e;
}

// One capture. The loop thread owns `reply` and the map entry; the session thread owns
// the capture and, once handed over, the socket. They share only what is guarded below.
struct CaptureStreams::Session {
  uint64_t id = 0;
  control::Request request;
  std::string bridges;          // header's "bridge"
  ControlServer::Reply reply;   // loop thread
  std::thread thread;           // joined by finished() or the destructor (loop thread)
  std::unique_ptr<collectors::LiveCapture> live;  // live: opened by the thread
  std::string stream;           // --last: the whole pcap stream, written by the thread

  UniqueFd wake_read, wake_write;  // a byte: look at `stop` and `given`
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::optional<UniqueFd> given;  // guarded by mutex: the socket (or nothing) from the hand-over

  void wake() {
    char b = 1;
    (void)!::write(wake_write.get(), &b, 1);  // a full pipe has a wake-up pending already
  }
  void give(UniqueFd fd) {
    {
      std::lock_guard lock(mutex);
      given = std::move(fd);
    }
    wake();
  }
  // Waits for the hand-over; nothing when stopped or the client went away first.
  UniqueFd awaitSocket();
  // Writes `stream` to `sock`, then (live) records as they come, until a bound, the
  // client leaving or stalling, or stop. Returns frames sent and why it ended.
  std::pair<uint64_t, std::string> pump(int sock);
};

UniqueFd CaptureStreams::Session::awaitSocket() {
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (given) return std::move(*given);
    }
    if (stop) return UniqueFd();
    pollfd p{wake_read.get(), POLLIN, 0};
    if (::poll(&p, 1, kTickMs) > 0) {
      char buf[64];
      while (::read(wake_read.get(), buf, sizeof buf) > 0) {
      }
    }
  }
}

std::pair<uint64_t, std::string> CaptureStreams::Session::pump(int sock) {
  const bool capturing = live != nullptr;
  const auto start = Clock::now();
  const auto deadline =
      capturing && request.seconds ? start + std::chrono::seconds(request.seconds) : Clock::time_point::max();
  uint64_t remaining = capturing && request.count ? request.count : UINT64_MAX;
  uint64_t frames = 0;
  std::string& out = stream;
  size_t sent = 0;
  auto progress = start;
  bool reading = true;  // the client's side: watched for EOF, its bytes discarded
  bool more = capturing;  // frames may still come
  std::string why;
  for (;;) {
    if (stop) {
      why = "the daemon is stopping";
      break;
    }
    auto now = Clock::now();
    if (more && now >= deadline) {
      more = false;
      why = std::to_string(request.seconds) + " s elapsed";
    }
    if (more && remaining == 0) {
      more = false;
      why = std::to_string(request.count) + " frames captured";
    }
    // Read what the capture has, unless the client is too far behind.
    if (more && out.size() - sent < kMaxBuffered) {
      size_t before = out.size();
      auto n = live->dispatch(out, static_cast<size_t>(std::min<uint64_t>(remaining, 1 << 16)));
      if (!n) {
        more = false;
        why = n.error().message();
      } else {
        remaining -= *n;
        frames += *n;
      }
      if (out.size() != before) now = Clock::now();
    }
    // Write what is pending.
    while (sent < out.size()) {
      ssize_t w = ::send(sock, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        sent += static_cast<size_t>(w);
        progress = now;
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return {frames, "the client went away"};
    }
    if (sent == out.size()) {
      out.clear();
      sent = 0;
      progress = now;
      if (!more) {
        if (why.empty()) why = "all frames written";
        break;
      }
    } else if (sent > kMaxBuffered / 2) {
      out.erase(0, sent);
      sent = 0;
    }
    if (now - progress > kStalledClientTimeout) {
      return {frames, "the client read nothing for " + std::to_string(kStalledClientTimeout.count()) + " s"};
    }
    // Wait for: the capture (while it may deliver and the buffer has room), the socket
    // (writable while output waits; hang-up always), the wake-up pipe, the clock.
    std::vector<pollfd> p;
    p.push_back({wake_read.get(), POLLIN, 0});
    p.push_back({sock, static_cast<short>((reading ? POLLIN : 0) | (sent < out.size() ? POLLOUT : 0)), 0});
    if (more && out.size() - sent < kMaxBuffered)
      for (int fd : live->fds()) p.push_back({fd, POLLIN, 0});
    int timeout = kTickMs;
    if (deadline != Clock::time_point::max() && more) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<int64_t>(left, 0, kTickMs));
    }
    int n = ::poll(p.data(), static_cast<nfds_t>(p.size()), timeout);
    if (n < 0 && errno != EINTR) return {frames, std::string("poll: ") + std::strerror(errno)};
    if (n <= 0) continue;
    if (p[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_read.get(), buf, sizeof buf) > 0) {
      }
    }
    if (p[1].revents & (POLLHUP | POLLERR)) return {frames, "the client went away"};
    if (p[1].revents & POLLIN) {
      char buf[512];
      ssize_t r = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) reading = false;  // half-closed: it may still read the stream
      else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return {frames, "the client went away"};
    }
  }
  return {frames, why};
}

// ------------------------------------------------------------------- CaptureStreams

CaptureStreams::CaptureStreams(Dispatcher& dispatcher, collectors::CaptureManager& capture)
    : dispatcher_(dispatcher), capture_(capture) {}

CaptureStreams::~CaptureStreams() {
  for (auto& [id, s] : sessions_) {
    s->stop = true;
    s->wake();
  }
  for (auto& [id, s] : sessions_)
    if (s->thread.joinable()) s->thread.join();
  // After the joins (session threads read it in postToLoop): reports still on their way
  // to the loop are dropped.
  alive_.reset();
}

void CaptureStreams::postToLoop(std::function<void(CaptureStreams&)> fn) {
  dispatcher_.post([alive = std::weak_ptr<char>(alive_), self = this, fn = std::move(fn)] {
    if (!alive.expired()) fn(*self);
  });
}

CaptureStreams::SessionPtr CaptureStreams::add(const control::Request& request, ControlServer::Reply reply,
                                                 std::string bridges) {
  auto s = std::make_shared<Session>();
  int fds[2];
  if (::pipe(fds) != 0) {
    reply(control::encodeError(std::string("cannot start a capture: pipe: ") + std::strerror(errno)));
    return nullptr;
  }
  s->wake_read.reset(fds[0]);
  s->wake_write.reset(fds[1]);
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  s->id = next_id_++;
  s->request = request;
  s->reply = std::move(reply);
  s->bridges = std::move(bridges);
  sessions_[s->id] = s;
  return s;
}

namespace {
// Session threads leave signals to the loop thread, like the capture threads.
void blockSignals() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}
}  // namespace

void CaptureStreams::handle(const control::Request& request, const State& state, ControlServer::Reply reply) {
  auto target = resolveCaptureTarget(state, request.jail);
  if (!target) return reply(control::encodeError(target.error().message()));
  if (sessions_.size() >= kMaxCaptureStreams)
    return reply(control::encodeError("too many captures running (at most " + std::to_string(kMaxCaptureStreams) +
                                      " at once); try again when one has ended"));
  SessionPtr s = add(request, std::move(reply), joined(target->bridges));
  if (!s) return;
  VNETD_LOG_INFO("capture %llu: jail %s on %s%s%s%s", static_cast<unsigned long long>(s->id), request.jail.c_str(),
                 s->bridges.c_str(), request.last ? " (flight recorder)" : "", request.filter.empty() ? "" : ", filter ",
                 request.filter.c_str());

  if (request.last) {
    // The capture threads copy the rings out; their answer comes back through the loop.
    // `done` runs on a capture thread, maybe after this object is gone (captures stop
    // after the sessions at shutdown): it touches nothing of ours but what it captured.
    capture_.recorded(request.jail, target->bridges,
                      [&dispatcher = dispatcher_, alive = std::weak_ptr<char>(alive_), self = this,
                       id = s->id](Result<collectors::RecordedFrames> r) {
                        auto shared = std::make_shared<Result<collectors::RecordedFrames>>(std::move(r));
                        dispatcher.post([alive, self, id, shared] {
                          if (!alive.expired()) self->recorded(id, std::move(*shared));
                        });
                      });
    return;
  }

  // Live: opening pcap handles takes a few milliseconds and may touch the kernel's
  // interface list: the session thread's job, never the loop's.
  std::string expression = captureFilterExpression(target->macs, request.filter);
  std::vector<std::string> bridges = target->bridges;
  uint32_t snaplen = request.snaplen ? request.snaplen : kDefaultLiveSnaplen;
  s->thread = std::thread([this, s, expression, bridges, snaplen] {
    platform::nameThisThread("vnetd-stream");
    blockSignals();
    // The user's filter alone first: its error message then speaks of what they typed,
    // and only a filter that compiles alone (balanced parentheses) is spliced in — so
    // "udp) or (tcp" cannot escape the restriction to the jail's MACs.
    auto checked = collectors::checkCaptureFilter(s->request.filter);
    Result<std::unique_ptr<collectors::LiveCapture>> live = checked.error();
    if (checked) live = collectors::LiveCapture::open(bridges, snaplen, expression);
    if (!live) {
      auto error = std::make_shared<Error>(live.error());
      postToLoop([id = s->id, error](CaptureStreams& self) { self.opened(id, *error); });
      postToLoop([id = s->id](CaptureStreams& self) { self.finished(id); });
      return;
    }
    s->live = std::move(*live);
    collectors::appendPcapFileHeader(s->stream, snaplen);
    control::CaptureHeader header{s->bridges, collectors::kLinktypeEthernet, snaplen};
    postToLoop([id = s->id, header](CaptureStreams& self) { self.opened(id, header); });
    UniqueFd sock = s->awaitSocket();
    std::pair<uint64_t, std::string> result{0, "the client went away before the capture started"};
    if (sock) result = s->pump(sock.get());
    s->live.reset();
    sock.reset();  // the client sees EOF after the last record
    VNETD_LOG_INFO("capture %llu: ended after %llu frames: %s", static_cast<unsigned long long>(s->id),
                   static_cast<unsigned long long>(result.first), result.second.c_str());
    postToLoop([id = s->id](CaptureStreams& self) { self.finished(id); });
  });
}

void CaptureStreams::opened(uint64_t id, Result<control::CaptureHeader> header) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SessionPtr s = it->second;
  if (!header) {
    VNETD_LOG_INFO("capture %llu: %s", static_cast<unsigned long long>(id), header.error().message().c_str());
    s->reply(control::encodeError(header.error().message()));
    return;
  }
  s->reply.handOver(control::encodeCaptureHeader(*header), [s](UniqueFd fd) { s->give(std::move(fd)); });
}

void CaptureStreams::recorded(uint64_t id, Result<collectors::RecordedFrames> frames) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SessionPtr s = it->second;
  auto fail = [&](const std::string& why) {
    s->reply(control::encodeError(why));
    finished(id);
  };
  if (!frames) return fail(frames.error().message());
  // At most flight_recorder_packets × bridges frames of snaplen bytes: filtering and
  // encoding them here costs well under a millisecond.
  auto kept = collectors::filterRecordedFrames(std::move(*frames), s->request.filter);
  if (!kept) return fail(kept.error().message());
  kept->keepNewest(s->request.count);
  uint32_t snaplen = std::max<uint32_t>(kept->snaplen, 1);
  if (s->request.snaplen) snaplen = std::min(snaplen, s->request.snaplen);
  collectors::appendPcapFileHeader(s->stream, snaplen);
  size_t offset = 0;
  for (const auto& m : kept->meta) {
    collectors::appendPcapRecord(s->stream, m, std::span(kept->bytes).subspan(offset, m.caplen), snaplen);
    offset += m.caplen;
  }
  const size_t count = kept->meta.size();
  control::CaptureHeader header{s->bridges, collectors::kLinktypeEthernet, snaplen, kept->sample};
  s->reply.handOver(control::encodeCaptureHeader(header), [this, s, count,
                                                            alive = std::weak_ptr<char>(alive_)](UniqueFd fd) {
    if (alive.expired()) return;  // handed over while shutting down: the fd closes here
    if (!fd) return finished(s->id);
    // Writing may wait for a slow client (up to the stall timeout): a thread, as live.
    s->thread = std::thread([this, s, count, sock = std::make_shared<UniqueFd>(std::move(fd))] {
      platform::nameThisThread("vnetd-stream");
      blockSignals();
      auto result = s->pump(sock->get());
      sock->reset();
      VNETD_LOG_INFO("capture %llu: flight recorder: %zu frames; %s", static_cast<unsigned long long>(s->id), count,
                     result.second.c_str());
      postToLoop([id = s->id](CaptureStreams& self) { self.finished(id); });
    });
  });
}

void CaptureStreams::finished(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SessionPtr s = it->second;
  sessions_.erase(it);
  // Its last act was to post this: the join is immediate.
  if (s->thread.joinable()) s->thread.join();
}

}  // namespace vnetd::daemon
