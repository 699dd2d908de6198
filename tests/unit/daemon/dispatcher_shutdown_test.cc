// Issue 15 item 4: the loop stops (SIGTERM) while posted closures that own Events are
// still queued. ~Dispatcher must destroy them while the event_base exists: an Event's
// destructor is event_free(), which takes the base's lock (libevent event.c event_del ->
// EVBASE_ACQUIRE_LOCK(ev->ev_base)). Freed in the other order, that is a heap
// use-after-free, which ASan reports (scripts/test runs these tests in build-asan/; they
// are written for it: without ASan the bad order may pass unnoticed).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <thread>

#include "daemon/dispatcher.h"

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Dispatcher> make() {
  auto d = Dispatcher::create();
  EXPECT_TRUE(d) << d.error().message();
  return d ? std::move(*d) : nullptr;
}

// Owned by a posted closure; sets `destroyed` when the closure is destroyed.
std::shared_ptr<int> witness(bool& destroyed) {
  return std::shared_ptr<int>(new int(0), [&destroyed](int* p) {
    delete p;
    destroyed = true;
  });
}

// The daemon's pattern (Daemon::reconcileSoon, EventWatch::retire): a timer hands its own
// Event to the loop to be destroyed off its callback, and in the same loop iteration the
// stop signal's callback breaks the loop, so the closure never runs.
TEST(DispatcherShutdown, AFiredTimerParkedInAPostedClosureIsFreedBeforeTheBase) {
  auto d = make();
  ASSERT_TRUE(d);
  bool destroyed = false;
  std::unique_ptr<Event> soon;
  auto t = d->onTimer(0ms, false, [&] {
    d->post([ev = std::shared_ptr<Event>(std::move(soon)), w = witness(destroyed)] {
      ADD_FAILURE() << "the loop had stopped: this closure must not run";
    });
    d->exit();  // SIGTERM's callback (main.cc) in the same iteration
  });
  ASSERT_TRUE(t);
  soon = std::move(*t);
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(destroyed) << "still queued after the loop stopped";
  d.reset();
  EXPECT_TRUE(destroyed) << "the Dispatcher dropped the closure";
}

// A closure holding Events that are still armed (a timer due in an hour, a signal watch):
// event_free must delete them from the base, so the base must still be there.
TEST(DispatcherShutdown, ArmedEventsInUnrunClosuresAreRemovedBeforeTheBaseIsFreed) {
  auto d = make();
  ASSERT_TRUE(d);
  bool destroyed = false;
  auto later = d->onTimer(1h, false, [] {});
  auto sig = d->onSignal(SIGUSR2, [] {});
  ASSERT_TRUE(later && sig);
  auto stop = d->onTimer(0ms, false, [&] {
    d->post([a = std::shared_ptr<Event>(std::move(*later)), b = std::shared_ptr<Event>(std::move(*sig)),
             w = witness(destroyed)] {});
    d->exit();
  });
  ASSERT_TRUE(stop);
  ASSERT_TRUE(d->run());
  stop->reset();
  d.reset();
  EXPECT_TRUE(destroyed);
}

// Another thread (a capture thread publishing, the Mutator handing back a result) posts
// after the loop has stopped and before the daemon is torn down.
TEST(DispatcherShutdown, ClosuresPostedFromAnotherThreadAfterTheLoopStoppedAreDropped) {
  auto d = make();
  ASSERT_TRUE(d);
  auto stop = d->onTimer(0ms, false, [&] { d->exit(); });
  ASSERT_TRUE(stop);
  ASSERT_TRUE(d->run());
  auto armed = d->onTimer(1h, false, [] {});
  ASSERT_TRUE(armed);
  bool destroyed = false;
  std::thread poster([&, ev = std::shared_ptr<Event>(std::move(*armed))]() mutable {
    d->post([ev = std::move(ev), w = witness(destroyed)] {});
  });
  poster.join();
  stop->reset();
  d.reset();
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace vnetd::daemon
