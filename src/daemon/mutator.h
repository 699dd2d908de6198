// Mutator: the one thread that changes jail networking. Hooks and reconciliation passes
// run here, one at a time in submission order — so they are serialised — while the event
// loop stays free to answer status, take events and serve other clients (a status request
// never waits behind a queue of jail starts).
//
// It owns its own platform handles (netlink/ioctl sockets are per thread) and the
// reconciler's memory (which jails are known, orphan clocks, what was reported).
// Results come back to the loop thread through Dispatcher::post().
//
// Threading: the public methods are called on the loop thread; callbacks given to them
// run on the loop thread. Destroying the Mutator lets a running job finish (a half-done
// hook would be worse than a late stop), drops queued ones and joins the thread.
//
// Jobs run on a JobQueue (job_queue.h): a job that throws is logged, counted
// ("mutator_exceptions") and, for a hook, answered with an error line, and the next job
// runs; a hook whose client has gone before its turn is skipped ("hook_skipped").
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/config.h"
#include "core/control_protocol.h"
#include "core/state_store.h"
#include "daemon/dispatcher.h"
#include "daemon/jail_facts.h"
#include "daemon/job_queue.h"
#include "daemon/metrics.h"
#include "daemon/reconciler.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"

namespace vnetd::daemon {

// Named counters shared by the loop and the mutator ("adopt", "hook_errors", ...).
class Counters {
 public:
  void add(const std::string& name, uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[name] += n;
  }
  std::map<std::string, uint64_t> snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> values_;
};

class Mutator {
 public:
  // Called on the loop thread after every job with the names of the host links the
  // daemon manages now (recorded host sides and configured bridges).
  using ManagedNames = std::function<void(std::set<std::string>)>;

  // Called on the loop thread when a reconciliation pass failed (the state lock was busy,
  // a dump kept being interrupted by a storm of changes...): the caller retries later.
  using Failed = std::function<void()>;

  // Runs the first reconciliation pass on the calling thread, then starts the thread.
  // `inside` (optional) learns what created/poststart leave inside a jail, and forgets a
  // jail whose interfaces other phases take away; it must outlive the Mutator.
  static Result<std::unique_ptr<Mutator>> create(Dispatcher& dispatcher, std::shared_ptr<const Config> config,
                                                 std::string host_id, const StateStore& store, Counters& counters,
                                                 DaemonMetrics& metrics, ManagedNames on_managed, Failed on_failed,
                                                 JailFacts* inside = nullptr);
  ~Mutator();
  Mutator(const Mutator&) = delete;
  Mutator& operator=(const Mutator&) = delete;

  // The configuration the next jobs use.
  void setConfig(std::shared_ptr<const Config> config);

  // Who waits for a hook's answer.
  struct HookClient {
    pid_t pid = -1;                   // for the log; -1 when the platform does not report it
    std::function<bool()> abandoned;  // any thread; true once nobody waits for the answer
  };

  // Runs a hook; `reply` gets the response line on the loop thread. When its turn comes
  // and client.abandoned() says the client has gone (vnetd-hook gave up waiting), the
  // hook is not run: counted as "hook_skipped" and logged as "skipped poststop web: the
  // client (pid N) gave up waiting" (`reply` still gets an error line, which nobody reads).
  void hook(const control::Request& request, HookClient client, std::function<void(std::string)> reply);

  // Queues a reconciliation pass unless one is already waiting (it will see this change
  // too). `then`, if given, runs on the loop thread after that pass.
  void reconcile(std::string why, std::function<void()> then = {});

  // Jobs queued or running (for status).
  size_t backlog() const;

 private:
  Mutator(Dispatcher& dispatcher, std::shared_ptr<const Config> config, std::string host_id, const StateStore& store,
          Counters& counters, DaemonMetrics& metrics, ManagedNames on_managed, Failed on_failed);
  void submit(std::string name, std::function<void()> job);
  std::shared_ptr<const Config> config() const;
  std::string runHook(const control::Request& request);
  void runReconcile(const std::string& why);
  Result<void> reconcilePass(const Config& config, bool& again);
  void publishManaged(const Config& config, const State& state);
  void toLoop(std::function<void()> fn);

  Dispatcher& dispatcher_;
  const std::string host_id_;
  const StateStore& store_;
  Counters& counters_;
  DaemonMetrics& metrics_;
  const ManagedNames on_managed_;
  const Failed on_failed_;
  JailFacts* inside_ = nullptr;  // set once in create()

  std::unique_ptr<platform::NetStack> host_;
  std::unique_ptr<platform::Jails> jails_;
  std::unique_ptr<platform::Policy> policy_;

  // Mutator thread only.
  std::set<std::string> known_jails_;
  OrphanClock orphan_clock_;
  RepairBackoffs repair_backoffs_;  // jails whose last repair failed (reconciler.h)
  std::set<std::string> reported_foreign_;
  // Bridge interfaces this daemon has seen configured with NAT: their NAT is read back
  // (and removed once no bridge asks for it) even after a reload dropped them.
  std::set<std::string> nat_bridges_;
  std::set<std::string> reported_nat_errors_;  // logged once each
  // Issue 19: loads, repairs and removes the running jails' forwards (reconciler.h
  // planExpose); under the pass's state lock, so no hook runs meanwhile.
  void reconcileExposes(const Config& config, const State& state, const std::set<std::string>& running);
  NatHookWatch nat_hook_;
  NatEgressWatch nat_egress_;
  std::set<std::string> managed_;  // last published

  mutable std::mutex mutex_;
  std::shared_ptr<const Config> config_;
  bool reconcile_queued_ = false;
  std::deque<std::function<void()>> after_reconcile_;  // `then`s of the queued pass
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);  // posted results check it
  JobQueue jobs_;  // last: stopped first, before anything its jobs use goes
};

}  // namespace vnetd::daemon
