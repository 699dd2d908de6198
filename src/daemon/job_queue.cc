#include "daemon/job_queue.h"

#include <exception>

#include "core/log.h"
#include "platform/host.h"

namespace vnetd::daemon {

void JobQueue::start(const char* thread_name) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, thread_name] {
    platform::nameThisThread(thread_name);
    work();
  });
}

void JobQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobQueue::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

size_t JobQueue::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return jobs_.size() + running_;
}

uint64_t JobQueue::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

uint64_t JobQueue::exceptions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exceptions_;
}

void JobQueue::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    runOne(job);
    // Released before the job counts as done: what it captured goes on this thread.
    job = Job{};
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
  }
}

void JobQueue::runOne(Job& job) {
  // Every callback is inside the boundary: the abandoned check and the skipped/failed
  // callbacks may throw as well (they allocate).
  std::string what;
  try {
    if (job.abandoned && job.abandoned()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++skipped_;
      }
      if (job.skipped) job.skipped();
      return;
    }
    job.run();
    return;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++exceptions_;
  }
  VNETD_LOG_ERROR("%s failed: %s; going on with the next job", job.name.c_str(), what.c_str());
  if (!job.failed) return;
  try {
    job.failed(what);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++exceptions_;
  }
}

}  // namespace vnetd::daemon
