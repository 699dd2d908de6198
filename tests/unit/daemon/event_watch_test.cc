// EventWatch on a real Dispatcher with a fake EventSource whose "sockets" are pipes: the
// source changes its descriptors inside drain() the way the FreeBSD source does when devd
// restarts and the Linux one when the kernel overflows a socket, and events written to
// the new descriptors must still arrive. A broken watch shows as the watchdog firing.
#include "daemon/event_watch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "core/unique_fd.h"

namespace vnetd::daemon {
namespace {

using platform::InterfaceEvent;
using Clock = platform::EventSource::Clock;

std::unique_ptr<Dispatcher> make() {
  auto d = Dispatcher::create();
  EXPECT_TRUE(d) << d.error().message();
  return d ? std::move(*d) : nullptr;
}

// A watchdog so that a lost event fails the test instead of hanging it.
std::unique_ptr<Event> watchdog(Dispatcher& d, bool& fired) {
  auto t = d.onTimer(std::chrono::seconds(10), false, [&] {
    fired = true;
    d.exit();
  });
  return t ? std::move(*t) : nullptr;
}

struct Pipe {
  UniqueFd read, write;
  static Pipe make() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    return {UniqueFd(p[0]), UniqueFd(p[1])};
  }
  // A pipe whose read end is `number`, a descriptor number that is free.
  static Pipe makeAt(int number) {
    Pipe p = make();
    if (p.read.get() != number) {
      EXPECT_EQ(::dup3(p.read.get(), number, O_CLOEXEC), number);
      p.read.reset(number);
    }
    return p;
  }
  void send(const std::string& names) const {
    EXPECT_EQ(::write(write.get(), names.data(), names.size()), static_cast<ssize_t>(names.size()));
  }
};

// Each byte read from a pipe is an Arrived event named by that byte.
class FakeSource final : public platform::EventSource {
 public:
  std::vector<int> fds() const override {
    std::vector<int> out;
    for (const auto& p : pipes) out.push_back(p.read.get());
    return out;
  }
  uint64_t fdsGeneration() const override { return generation; }
  std::optional<Clock::time_point> retryAt() const override { return retry; }
  Result<void> drain(std::vector<InterfaceEvent>& out) override {
    ++drains;
    for (const auto& p : pipes) {
      char buf[64];
      ssize_t n;
      while ((n = ::read(p.read.get(), buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; ++i) {
          InterfaceEvent e;
          e.source = "fake";
          e.name = std::string(1, buf[i]);
          out.push_back(std::move(e));
        }
    }
    if (on_drain) on_drain();
    return success();
  }

  std::vector<Pipe> pipes;
  uint64_t generation = 0;
  std::optional<Clock::time_point> retry;
  int drains = 0;
  std::function<void()> on_drain;  // what this drain does to the descriptors
};

class EventWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = make();
    ASSERT_TRUE(d_);
    dog_ = watchdog(*d_, timed_out_);
  }

  void watch() {
    auto w = EventWatch::create(*d_, src_, [this](const std::vector<InterfaceEvent>& events, const Result<void>& r) {
      EXPECT_TRUE(r);
      for (const auto& e : events) {
        seen_ += e.name;
        if (on_event_) on_event_(e.name);
      }
    });
    ASSERT_TRUE(w) << w.error().message();
    watch_ = std::move(*w);
  }

  std::unique_ptr<Dispatcher> d_;
  std::unique_ptr<Event> dog_;
  bool timed_out_ = false;
  FakeSource src_;
  std::unique_ptr<EventWatch> watch_;
  std::string seen_;
  std::function<void(const std::string&)> on_event_;
};

TEST_F(EventWatchTest, DrainsWhenADescriptorIsReadable) {
  src_.pipes.push_back(Pipe::make());
  src_.pipes.push_back(Pipe::make());
  watch();
  EXPECT_EQ(watch_->watched(), src_.fds());
  on_event_ = [&](const std::string& name) {
    if (name == "b") d_->exit();
  };
  src_.pipes[0].send("a");
  src_.pipes[1].send("b");
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_);
  EXPECT_EQ(seen_, "ab");
  EXPECT_EQ(watch_->rewatches(), 0u);
}

// A hook's kernel changes come as many notifications a little apart: what arrives within
// the batch delay of the first is read by one drain (one wake-up of the loop), not one
// drain each. The second write is due 1 ms after the loop starts, the batch ends 3 ms
// after the first readable: the order is the loop's own timers', whatever the load.
TEST_F(EventWatchTest, WhatArrivesWithinTheBatchDelayIsReadInOneDrain) {
  src_.pipes.push_back(Pipe::make());
  src_.pipes.push_back(Pipe::make());
  watch();
  on_event_ = [&](const std::string& name) {
    if (name == "b") d_->exit();
  };
  src_.pipes[0].send("a");
  auto later = d_->onTimer(std::chrono::milliseconds(1), false, [&] {
    src_.pipes[1].send("b");
    src_.pipes[0].send("c");
  });
  ASSERT_TRUE(later);
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_);
  EXPECT_EQ(seen_, "acb");
  EXPECT_EQ(src_.drains, 1);
}

// The source closes its socket and the replacement gets the same number (the lowest free
// one, as POSIX hands out): the loop must watch the new file, not trust that the number
// is "already watched" — the kernel dropped the old file's registration when it closed.
TEST_F(EventWatchTest, AReplacementWithTheSameNumberIsWatched) {
  src_.pipes.push_back(Pipe::make());
  watch();
  int number = src_.pipes[0].read.get();
  src_.on_drain = [&] {
    if (src_.drains != 1) return;
    src_.pipes[0] = Pipe{};  // both ends closed
    src_.pipes[0] = Pipe::makeAt(number);
    ++src_.generation;
    src_.pipes[0].send("y");  // already readable when the loop looks again
  };
  on_event_ = [&](const std::string& name) {
    if (name == "y") d_->exit();
  };
  src_.pipes[0].send("x");
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_) << "the replacement socket was never watched; seen: " << seen_;
  EXPECT_EQ(seen_, "xy");
  EXPECT_EQ(src_.fds(), std::vector<int>{number});
  EXPECT_EQ(watch_->watched(), std::vector<int>{number});
  EXPECT_EQ(watch_->rewatches(), 1u);
}

// The replacement gets another number, and the old one is taken by an unrelated file
// that someone else watches (a control connection accepted next): both must work.
TEST_F(EventWatchTest, ANumberLeftBehindCanBeWatchedByOthers) {
  src_.pipes.push_back(Pipe::make());
  watch();
  int old_number = src_.pipes[0].read.get();
  src_.on_drain = [&] {
    if (src_.drains != 1) return;
    Pipe fresh = Pipe::make();  // opened before the old one closes: another number
    src_.pipes[0] = std::move(fresh);
    ++src_.generation;
  };
  Pipe other;
  std::unique_ptr<Event> other_watch;
  bool other_fired = false, fresh_seen = false;
  on_event_ = [&](const std::string& name) {
    if (name == "x") {
      // After the drain that replaced the socket: a new file on the freed number.
      other = Pipe::makeAt(old_number);
      auto w = d_->onReadable(old_number, [&] {
        other_fired = true;
        if (fresh_seen) d_->exit();
      });
      ASSERT_TRUE(w);
      other_watch = std::move(*w);
      other.send("o");
      src_.pipes[0].send("z");
    }
    if (name == "z") {
      fresh_seen = true;
      if (other_fired) d_->exit();
    }
  };
  src_.pipes[0].send("x");
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_) << "other watch fired: " << other_fired << ", seen: " << seen_;
  EXPECT_TRUE(other_fired);
  EXPECT_TRUE(fresh_seen);
  EXPECT_NE(watch_->watched(), std::vector<int>{old_number});
  other_watch.reset();
}

// Like devd going away and coming back: a descriptor dropped in one drain, and a new one
// added in a later drain that only retryAt() brings about (nothing else is readable).
TEST_F(EventWatchTest, RetryAtDrainsAQuietSourceUntilItReconnects) {
  src_.pipes.push_back(Pipe::make());  // the routing socket: stays, stays quiet
  src_.pipes.push_back(Pipe::make());  // devd
  watch();
  Clock::time_point reconnect_due{};
  src_.on_drain = [&] {
    if (src_.drains == 1) {  // devd hung up
      src_.pipes.pop_back();
      ++src_.generation;
      reconnect_due = Clock::now() + std::chrono::milliseconds(30);
      src_.retry = reconnect_due;
    } else if (src_.retry && Clock::now() >= reconnect_due) {  // (a drain may come early)
      src_.pipes.push_back(Pipe::make());
      ++src_.generation;
      src_.retry.reset();
      src_.pipes.back().send("d");  // devd's first event after the restart
    }
  };
  on_event_ = [&](const std::string& name) {
    if (name == "d") d_->exit();
  };
  src_.pipes[1].send("h");
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_) << "seen: " << seen_ << ", drains: " << src_.drains;
  EXPECT_EQ(seen_, "hd");
  EXPECT_GE(src_.drains, 3);  // the hang-up, the retry that reconnected, the new socket
  EXPECT_EQ(watch_->watched(), src_.fds());
  EXPECT_EQ(watch_->rewatches(), 2u);
}

// A retry already due when the watch starts (the source could not connect while it was
// opened) is honoured without any descriptor ever becoming readable.
TEST_F(EventWatchTest, ARetryWantedFromTheStartIsHonoured) {
  src_.retry = Clock::now();
  src_.on_drain = [&] {
    src_.retry.reset();
    d_->exit();
  };
  watch();
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_);
  EXPECT_EQ(src_.drains, 1);
}

// A timer drain after which retryAt() is unchanged (libevent fired a little early, or
// the attempt is still due) must be followed by another: the fired timer is spent.
TEST_F(EventWatchTest, ARetryTheSourceDidNotActOnIsArmedAgain) {
  src_.retry = Clock::now() + std::chrono::milliseconds(5);
  src_.on_drain = [&] {
    if (src_.drains == 2) {
      src_.retry.reset();
      d_->exit();
    }  // the first drain leaves retryAt() as it was
  };
  watch();
  ASSERT_TRUE(d_->run());
  EXPECT_FALSE(timed_out_);
  EXPECT_EQ(src_.drains, 2);
}

}  // namespace
}  // namespace vnetd::daemon
