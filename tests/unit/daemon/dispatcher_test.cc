#include "daemon/dispatcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vnetd::daemon {
namespace {

std::unique_ptr<Dispatcher> make() {
  auto d = Dispatcher::create();
  EXPECT_TRUE(d) << d.error().message();
  return d ? std::move(*d) : nullptr;
}

// A watchdog so that a broken loop fails the test instead of hanging it.
std::unique_ptr<Event> watchdog(Dispatcher& d, bool& fired) {
  auto t = d.onTimer(std::chrono::seconds(10), false, [&] {
    fired = true;
    d.exit();
  });
  return t ? std::move(*t) : nullptr;
}

TEST(Dispatcher, OneShotAndRepeatingTimers) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  int ticks = 0;
  auto repeat = d->onTimer(std::chrono::milliseconds(5), true, [&] {
    if (++ticks == 3) d->exit();
  });
  ASSERT_TRUE(repeat);
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(ticks, 3);  // (no wall-clock assertion: libevent may fire a timer a little early)
}

TEST(Dispatcher, DestroyedEventNeverFires) {
  auto d = make();
  bool fired = false, timed_out = false;
  auto dog = watchdog(*d, timed_out);
  auto t = d->onTimer(std::chrono::milliseconds(1), false, [&] { fired = true; });
  ASSERT_TRUE(t);
  t->reset();
  auto later = d->onTimer(std::chrono::milliseconds(20), false, [&] { d->exit(); });
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(fired);
  EXPECT_FALSE(timed_out);
}

TEST(Dispatcher, ReadableFd) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::string got;
  auto r = d->onReadable(p[0], [&] {
    char buf[16];
    ssize_t n = ::read(p[0], buf, sizeof buf);
    got.append(buf, static_cast<size_t>(n > 0 ? n : 0));
    if (got == "hello") d->exit();
  });
  ASSERT_TRUE(r);
  ASSERT_EQ(::write(p[1], "hello", 5), 5);
  ASSERT_TRUE(d->run());
  EXPECT_EQ(got, "hello");
  EXPECT_FALSE(timed_out);
  r->reset();
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Dispatcher, CancelInsideItsOwnCallbackStopsALevelTriggeredWatch) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "x", 1), 1);  // never read: readable on every iteration
  int fired = 0;
  std::unique_ptr<Event> r;
  auto watch = d->onReadable(p[0], [&] {
    ++fired;
    r->cancel();
  });
  ASSERT_TRUE(watch);
  r = std::move(*watch);
  // Many loop iterations later (a timer is serviced after the ready fds of its iteration).
  int ticks = 0;
  auto later = d->onTimer(std::chrono::milliseconds(1), true, [&] {
    if (++ticks == 20) d->exit();
  });
  ASSERT_TRUE(later);
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(fired, 1);
  r.reset();  // destroying a cancelled Event is fine
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Dispatcher, WritableFdFiresOnlyOnceThereIsRoom) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  // Fill the pipe: the write end is not writable until the reader makes room.
  char block[4096] = {};
  size_t filled = 0;
  for (;;) {
    ssize_t n = ::write(p[1], block, sizeof block);
    if (n <= 0) break;
    filled += static_cast<size_t>(n);
  }
  ASSERT_EQ(errno, EAGAIN);
  bool drained = false, fired_before_drain = false;
  int fired = 0;
  auto w = d->onWritable(p[1], [&] {
    fired_before_drain |= !drained;
    if (++fired == 2) d->exit();  // level-triggered: fires again while there is room
  });
  ASSERT_TRUE(w);
  // Make room from the loop a little later: the write event must wait for it.
  auto drain = d->onTimer(std::chrono::milliseconds(20), false, [&] {
    drained = true;
    for (size_t left = filled; left > 0;) {
      ssize_t n = ::read(p[0], block, std::min(left, sizeof block));
      if (n <= 0) break;
      left -= static_cast<size_t>(n);
    }
  });
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(timed_out);
  EXPECT_FALSE(fired_before_drain);
  EXPECT_EQ(fired, 2);
  w->reset();
  ::close(p[0]);
  ::close(p[1]);
}

TEST(Dispatcher, SignalsRunOnTheLoop) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  std::thread::id loop_thread = std::this_thread::get_id(), seen;
  int hups = 0;
  auto s = d->onSignal(SIGHUP, [&] {
    seen = std::this_thread::get_id();
    ++hups;
    d->exit();
  });
  ASSERT_TRUE(s);
  // Deliver once the loop is running: from a timer callback.
  auto kick = d->onTimer(std::chrono::milliseconds(1), false, [] { ::raise(SIGHUP); });
  ASSERT_TRUE(d->run());
  EXPECT_EQ(hups, 1);
  EXPECT_EQ(seen, loop_thread);
  EXPECT_FALSE(timed_out);
}

TEST(Dispatcher, PostFromManyThreadsRunsEverythingOnTheLoopInOrder) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> done{0};
  std::thread::id loop_thread = std::this_thread::get_id();
  bool wrong_thread = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        d->post([&, t, i] {
          wrong_thread |= std::this_thread::get_id() != loop_thread;
          seen[t].push_back(i);
          if (++done == kThreads * kPerThread) d->exit();
        });
      }
    });
  }
  ASSERT_TRUE(d->run());
  for (auto& th : threads) th.join();
  EXPECT_FALSE(timed_out);
  EXPECT_FALSE(wrong_thread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i) << "thread " << t;
  }
}

// The exception boundary: a throwing timer, fd or posted callback is logged and counted,
// and the loop (and the rest of a posted batch) goes on.
TEST(Dispatcher, ACallbackThatThrowsIsCountedAndTheLoopGoesOn) {
  auto d = make();
  bool timed_out = false;
  auto dog = watchdog(*d, timed_out);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  bool fd_threw = false, posted_after = false, timer_after = false;
  auto readable = d->onReadable(fds[0], [&] {
    char c;
    (void)::read(fds[0], &c, 1);
    fd_threw = true;
    throw 42;  // not a std::exception
  });
  ASSERT_TRUE(readable);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  d->post([] { throw std::runtime_error("posted"); });
  d->post([&] { posted_after = true; });  // same batch, after the throwing one
  auto throwing = d->onTimer(std::chrono::milliseconds(1), false, [] { throw std::runtime_error("timer"); });
  ASSERT_TRUE(throwing);
  // Ends the run once everything above has had its turn (a timer after the 1 ms one).
  auto last = d->onTimer(std::chrono::milliseconds(20), false, [&] {
    timer_after = true;
    d->exit();
  });
  ASSERT_TRUE(last);
  ASSERT_TRUE(d->run());
  EXPECT_FALSE(timed_out);
  EXPECT_TRUE(fd_threw);
  EXPECT_TRUE(posted_after) << "a throwing posted closure took the rest of its batch with it";
  EXPECT_TRUE(timer_after);
  EXPECT_EQ(d->exceptions(), 3u);
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace vnetd::daemon
