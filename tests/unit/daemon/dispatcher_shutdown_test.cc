// Issue 15 item 4: the loop stops (SIGTERM) while posted closures that own Events are
// still queued. ~Dispatcher must destroy them while the event_base exists: an Event's
// destructor is event_free(), which takes the base's lock (libevent event.c event_del_:
// EVBASE_ACQUIRE_LOCK(ev->ev_base, th_base_lock)) — after event_base_free that is a
// use-after-free.
//
// ASan alone cannot see it: the bad read happens inside the system's libevent, which is
// not instrumented (measured: with the fix reverted these tests passed under ASan). So
// libevent's own allocations are routed through event_set_mem_functions, which must
// happen before libevent allocates anything (hence a test executable of its own), and a
// witness in each posted closure checks, when the closure is destroyed, that the base's
// memory has not been freed yet. That fails in any build when the order is wrong.
#include <event2/event.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/dispatcher.h"

namespace {

// Blocks libevent has allocated and not freed yet.
std::mutex g_mutex;
std::set<const void*>* g_live = new std::set<const void*>();  // never destroyed: used until exit

void* trackedMalloc(size_t n) {
  void* p = std::malloc(n);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (p) g_live->insert(p);
  return p;
}
void* trackedRealloc(void* old, size_t n) {
  void* p = std::realloc(old, n);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (p || n == 0) g_live->erase(old);
  if (p) g_live->insert(p);
  return p;
}
void trackedFree(void* p) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_live->erase(p);
  }
  std::free(p);
}
const bool g_tracking = [] {
  event_set_mem_functions(trackedMalloc, trackedRealloc, trackedFree);
  return true;
}();

bool allocatedByLibevent(const void* p) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_live->count(p) != 0;
}

}  // namespace

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Dispatcher> make() {
  auto d = Dispatcher::create();
  EXPECT_TRUE(d) << d.error().message();
  return d ? std::move(*d) : nullptr;
}

// Owned by a posted closure next to its Events; when the closure is destroyed, says so
// and checks that `base` (the Dispatcher's event_base) is still allocated.
std::shared_ptr<int> witness(bool& destroyed, const event_base* base) {
  return std::shared_ptr<int>(new int(0), [&destroyed, base](int* p) {
    delete p;
    destroyed = true;
    EXPECT_TRUE(allocatedByLibevent(base)) << "a posted closure owning Events outlived event_base_free";
  });
}

TEST(DispatcherShutdown, TheWitnessSeesTheBaseBeingFreed) {
  ASSERT_TRUE(g_tracking);
  auto d = make();
  ASSERT_TRUE(d);
  const event_base* base = d->base();
  EXPECT_TRUE(allocatedByLibevent(base)) << "libevent's allocations are tracked";
  d.reset();
  EXPECT_FALSE(allocatedByLibevent(base));
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
    d->post([ev = std::shared_ptr<Event>(std::move(soon)), w = witness(destroyed, d->base())] {
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
             w = witness(destroyed, d->base())] {});
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
    d->post([ev = std::move(ev), w = witness(destroyed, d->base())] {});
  });
  poster.join();
  stop->reset();
  d.reset();
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace vnetd::daemon
