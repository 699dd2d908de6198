// The spoofing guards' worker (collectors/guard_worker.h): opens and closes run on its own
// thread, never on the caller's (the capture thread must not wait for the kernel's grace
// periods), answers carry their ticket, and the caller is woken for each.
#include "collectors/guard_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace vnetd::collectors {
namespace {

// What happened where: the threads that opened and closed, and the wake-ups.
struct Log {
  std::mutex mutex;
  std::condition_variable cv;
  std::set<std::thread::id> openers, closers;
  int closed = 0, wakes = 0;
  bool release = false;  // the opener waits for this
};

struct Closer {
  Log* log;
  void operator()(int* p) const {
    std::lock_guard<std::mutex> lock(log->mutex);
    log->closers.insert(std::this_thread::get_id());
    ++log->closed;
    log->cv.notify_all();
    delete p;
  }
};
using Handle = std::unique_ptr<int, Closer>;

template <class Pred>
bool waitFor(Log& log, Pred pred) {
  std::unique_lock<std::mutex> lock(log.mutex);
  return log.cv.wait_for(lock, std::chrono::seconds(10), pred);
}

TEST(GuardWorker, OpensAndClosesOnItsOwnThreadAndWakesTheCaller) {
  Log log;
  auto opener = [&log](const std::string& interface, const MacBytes&, std::string& problem) -> Handle {
    std::unique_lock<std::mutex> lock(log.mutex);
    log.openers.insert(std::this_thread::get_id());
    log.cv.wait_for(lock, std::chrono::seconds(10), [&] { return log.release; });
    if (interface == "missing") {
      problem = "the interface does not exist";
      return Handle(nullptr, Closer{&log});
    }
    return Handle(new int(static_cast<int>(interface.size())), Closer{&log});
  };
  GuardWorker<Handle> worker(opener, [&log] {
    std::lock_guard<std::mutex> lock(log.mutex);
    ++log.wakes;
    log.cv.notify_all();
  });
  // open() returns while the opener is still held: it does not run on this thread.
  worker.open(7, "e0a_web", MacBytes{});
  worker.open(8, "missing", MacBytes{});
  EXPECT_TRUE(worker.take().empty());
  {
    std::lock_guard<std::mutex> lock(log.mutex);
    log.release = true;
    log.cv.notify_all();
  }
  ASSERT_TRUE(waitFor(log, [&] { return log.wakes >= 2; }));
  auto opened = worker.take();
  ASSERT_EQ(opened.size(), 2u);
  EXPECT_EQ(opened[0].ticket, 7u);
  ASSERT_TRUE(opened[0].handle);
  EXPECT_EQ(*opened[0].handle, 7);
  EXPECT_EQ(opened[1].ticket, 8u);
  EXPECT_FALSE(opened[1].handle);
  EXPECT_EQ(opened[1].problem, "the interface does not exist");
  EXPECT_TRUE(worker.take().empty()) << "each answer is handed out once";

  worker.close(std::move(opened[0].handle));
  ASSERT_TRUE(waitFor(log, [&] { return log.closed == 1; }));
  std::lock_guard<std::mutex> lock(log.mutex);
  ASSERT_EQ(log.openers.size(), 1u);
  EXPECT_NE(*log.openers.begin(), std::this_thread::get_id());
  ASSERT_EQ(log.closers.size(), 1u);
  EXPECT_EQ(*log.closers.begin(), *log.openers.begin()) << "closed on the worker's thread too";
}

TEST(GuardWorker, WhatIsLeftAtTheEndIsClosedAndNothingStartsWithoutWork) {
  Log log;
  log.release = true;
  int opens = 0;
  {
    GuardWorker<Handle> idle(
        [&](const std::string&, const MacBytes&, std::string&) {
          ++opens;
          return Handle(nullptr, Closer{&log});
        },
        [] {});
  }  // no request: no thread was started, nothing ran
  EXPECT_EQ(opens, 0);
  std::atomic<int> made{0};
  {
    GuardWorker<Handle> worker(
        [&](const std::string&, const MacBytes&, std::string&) {
          ++made;
          return Handle(new int(1), Closer{&log});
        },
        [] {});
    worker.open(1, "e0a_a", MacBytes{});
    worker.close(Handle(new int(2), Closer{&log}));
  }
  // Whether or not the open ran before the end: every handle that existed is closed — the
  // one asked to close, and an opened guard nobody took.
  EXPECT_EQ(log.closed, 1 + made.load());
}

}  // namespace
}  // namespace vnetd::collectors
