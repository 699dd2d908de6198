// Interface events of the host's stack: the PF_ROUTE routing socket (decoded by
// RtsockEventTranslator) plus devd(8)'s seqpacket socket (parseDevdRecord). devd
// contributes arrivals, departures and link changes only — the kernel's RENAME and
// ADDR_ADD/ADDR_DEL notifications come from every jail's vnet too (devd_parse.h), so
// renames and addresses are the routing socket's, which hears the host's vnet alone.
//
// devd is optional: it may not run, and it may restart. The source then keeps going on
// the routing socket alone and reconnects to devd with a back-off (1 s doubling to 30 s),
// attempted from drain() when due — never blocking, never sleeping. Consequently fds()
// changes (fdsGeneration() moves) when devd goes or comes back, and while devd is away
// retryAt() says when the next attempt is due, for a quiet host where nothing else
// would call drain().
#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <net/if.h>
#include <net/route.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string_view>

#include "core/log.h"
#include "core/unique_fd.h"
#include "platform/events.h"
#include "platform/freebsd/devd_parse.h"
#include "platform/freebsd/interfaces.h"
#include "platform/freebsd/rtsock_decode.h"

namespace vnetd::platform {

namespace fbsd {
namespace {

static_assert(RTM_VERSION == kRtmVersion, "rtsock_decode.h routing message version");

constexpr const char* kDevdSocket = "/var/run/devd.seqpacket.pipe";
constexpr auto kDevdRetryMin = std::chrono::seconds(1);
constexpr auto kDevdRetryMax = std::chrono::seconds(30);
// Large buffers make overflow rare during storms (hundreds of epairs at once); the
// kernel caps SO_RCVBUF at kern.ipc.maxsockbuf, so smaller sizes are tried in turn.
constexpr int kRouteBuffers[] = {8 << 20, 4 << 20, 2 << 20, 1 << 20};
constexpr size_t kReadBuffer = 65536;

using Clock = EventSource::Clock;

class FreeBsdEventSource final : public EventSource {
 public:
  explicit FreeBsdEventSource(UniqueFd route) : route_(std::move(route)) {}

  Result<void> reseed() {
    auto entries = readInterfaces();
    if (!entries) return entries.error();
    std::map<uint32_t, RtsockEventTranslator::Known> known;
    for (const IfEntry& e : *entries) {
      if (e.family != AF_LINK) continue;
      RtsockEventTranslator::Known k;
      k.name = std::string(e.name, strnlen(e.name, IFNAMSIZ));
      k.link_state = e.has_data ? e.data.ifi_link_state : kLinkStateUnknown;
      known[e.index] = std::move(k);
    }
    translator_.seed(known);
    return success();
  }

  // Connects to devd now (start) or when the back-off allows (from drain()).
  void tryDevd(Clock::time_point now) {
    if (devd_ || now < devd_next_attempt_) return;
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (s) {
      struct sockaddr_un sun;
      std::memset(&sun, 0, sizeof sun);
      sun.sun_family = AF_UNIX;
      std::strncpy(sun.sun_path, kDevdSocket, sizeof sun.sun_path - 1);
      sun.sun_len = static_cast<uint8_t>(SUN_LEN(&sun));
      // A local connect completes at once or fails (ENOENT/ECONNREFUSED: devd not
      // running); it does not go EINPROGRESS on a listening unix socket.
      if (::connect(s.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) == 0) {
        devd_ = std::move(s);
        ++fds_generation_;
        devd_backoff_ = kDevdRetryMin;
        if (devd_warned_) VNETD_LOG_INFO("devd events: connected to %s", kDevdSocket);
        devd_warned_ = false;
        return;
      }
    }
    if (!devd_warned_) {
      VNETD_LOG_WARN(
          "devd events: cannot connect to %s (%s); using the routing socket alone, retrying",
          kDevdSocket, std::strerror(errno));
      devd_warned_ = true;
    }
    devd_next_attempt_ = now + devd_backoff_;
    devd_backoff_ =
        std::min(devd_backoff_ * 2, std::chrono::duration_cast<Clock::duration>(kDevdRetryMax));
  }

  std::vector<int> fds() const override {
    std::vector<int> out{route_.get()};
    if (devd_) out.push_back(devd_.get());
    return out;
  }
  uint64_t fdsGeneration() const override { return fds_generation_; }
  std::optional<Clock::time_point> retryAt() const override {
    if (devd_) return std::nullopt;
    return devd_next_attempt_;
  }

  Result<void> drain(std::vector<InterfaceEvent>& out) override {
    alignas(8) static thread_local std::byte buf[kReadBuffer];
    bool overflow = false;
    for (;;) {
      ssize_t n = ::recv(route_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS) {  // SO_RERROR: the kernel dropped messages for us
          overflow = true;
          continue;  // the socket stays usable; keep reading what is queued
        }
        return errnoError("read routing socket events");
      }
      translator_.translate(std::span<const std::byte>(buf, static_cast<size_t>(n)), out);
    }

    while (devd_) {
      ssize_t n = ::recv(devd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        dropDevd(std::strerror(errno));
        break;
      }
      if (n == 0) {  // devd went away (restart, shutdown)
        dropDevd("connection closed");
        break;
      }
      // One event per record on the seqpacket socket.
      std::string_view record(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
      if (auto event = parseDevdRecord(record)) {
        if (auto e = devdInterfaceEvent(*event)) out.push_back(std::move(*e));
      }
    }
    tryDevd(Clock::now());

    if (overflow) {
      InterfaceEvent e;
      e.type = InterfaceEvent::Type::ResyncNeeded;
      e.source = "route";
      out.push_back(e);
      // Relearn names and link states so later renames/transitions are right again.
      VNETD_TRY(reseed());
    }
    return success();
  }

 private:
  void dropDevd(const char* why) {
    VNETD_LOG_WARN("devd events: lost %s (%s); reconnecting", kDevdSocket, why);
    devd_warned_ = true;
    devd_.reset();
    ++fds_generation_;
    devd_backoff_ = kDevdRetryMin;
    devd_next_attempt_ = Clock::now() + devd_backoff_;
  }

  UniqueFd route_;
  UniqueFd devd_;
  uint64_t fds_generation_ = 0;
  Clock::time_point devd_next_attempt_{};
  Clock::duration devd_backoff_ = kDevdRetryMin;
  bool devd_warned_ = false;
  RtsockEventTranslator translator_;
};

}  // namespace
}  // namespace fbsd

Result<std::unique_ptr<EventSource>> openHostEvents() {
  // AF_UNSPEC: interface announcements and IFINFO are not tagged with an address family.
  UniqueFd route(::socket(PF_ROUTE, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, AF_UNSPEC));
  if (!route) return errnoError("open routing socket for events");
#ifdef SO_RERROR
  // Without it the kernel drops messages silently when the buffer is full; with it the
  // next recv fails once with ENOBUFS, which becomes ResyncNeeded.
  int on = 1;
  if (::setsockopt(route.get(), SOL_SOCKET, SO_RERROR, &on, sizeof on) != 0)
    VNETD_LOG_WARN("routing socket: SO_RERROR not supported (%s); overflows will go unnoticed",
                   std::strerror(errno));
#endif
  for (int size : fbsd::kRouteBuffers)
    if (::setsockopt(route.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0) break;

  auto src = std::make_unique<fbsd::FreeBsdEventSource>(std::move(route));
  // Subscribe first, then learn the table: a change in between shows up as an event
  // about a link we already know, which the translator handles.
  VNETD_TRY(src->reseed());
  src->tryDevd(fbsd::Clock::now());
  return std::unique_ptr<EventSource>(std::move(src));
}

}  // namespace vnetd::platform
