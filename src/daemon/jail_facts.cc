#include "daemon/jail_facts.h"

#include "core/log.h"
#include "platform/host.h"

namespace vnetd::daemon {

void JailFacts::learn(const std::string& jail, JailInside inside) {
  auto entry = std::make_shared<const JailInside>(std::move(inside));
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = known_[jail];
  if (!slot || slot->read_at <= entry->read_at) slot = std::move(entry);
}

void JailFacts::forget(const std::string& jail) {
  std::lock_guard<std::mutex> lock(mutex_);
  known_.erase(jail);
}

void JailFacts::retainOnly(const std::set<std::string>& recorded) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = known_.begin(); it != known_.end();) it = recorded.count(it->first) ? std::next(it) : known_.erase(it);
}

std::map<std::string, JailFacts::Entry> JailFacts::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return known_;
}

JailFactsRefresher::JailFactsRefresher(JailFacts& facts, std::unique_ptr<platform::Jails> jails,
                                       Clock::duration min_gap)
    : facts_(facts), jails_(std::move(jails)), min_gap_(min_gap) {
  thread_ = std::thread([this] {
    platform::nameThisThread("vnetd-facts");
    run();
  });
}

JailFactsRefresher::~JailFactsRefresher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool JailFactsRefresher::request(std::vector<platform::JailInfo> jails) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_ || running_ || jails.empty()) return false;
    if (ran_once_ && Clock::now() - last_end_ < min_gap_) return false;
    pending_ = std::move(jails);
    queued_ = true;
  }
  wake_.notify_one();
  return true;
}

bool JailFactsRefresher::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_ || running_;
}

uint64_t JailFactsRefresher::passes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return passes_;
}

void JailFactsRefresher::refreshJail(const std::string& jail) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!single_.insert(jail).second) return;
  }
  wake_.notify_one();
}

// The refresher's exception boundary: entering a jail may throw (Linux: a std::thread per
// namespace entry can fail with EAGAIN; bad_alloc anywhere). A throw out of run() would
// end the daemon in std::terminate; here it costs that jail's reading, one line.
void JailFactsRefresher::guarded(const std::string& jail, size_t& failed, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    ++failed;
    VNETD_LOG_WARN("in-jail facts: reading jail %s failed: %s; the next pass tries again", jail.c_str(), e.what());
  } catch (...) {
    ++failed;
    VNETD_LOG_WARN("in-jail facts: reading jail %s failed (unknown exception); the next pass tries again",
                   jail.c_str());
  }
}

void JailFactsRefresher::read(const platform::JailInfo& jail, size_t& failed) {
  JailInside inside{jail.id, Clock::now(), {}, {}};
  // Opened per jail and closed right away: a held socket would keep a deleted namespace
  // (and its interfaces) alive.
  auto stack = jails_->openStack(jail);
  if (!stack) {
    ++failed;  // stopped meanwhile, most likely; status shows it as not running
    return;
  }
  auto links = (*stack)->links();
  auto addresses = (*stack)->addresses();
  if (!links || !addresses) {
    ++failed;
    return;
  }
  inside.links = std::move(*links);
  inside.addresses = std::move(*addresses);
  facts_.learn(jail.name, std::move(inside));
}

void JailFactsRefresher::run() {
  for (;;) {
    std::vector<platform::JailInfo> todo;
    std::set<std::string> single;
    bool pass = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || queued_ || !single_.empty(); });
      if (stop_) return;
      single.swap(single_);
      if (queued_) {
        todo.swap(pending_);
        queued_ = false;
        running_ = true;
        pass = true;
      }
    }
    size_t failed = 0;
    for (const auto& name : single)
      guarded(name, failed, [&] {
        auto info = jails_->find(name);
        if (info && *info && (*info)->own_stack) read(**info, failed);
      });
    if (!pass) continue;
    for (const auto& jail : todo) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return;
      }
      guarded(jail.name, failed, [&] { read(jail, failed); });
    }
    if (failed) VNETD_LOG_DEBUG("in-jail facts: %zu of %zu jails could not be read", failed, todo.size());
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
    ran_once_ = true;
    last_end_ = Clock::now();
    ++passes_;
  }
}

}  // namespace vnetd::daemon
