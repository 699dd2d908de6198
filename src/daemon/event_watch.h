// EventWatch: keeps an interface EventSource drained on the Dispatcher's loop.
//
// It drains the source when one of its descriptors is readable and when the source asks
// for a drain on its own (EventSource::retryAt: devd reconnecting after a restart, a
// table re-read that failed), and hands each batch of events to the owner.
//
// The source's descriptors can change in any drain (platform/events.h). After every
// drain that changed them the watches are rebuilt before the loop runs any other
// callback: the old ones are cancelled first (libevent would otherwise consider a
// number that came back — as the new socket, or as a control connection accepted next —
// still watched, and never watch the new file), then the new descriptors are watched.
// The cancelled Events are destroyed later through Dispatcher::post, since the drain
// usually runs inside one of their callbacks.
//
// A readable descriptor is not drained at once: the watches pause for kBatchDelay and one
// drain then takes everything that came meanwhile. A hook's kernel changes come as a
// dozen notifications a few hundred microseconds apart; read as they come, each woke the
// loop thread (measured: 16 wake-ups of the loop per jail start through the daemon, each
// a cross-CPU wake-up the hook's thread pays for while it sends its next request).
//
// Threading: loop thread only. The source and the Dispatcher outlive the EventWatch.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/result.h"
#include "daemon/dispatcher.h"
#include "platform/events.h"

namespace vnetd::daemon {

class EventWatch {
 public:
  // `drained` is the drain's outcome; the events it appended before failing are in
  // `events` all the same.
  using Handler = std::function<void(const std::vector<platform::InterfaceEvent>& events, const Result<void>& drained)>;

  // Watches the source's current descriptors (and its retryAt()). Nothing is drained
  // before the loop runs.
  static Result<std::unique_ptr<EventWatch>> create(Dispatcher& dispatcher, platform::EventSource& source,
                                                    Handler handler);
  ~EventWatch();
  EventWatch(const EventWatch&) = delete;
  EventWatch& operator=(const EventWatch&) = delete;

  // How often the watches were rebuilt because the source's descriptors changed.
  uint64_t rewatches() const { return rewatches_; }
  // The descriptors watched now.
  const std::vector<int>& watched() const { return watched_fds_; }

 private:
  using Clock = platform::EventSource::Clock;
  EventWatch(Dispatcher& dispatcher, platform::EventSource& source, Handler handler)
      : dispatcher_(dispatcher), source_(source), handler_(std::move(handler)) {}

  // A watched descriptor became readable: pause the watches, drain after kBatchDelay.
  void readable();
  void endBatch();
  void drain();
  // Brings the watches and the retry timer in line with the source (after a drain).
  void follow();
  Result<void> watchAll();
  void retire(std::unique_ptr<Event> event);

  Dispatcher& dispatcher_;
  platform::EventSource& source_;
  Handler handler_;
  std::vector<std::unique_ptr<Event>> watches_;
  std::vector<int> watched_fds_;
  uint64_t watched_generation_ = 0;
  bool rewatch_failed_ = false;  // retried from the retry timer
  std::unique_ptr<Event> batch_timer_;  // armed while the watches pause (readable())
  std::unique_ptr<Event> retry_timer_;
  std::optional<Clock::time_point> retry_due_;  // what retry_timer_ is armed for
  uint64_t rewatches_ = 0;
};

}  // namespace vnetd::daemon
