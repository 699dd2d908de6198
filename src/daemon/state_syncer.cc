#include "daemon/state_syncer.h"

#include <algorithm>

#include "core/log.h"
#include "platform/host.h"

namespace vnetd::daemon {

StateSyncer::StateSyncer(SyncFn sync, std::chrono::milliseconds delay, Count count, PrepareFn prepare)
    : sync_(std::move(sync)),
      delay_(delay),
      count_(std::move(count)),
      prepare_(std::move(prepare)),
      thread_([this] {
        platform::nameThisThread("vnetd-sync");
        run();
      }) {}

StateSyncer::~StateSyncer() { stop(); }

void StateSyncer::saved() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++saves_;
  if (prepare_) prepare_due_ = true;
  if (!deadline_) deadline_ = std::chrono::steady_clock::now() + delay_;  // else the armed sync covers it
  wake_.notify_one();
}

void StateSyncer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

StateSyncer::Stats StateSyncer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Stats{saves_, syncs_, sync_errors_, saves_ - synced_};
}

void StateSyncer::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (prepare_due_) {
      prepare_due_ = false;
      lock.unlock();
      try {
        prepare_();
      } catch (const std::exception&) {  // out of memory: the next save is an unprepared one
      }
      lock.lock();
    } else if (!deadline_) {
      wake_.wait(lock);
    } else if (std::chrono::steady_clock::now() < *deadline_) {
      wake_.wait_until(lock, *deadline_);
    } else {
      syncNow(lock);
    }
  }
  // A clean stop: what the last hooks saved is made durable before the daemon exits.
  if (saves_ != synced_) syncNow(lock);
}

void StateSyncer::syncNow(std::unique_lock<std::mutex>& lock) {
  // Saves noted from here on arm a new deadline: this sync may not cover their file.
  const uint64_t covers = saves_;
  deadline_.reset();
  lock.unlock();
  Result<void> synced = success();
  try {
    synced = sync_();
  } catch (const std::exception& e) {  // bad_alloc building a message: a failed sync, not a dead thread
    synced = plainError(std::string("state sync: ") + e.what());
  }
  lock.lock();
  if (synced) {
    VNETD_LOG_DEBUG("state.json synced%s (%llu saves)", stopping_ ? " at stop" : "",
                    static_cast<unsigned long long>(covers - synced_));
    synced_ = std::max(synced_, covers);
    ++syncs_;
    if (!last_error_.empty()) {
      VNETD_LOG_INFO("state.json syncs to disk again");
      last_error_.clear();
    }
    if (count_) count_("state_syncs");
  } else {
    ++sync_errors_;
    std::string message = synced.error().message();
    if (message != last_error_) {
      VNETD_LOG_WARN("%s: the saved state is in place (no process crash loses it) but may not survive a power "
                     "loss; trying again every %lld ms",
                     message.c_str(), static_cast<long long>(delay_.count()));
      last_error_ = std::move(message);
    }
    if (count_) count_("state_sync_errors");
  }
  // Still pending (a failure, or saves during the sync that armed nothing yet): retry.
  if (saves_ != synced_ && !deadline_) deadline_ = std::chrono::steady_clock::now() + delay_;
}

}  // namespace vnetd::daemon
