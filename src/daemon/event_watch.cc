#include "daemon/event_watch.h"

#include <algorithm>
#include <string>

#include "core/log.h"

namespace vnetd::daemon {
namespace {

// When libevent refused to watch the new descriptors, the next attempt is this far off.
constexpr auto kRewatchRetry = std::chrono::seconds(1);
// Retry drains are this far apart at least, whatever a source asks: one whose retryAt()
// stays in the past must not turn the loop into a busy loop.
constexpr std::chrono::milliseconds kMinRetryDelay{10};
// How long notifications gather before one drain reads them all (see the header).
constexpr std::chrono::milliseconds kBatchDelay{3};

std::string list(const std::vector<int>& fds) {
  std::string s;
  for (int fd : fds) s += (s.empty() ? "" : ", ") + std::to_string(fd);
  return s;
}

}  // namespace

Result<std::unique_ptr<EventWatch>> EventWatch::create(Dispatcher& dispatcher, platform::EventSource& source,
                                                       Handler handler) {
  std::unique_ptr<EventWatch> w(new EventWatch(dispatcher, source, std::move(handler)));
  w->watched_generation_ = source.fdsGeneration();
  VNETD_TRY(w->watchAll());
  w->follow();  // the retry timer, if the source already wants one
  return w;
}

EventWatch::~EventWatch() = default;  // never inside one of its own callbacks

Result<void> EventWatch::watchAll() {
  std::vector<int> fds = source_.fds();
  std::vector<std::unique_ptr<Event>> watches;
  for (int fd : fds) {
    auto w = dispatcher_.onReadable(fd, [this] { readable(); });
    if (!w) return w.error();
    watches.push_back(std::move(*w));
  }
  watches_ = std::move(watches);
  watched_fds_ = std::move(fds);
  return success();
}

void EventWatch::retire(std::unique_ptr<Event> event) {
  if (!event) return;
  event->cancel();
  // Usually called inside one of the Event's callbacks: destroyed once that returned.
  dispatcher_.post([e = std::shared_ptr<Event>(std::move(event))] {});
}

void EventWatch::readable() {
  if (batch_timer_) return;  // paused already (a second descriptor of the same wake-up)
  auto timer = dispatcher_.onTimer(kBatchDelay, false, [this] { endBatch(); });
  if (!timer) {  // no timer to wait for: read now, as without batching
    drain();
    return;
  }
  for (auto& w : watches_) w->cancel();
  batch_timer_ = std::move(*timer);
}

void EventWatch::endBatch() {
  retire(std::move(batch_timer_));  // the timer firing now
  for (auto& w : watches_) {
    if (auto resumed = w->resume(); !resumed) {
      // Watched anew by the next follow() (its retry timer), as after a failed rebuild.
      rewatch_failed_ = true;
      VNETD_LOG_ERROR("interface events: %s", resumed.error().message().c_str());
    }
  }
  drain();
}

void EventWatch::drain() {
  std::vector<platform::InterfaceEvent> events;
  auto drained = source_.drain(events);
  // Before anything else can open a file that takes a number the drain freed.
  follow();
  handler_(events, drained);
}

void EventWatch::follow() {
  uint64_t generation = source_.fdsGeneration();
  if (generation != watched_generation_ || rewatch_failed_) {
    for (auto& w : watches_) retire(std::move(w));
    watches_.clear();
    watched_fds_.clear();
    watched_generation_ = generation;
    auto watched = watchAll();
    rewatch_failed_ = !watched;
    if (watched) {
      ++rewatches_;
      VNETD_LOG_DEBUG("interface events: the source's descriptors changed; watching %s", list(watched_fds_).c_str());
    } else {
      VNETD_LOG_ERROR("interface events: cannot watch the source's descriptors (%s); retrying in %lld s",
                      watched.error().message().c_str(), static_cast<long long>(kRewatchRetry.count()));
    }
  }

  std::optional<Clock::time_point> due = source_.retryAt();
  if (rewatch_failed_) {
    auto soon = Clock::now() + kRewatchRetry;
    if (!due || soon < *due) due = soon;
  }
  if (due == retry_due_) return;  // armed for that already (or nothing wanted, nothing armed)
  retire(std::move(retry_timer_));  // may be the timer that is firing now
  retry_due_.reset();
  if (!due) return;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now());
  auto timer = dispatcher_.onTimer(std::max(left, kMinRetryDelay), false, [this] {
    retry_due_.reset();  // fired: the next follow() arms a new one if still wanted
    drain();
  });
  if (!timer) {
    VNETD_LOG_ERROR("interface events: cannot arm the retry timer: %s", timer.error().message().c_str());
    return;
  }
  retry_timer_ = std::move(*timer);
  retry_due_ = due;
}

}  // namespace vnetd::daemon
