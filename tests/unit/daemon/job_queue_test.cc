#include "daemon/job_queue.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

namespace vnetd::daemon {
namespace {

// Runs on the worker after everything submitted before it: the queue is drained then.
void drain(JobQueue& q) {
  std::promise<void> done;
  JobQueue::Job j;
  j.name = "drain";
  j.run = [&] { done.set_value(); };
  q.submit(std::move(j));
  done.get_future().wait();
}

// The worker carries the name start() gives it (top -H, ps -T: platform::nameThisThread).
TEST(JobQueue, TheWorkerIsNamed) {
  JobQueue q;
  q.start("vnetd-mutator");
  std::promise<std::string> name;
  JobQueue::Job j;
  j.name = "who am I";
  j.run = [&] {
    char buf[64] = {};
    ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
    name.set_value(buf);
  };
  q.submit(std::move(j));
  EXPECT_EQ(name.get_future().get(), "vnetd-mutator");
}

TEST(JobQueue, AJobThatThrowsIsCountedToldAndTheNextOneRuns) {
  JobQueue q;
  q.start("vnetd-test");
  std::vector<std::string> failures;  // worker thread only until drained
  bool after = false;
  JobQueue::Job a;
  a.name = "hook prestart web";
  a.run = [] { throw std::runtime_error("cannot make a pipe"); };
  a.failed = [&](const std::string& why) { failures.push_back(why); };
  q.submit(std::move(a));
  JobQueue::Job b;
  b.name = "reconcile (timer)";
  b.run = [] { throw 42; };  // not a std::exception
  b.failed = [&](const std::string& why) { failures.push_back(why); };
  q.submit(std::move(b));
  JobQueue::Job c;
  c.name = "failing callback";
  c.run = [] { throw std::runtime_error("x"); };
  c.failed = [](const std::string&) { throw std::runtime_error("the callback too"); };
  q.submit(std::move(c));
  JobQueue::Job d;
  d.name = "next";
  d.run = [&] { after = true; };
  q.submit(std::move(d));
  drain(q);
  EXPECT_TRUE(after) << "the worker died with the first exception";
  EXPECT_EQ(failures, (std::vector<std::string>{"cannot make a pipe", "unknown exception"}));
  EXPECT_EQ(q.exceptions(), 4u);  // three jobs and one failed callback
}

TEST(JobQueue, AJobAbandonedWhileQueuedIsSkippedAndARunningOneFinishes) {
  JobQueue q;
  q.start("vnetd-test");
  std::promise<void> started, release;
  auto released = release.get_future();
  std::atomic<bool> long_gone{false}, queued_gone{false};
  std::vector<std::string> ran, skipped;
  JobQueue::Job first;
  first.name = "long";
  first.run = [&] {
    started.set_value();
    released.wait();
    ran.push_back("long");
  };
  first.abandoned = [&] { return long_gone.load(); };
  q.submit(std::move(first));
  JobQueue::Job second;
  second.name = "late";
  second.run = [&] { ran.push_back("late"); };
  second.abandoned = [&] { return queued_gone.load(); };
  second.skipped = [&] { skipped.push_back("late"); };
  q.submit(std::move(second));
  started.get_future().wait();
  EXPECT_EQ(q.size(), 2u);
  long_gone = true;    // too late for it: it runs already
  queued_gone = true;  // its client gave up while it waited
  release.set_value();
  drain(q);
  EXPECT_EQ(ran, std::vector<std::string>{"long"});
  EXPECT_EQ(skipped, std::vector<std::string>{"late"});
  EXPECT_EQ(q.skipped(), 1u);
  EXPECT_EQ(q.exceptions(), 0u);
}

TEST(JobQueue, StopDropsQueuedJobsAndIsIdempotent) {
  JobQueue q;
  bool ran = false;
  JobQueue::Job j;
  j.name = "never";
  j.run = [&] { ran = true; };
  q.submit(std::move(j));  // not started: waits
  EXPECT_EQ(q.size(), 1u);
  q.stop();
  q.stop();
  EXPECT_FALSE(ran);
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace vnetd::daemon
