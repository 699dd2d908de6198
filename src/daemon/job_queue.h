// JobQueue: one worker thread that runs jobs one at a time, in submission order (the
// Mutator's thread: jail networking is changed by one job at a time). It guarantees two
// things the daemon relies on:
//
// - An exception boundary. A job that throws (std::thread's EAGAIN, bad_alloc, a callee
//   that reports errors by throwing) is caught — std::exception and anything else —, one
//   line is logged, it is counted, the job's `failed` callback hears of it (a hook then
//   answers its client with an error line), and the next job runs. The worker never dies
//   of a job, and a throw never reaches std::terminate.
// - Work nobody waits for does not start. When a job's turn comes and its `abandoned`
//   check says true (the client that asked for it has gone), `skipped` runs instead of
//   `run`. A job that has started always finishes: stopping half way through a jail's
//   network change would be worse than finishing it late.
//
// Threading: submit(), size() and the counters may be called from any thread; start()
// and stop() from the owner's thread, never from a job. Job callbacks run on the worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace vnetd::daemon {

class JobQueue {
 public:
  struct Job {
    std::string name;                                // for log lines, e.g. "hook poststop web"
    std::function<void()> run;                       // required
    std::function<bool()> abandoned;                 // optional: checked when the job's turn comes
    std::function<void()> skipped;                   // optional: runs instead of `run` when abandoned
    std::function<void(const std::string&)> failed;  // optional: `run` threw (with what() or "unknown")
  };

  JobQueue() = default;
  ~JobQueue() { stop(); }
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Starts the worker, named `thread_name` (platform::nameThisThread: at most 15
  // characters shown). Jobs submitted before wait for it.
  void start(const char* thread_name);
  // Drops the queued jobs, lets a running one finish and joins the worker. Idempotent.
  void stop();

  void submit(Job job);
  // Jobs queued or running.
  size_t size() const;
  uint64_t skipped() const;     // jobs not run because they were abandoned
  uint64_t exceptions() const;  // jobs (or their callbacks) that threw

 private:
  void work();
  void runOne(Job& job);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  size_t running_ = 0;
  uint64_t skipped_ = 0;
  uint64_t exceptions_ = 0;
  std::thread thread_;
};

}  // namespace vnetd::daemon
