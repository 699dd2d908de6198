#include "daemon/router_advertiser.h"

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "core/ndp.h"

namespace vnetd::daemon {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

namespace {
// While the bridge or its link-local address is missing.
constexpr milliseconds kRetry{1000};
}  // namespace

struct RouterAdvertiser::Bridge {
  BridgeConfig config;
  std::optional<platform::RouterSocket> socket;
  uint32_t ifindex = 0;
  MacAddress mac;
  std::unique_ptr<Event> readable;
  std::unique_ptr<Event> timer;
  unsigned sent = 0;                          // RAs sent since the socket was opened
  std::optional<Clock::time_point> last_sent;  // the last multicast RA
  bool answer_due = false;                     // a solicitation waits for the 3 s to pass
  std::string last_error;                      // logged once until it changes
};

RouterAdvertiser::RouterAdvertiser(Dispatcher& dispatcher, platform::NetStack& host, Counters& counters)
    : dispatcher_(dispatcher), host_(host), counters_(counters), random_(std::random_device{}()) {}

RouterAdvertiser::~RouterAdvertiser() = default;

void RouterAdvertiser::apply(const Config& config) {
  std::map<std::string, std::unique_ptr<Bridge>> next;
  for (const auto& [key, br] : config.bridges) {
    if (!br.router_advertisements || !br.address6) continue;
    auto it = bridges_.find(key);
    if (it != bridges_.end() && it->second->config.interface == br.interface &&
        it->second->config.address6 == br.address6 && it->second->config.mtu == br.mtu) {
      next[key] = std::move(it->second);  // unchanged: keeps its socket and its rhythm
      continue;
    }
    auto b = std::make_unique<Bridge>();
    b->config = br;
    VNETD_LOG_INFO("bridge %s: sending IPv6 router advertisements for %s", br.interface.c_str(),
                   Cidr{br.address6->network(), br.address6->prefix}.toString().c_str());
    Bridge& ref = *b;
    next[key] = std::move(b);
    schedule(ref, milliseconds(0));
  }
  bridges_ = std::move(next);  // removed bridges: their events and sockets close here
}

void RouterAdvertiser::schedule(Bridge& b, milliseconds delay) {
  Bridge* p = &b;
  auto timer = dispatcher_.onTimer(delay, false, [this, p] { tick(*p); });
  if (!timer) {
    VNETD_LOG_WARN("bridge %s: cannot arm the router advertisement timer: %s", b.config.interface.c_str(),
                   timer.error().message().c_str());
    return;
  }
  // Replacing the Event from inside its own callback would destroy it while it runs:
  // hand the old one to the loop to drop later.
  if (b.timer) {
    b.timer->cancel();
    dispatcher_.post([old = std::shared_ptr<Event>(std::move(b.timer))] {});
  }
  b.timer = std::move(*timer);
}

milliseconds RouterAdvertiser::nextInterval(Bridge& b) {
  std::uniform_int_distribution<uint32_t> ms(ndp::kMinIntervalSeconds * 1000, ndp::kMaxIntervalSeconds * 1000);
  milliseconds next(ms(random_));
  if (b.sent < ndp::kInitialAdvertisements) next = std::min<milliseconds>(next, seconds(ndp::kInitialIntervalSeconds));
  return next;
}

void RouterAdvertiser::tick(Bridge& b) {
  if (b.answer_due && b.last_sent && Clock::now() - *b.last_sent < milliseconds(ndp::kMinDelayBetweenRasMs)) {
    // An early tick for a pending answer that is not due yet (cannot happen by
    // construction, but never send two multicast RAs within 3 s).
    schedule(b, std::chrono::duration_cast<milliseconds>(*b.last_sent + milliseconds(ndp::kMinDelayBetweenRasMs) -
                                                         Clock::now()));
    return;
  }
  if (!advertise(b)) {
    schedule(b, kRetry);
    return;
  }
  b.answer_due = false;
  schedule(b, nextInterval(b));
}

bool RouterAdvertiser::ensureSocket(Bridge& b) {
  auto fail = [&](const std::string& why) {
    if (why != b.last_error) VNETD_LOG_WARN("bridge %s: router advertisements: %s", b.config.interface.c_str(), why.c_str());
    b.last_error = why;
    return false;
  };
  auto link = host_.currentLink(b.config.interface);
  if (!link) return fail(link.error().message());
  if (!*link) return fail("the bridge does not exist (yet)");
  if (b.socket && (*link)->index == b.ifindex) return true;
  // New, or the bridge was made anew (another index): a socket for this one, and a
  // link-local address to send from (FreeBSD bridges have none by default).
  b.readable.reset();
  b.socket.reset();
  if (auto ll = host_.enableLinkLocal(b.config.interface); !ll) return fail(ll.error().message());
  auto sock = platform::RouterSocket::open(b.config.interface, (*link)->index);
  if (!sock) return fail(sock.error().message());
  b.socket.emplace(std::move(*sock));
  b.ifindex = (*link)->index;
  b.mac = (*link)->mac;
  b.sent = 0;
  Bridge* p = &b;
  auto readable = dispatcher_.onReadable(b.socket->fd(), [this, p] { onReadable(*p); });
  if (!readable) {
    b.socket.reset();
    return fail(readable.error().message());
  }
  b.readable = std::move(*readable);
  return true;
}

bool RouterAdvertiser::advertise(Bridge& b) {
  if (!ensureSocket(b)) return false;
  auto source = platform::linkLocalAddress(b.config.interface);
  if (!source || !*source) {
    std::string why = source ? "the bridge has no IPv6 link-local address yet" : source.error().message();
    if (why != b.last_error) VNETD_LOG_INFO("bridge %s: router advertisements wait: %s", b.config.interface.c_str(), why.c_str());
    b.last_error = why;
    return false;
  }
  ndp::RouterAdvertisement ra;
  ra.source_link_layer = b.mac;
  ra.mtu = b.config.mtu;
  ra.prefixes.push_back({*b.config.address6});
  auto bytes = ndp::encodeRouterAdvertisement(ra);
  auto sent = b.socket->send(bytes, *IpAddress::parse("ff02::1"), **source);
  if (!sent) {
    // A link-local address still in DAD cannot be a source (Linux: EINVAL/EADDRNOTAVAIL);
    // a bridge gone since the look-up: the socket is made anew for the next one.
    counters_.add("router_advertisement_errors");
    std::string why = sent.error().message();
    if (why != b.last_error) VNETD_LOG_WARN("bridge %s: %s", b.config.interface.c_str(), why.c_str());
    b.last_error = why;
    b.readable.reset();
    b.socket.reset();
    return false;
  }
  if (!b.last_error.empty())
    VNETD_LOG_INFO("bridge %s: router advertisements are being sent", b.config.interface.c_str());
  b.last_error.clear();
  b.last_sent = Clock::now();
  ++b.sent;
  counters_.add("router_advertisements_sent");
  return true;
}

void RouterAdvertiser::onReadable(Bridge& b) {
  if (!b.socket) return;
  bool solicited = false;
  for (int i = 0; i < 64; ++i) {  // bounded: a flood must not starve the loop
    auto r = b.socket->receive();
    if (!r) {
      VNETD_LOG_WARN("bridge %s: %s", b.config.interface.c_str(), r.error().message().c_str());
      break;
    }
    if (!*r) break;
    auto rs = ndp::decodeRouterSolicitation((*r)->icmp, (*r)->source, (*r)->hop_limit);
    if (!rs) {
      counters_.add("router_solicitations_invalid");
      VNETD_LOG_DEBUG("bridge %s: ignored from %s: %s", b.config.interface.c_str(), (*r)->source.toString().c_str(),
                      rs.error().message().c_str());
      continue;
    }
    counters_.add("router_solicitations_received");
    solicited = true;
  }
  if (!solicited || b.answer_due) return;
  // Answer with a multicast RA (RFC 4861 6.2.6), at once unless one went out less than
  // MIN_DELAY_BETWEEN_RAS ago: then when that time is up. Either way it counts as the
  // periodic one (the timer restarts after it).
  b.answer_due = true;
  milliseconds wait(0);
  if (b.last_sent) {
    auto since = std::chrono::duration_cast<milliseconds>(Clock::now() - *b.last_sent);
    if (since < milliseconds(ndp::kMinDelayBetweenRasMs)) wait = milliseconds(ndp::kMinDelayBetweenRasMs) - since;
  }
  schedule(b, wait);
}

}  // namespace vnetd::daemon
