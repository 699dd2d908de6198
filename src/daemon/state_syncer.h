// StateSyncer: the daemon's state write-behind — "atomic always, durable within 1 s"
// (the contract is spelled out in core/state_store.h).
//
// The daemon's StateStore saves without fsync: a hook is answered as soon as its kernel
// work is done and the new state.json is renamed into place, which no process crash can
// undo. This thread makes what was saved durable, off the hook path and batched: the first
// save after a sync arms a deadline `delay` away (kStateSyncDelay), every save until then
// shares the one sync that runs at the deadline (StateStore::sync: fsync of state.json,
// then of its directory), and stop() — the daemon's clean exit — runs it at once when a
// save is still pending. A save that lands while a sync runs arms the next deadline: that
// sync may have covered the older file only (StateStore::sync).
//
// A sync that fails leaves its saves pending and is tried again every `delay`. Each
// failure is counted ("state_sync_errors"; successes as "state_syncs"), and logged once
// per distinct error, with one line when syncing works again: a broken disk does not
// flood the log. Note that after a failed fsync Linux may have dropped the dirty pages
// and a later fsync can succeed without them: the retry says the directory and any newer
// save are on disk, not that the failed data is (the next save rewrites the whole file).
//
// Threading: saved() from any thread (the mutator's, inside StateStore::save); stop(),
// the destructor and stats() from any thread but never from the sync function. The sync
// function runs on the syncer's own thread, one call at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.h"

namespace vnetd::daemon {

// Half of the promised second: the sync itself (typically well under a millisecond to a
// few ms on a local disk) fits in the other half, and a burst of jail starts — 50 hooks
// in a boot's jail start-up — still shares one or two syncs instead of paying one each.
inline constexpr std::chrono::milliseconds kStateSyncDelay{500};

class StateSyncer {
 public:
  using SyncFn = std::function<Result<void>()>;
  // Called (on the syncer's thread) with "state_syncs" or "state_sync_errors".
  using Count = std::function<void(const char* counter)>;

  // Runs on the syncer's thread soon after every save (not at the deadline): what makes
  // the next save cheap (StateStore::prepareSpare in the daemon).
  using PrepareFn = std::function<void()>;

  // Starts the thread. `sync` is StateStore::sync in the daemon, a seam in tests.
  explicit StateSyncer(SyncFn sync, std::chrono::milliseconds delay = kStateSyncDelay, Count count = {},
                       PrepareFn prepare = {});
  ~StateSyncer();  // stop()
  StateSyncer(const StateSyncer&) = delete;
  StateSyncer& operator=(const StateSyncer&) = delete;

  // A save just put a new state in place: arms the deadline unless one is armed, and has
  // `prepare` run. Cheap (a mutex and a notify); never waits for a sync or a prepare.
  void saved();

  // Syncs what is pending (once, whatever the deadline), then ends the thread. Waits for
  // a sync that is running. Idempotent; saves noted afterwards are not synced.
  void stop();

  struct Stats {
    uint64_t saves = 0;        // saved() calls
    uint64_t syncs = 0;        // sync calls that succeeded
    uint64_t sync_errors = 0;  // sync calls that failed
    uint64_t pending = 0;      // saves no successful sync has covered yet
  };
  Stats stats() const;

 private:
  void run();
  void syncNow(std::unique_lock<std::mutex>& lock);  // with the lock held; drops it meanwhile

  const SyncFn sync_;
  const std::chrono::milliseconds delay_;
  const Count count_;
  const PrepareFn prepare_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t saves_ = 0;
  uint64_t synced_ = 0;  // value of saves_ the last successful sync started with
  uint64_t syncs_ = 0;
  uint64_t sync_errors_ = 0;
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // armed while pending
  bool stopping_ = false;
  bool prepare_due_ = false;  // a save since the last prepare_ call
  std::string last_error_;  // "" while syncs succeed: the next failure is logged
  std::thread thread_;      // last: started once everything above is initialised
};

}  // namespace vnetd::daemon
