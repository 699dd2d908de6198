// JailFacts: the daemon's memory of what is inside each recorded jail's own stack
// (JailInside), so `status` never enters a jail on the loop thread. Learned when a hook
// leaves the stack configured (the Mutator hands over what `created`/`poststart` read),
// forgotten when a hook takes the interfaces away, and refreshed on demand by a
// JailFactsRefresher on its own thread.
//
// Threading: JailFacts is safe from any thread (the Mutator and the refresher write, the
// status service reads). JailFactsRefresher's methods are safe from any thread (the
// status service calls them); its readings run on its own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/jail_inside.h"
#include "platform/jails.h"

namespace vnetd::daemon {

class JailFacts {
 public:
  using Entry = std::shared_ptr<const JailInside>;

  // Keeps `inside` as what `jail` holds, unless what is kept was read later.
  void learn(const std::string& jail, JailInside inside);
  // Nothing is known about `jail` any more (its interfaces are leaving or gone).
  void forget(const std::string& jail);
  // Forgets every jail not in `recorded` (a reading that raced a poststop).
  void retainOnly(const std::set<std::string>& recorded);
  // Everything known now. Entries are immutable and shared: copying is cheap.
  std::map<std::string, Entry> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry> known_;
};

class JailFactsRefresher {
 public:
  using Clock = std::chrono::steady_clock;

  // `jails` is the refresher's own handle: stacks are opened on its thread. A pass starts
  // at most once per `min_gap` (from the end of the previous one).
  JailFactsRefresher(JailFacts& facts, std::unique_ptr<platform::Jails> jails, Clock::duration min_gap);
  // Stops after the jail being read (if any) and joins the thread.
  ~JailFactsRefresher();
  JailFactsRefresher(const JailFactsRefresher&) = delete;
  JailFactsRefresher& operator=(const JailFactsRefresher&) = delete;

  // Reads the stacks of `jails` (running jails, with the ids status saw) on the
  // refresher's thread, unless a pass is running or the last one ended less than min_gap
  // ago: then nothing happens and false is returned (a later request asks again). Never
  // blocks on a reading.
  bool request(std::vector<platform::JailInfo> jails);
  // Reads `jail`'s stack soon (if it runs), whatever the gap: what an event says changed
  // there (the carrier of a jail's pair comes up after `created` has read the stack).
  // Requests for the same jail coalesce until it is read. Never blocks.
  void refreshJail(const std::string& jail);
  // A pass is queued or running.
  bool busy() const;
  // Passes completed so far.
  uint64_t passes() const;

 private:
  void run();
  void read(const platform::JailInfo& jail, size_t& failed);
  static void guarded(const std::string& jail, size_t& failed, const std::function<void()>& fn);

  JailFacts& facts_;
  std::unique_ptr<platform::Jails> jails_;  // refresher thread only
  const Clock::duration min_gap_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<platform::JailInfo> pending_;
  std::set<std::string> single_;  // refreshJail requests not read yet
  bool queued_ = false;   // pending_ holds a pass to run
  bool running_ = false;  // a pass is being read
  bool stop_ = false;
  Clock::time_point last_end_{};
  bool ran_once_ = false;
  uint64_t passes_ = 0;
  std::thread thread_;
};

}  // namespace vnetd::daemon
