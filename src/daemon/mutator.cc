#include "daemon/mutator.h"

#include <chrono>
#include <ctime>

#include "core/jail_network.h"
#include "core/log.h"
#include "core/state_rebuild.h"

namespace vnetd::daemon {
namespace {

// The reconciler waits this long for the state lock; a standalone hook holds it for
// milliseconds, and a stuck one must not stall the mutator for long.
constexpr int kStateLockTimeoutMs = 500;

int64_t monotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<Mutator>> Mutator::create(Dispatcher& dispatcher, std::shared_ptr<const Config> config,
                                                 std::string host_id, const StateStore& store, Counters& counters,
                                                 DaemonMetrics& metrics, ManagedNames on_managed, Failed on_failed,
                                                 JailFacts* inside) {
  std::unique_ptr<Mutator> m(new Mutator(dispatcher, std::move(config), std::move(host_id), store, counters, metrics,
                                         std::move(on_managed), std::move(on_failed)));
  m->inside_ = inside;
  auto host = platform::openHostStack();
  if (!host) return host.error();
  m->host_ = std::move(*host);
  // Follow the host's links from now on (platform/linux/link_table.h): a prestart that
  // allocates an address then reads them from the table instead of dumping every link
  // (currentLinks). Failing here only costs that dump later.
  if (auto followed = m->host_->pollLinks(); !followed)
    VNETD_LOG_WARN("cannot follow the host's links yet (%s); hooks read them from the kernel",
                   followed.error().message().c_str());
  auto jails = platform::openJails();
  if (!jails) return jails.error();
  m->jails_ = std::move(*jails);
  m->policy_ = platform::openPolicy();
  // The first pass runs here, before the thread and before the daemon reports ready: once
  // `vnetd` has started, configured bridges exist and earlier standalone work is adopted.
  m->runReconcile("start");
  m->jobs_.start("vnetd-mutator");
  return m;
}

Mutator::Mutator(Dispatcher& dispatcher, std::shared_ptr<const Config> config, std::string host_id,
                 const StateStore& store, Counters& counters, DaemonMetrics& metrics, ManagedNames on_managed,
                 Failed on_failed)
    : dispatcher_(dispatcher),
      host_id_(std::move(host_id)),
      store_(store),
      counters_(counters),
      metrics_(metrics),
      on_managed_(std::move(on_managed)),
      on_failed_(std::move(on_failed)),
      config_(std::move(config)) {}

Mutator::~Mutator() {
  jobs_.stop();
  alive_.reset();
}

void Mutator::setConfig(std::shared_ptr<const Config> config) {
  std::lock_guard<std::mutex> lock(mutex_);
  config_ = std::move(config);
}

std::shared_ptr<const Config> Mutator::config() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return config_;
}

size_t Mutator::backlog() const { return jobs_.size(); }

void Mutator::submit(std::string name, std::function<void()> job) {
  JobQueue::Job j;
  j.name = std::move(name);
  j.run = std::move(job);
  j.failed = [this](const std::string&) { counters_.add("mutator_exceptions"); };
  jobs_.submit(std::move(j));
}

void Mutator::toLoop(std::function<void()> fn) {
  dispatcher_.post([alive = std::weak_ptr<char>(alive_), fn = std::move(fn)] {
    if (!alive.expired()) fn();
  });
}

void Mutator::hook(const control::Request& request, HookClient client, std::function<void(std::string)> reply) {
  const std::string what = std::string(hookPhaseName(*request.phase)) + " " + request.jail;
  // Shared by the three paths below; exactly one of them runs.
  auto answer = std::make_shared<std::function<void(std::string)>>(std::move(reply));
  JobQueue::Job job;
  job.name = "hook " + what;
  const auto submitted = std::chrono::steady_clock::now();
  job.run = [this, request, answer, submitted, what] {
    const auto started = std::chrono::steady_clock::now();
    std::string line = runHook(request);
    const auto ran = std::chrono::steady_clock::now();
    toLoop([answer, line = std::move(line), submitted, started, ran, what] {
      const auto back = std::chrono::steady_clock::now();
      (*answer)(line);
      // Where a hook's time goes on the daemon's side, for profiling the daemon path:
      // waiting for the mutator thread, the phase itself, waiting for the loop, and the
      // loop's own work before the reply (the capture following the state).
      if (log::enabled(log::Level::Debug)) {
        auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
        VNETD_LOG_DEBUG("hook %s: queued %.2f ms, ran %.2f ms, to loop %.2f ms, replied after %.2f ms", what.c_str(),
                        ms(submitted, started), ms(started, ran), ms(ran, back),
                        ms(back, std::chrono::steady_clock::now()));
      }
    });
  };
  job.abandoned = std::move(client.abandoned);
  job.skipped = [this, what, pid = client.pid, answer] {
    counters_.add("hook_skipped");
    VNETD_LOG_WARN("skipped %s: the client (pid %d) gave up waiting", what.c_str(), static_cast<int>(pid));
    toLoop([answer, what] { (*answer)(control::encodeError("skipped " + what + ": the client gave up waiting")); });
  };
  job.failed = [this, what, answer](const std::string& why) {
    counters_.add("mutator_exceptions");
    counters_.add("hook_errors");
    toLoop([answer, line = control::encodeError(what + ": internal error in vnetd (" + why + "); see its log")] {
      (*answer)(line);
    });
  };
  jobs_.submit(std::move(job));
}

void Mutator::reconcile(std::string why, std::function<void()> then) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (then) after_reconcile_.push_back(std::move(then));
    if (reconcile_queued_) return;
    reconcile_queued_ = true;
  }
  std::string name = "reconcile (" + why + ")";
  submit(std::move(name), [this, why = std::move(why)] {
    std::deque<std::function<void()>> thens;
    {
      // From here a new trigger queues another pass: this one may already be past the
      // moment that trigger is about.
      std::lock_guard<std::mutex> lock(mutex_);
      reconcile_queued_ = false;
      thens.swap(after_reconcile_);
    }
    // The `then`s run even when the pass throws (a reload's client waits for one); the
    // exception then goes on to the JobQueue's boundary.
    struct RunThens {
      Mutator* m;
      std::deque<std::function<void()>>& thens;
      ~RunThens() {
        for (auto& t : thens) {
          try {
            m->toLoop(std::move(t));
          } catch (...) {  // out of memory: that caller is not answered, the daemon goes on
          }
        }
      }
    } run_thens{this, thens};
    runReconcile(why);
  });
}

// --------------------------------------------------------------------------------- hooks

std::string Mutator::runHook(const control::Request& request) {
  auto cfg = config();
  const HookPhase phase = *request.phase;
  const std::string& jail = request.jail;
  // Tell the loop which names are (no longer) ours before touching them, so the events
  // this hook causes are not taken for outside changes that need a reconciliation pass.
  std::set<std::string> managed = managed_;
  if (auto jc = cfg->jailFor(jail)) {
    for (const auto& ic : jc->interfaces) {
      if (phase == HookPhase::Poststop) managed.erase(ic.host_side_name);
      else managed.insert(ic.host_side_name);
    }
  }
  if (managed != managed_) {
    managed_ = managed;
    toLoop([this, managed = std::move(managed)]() mutable { on_managed_(std::move(managed)); });
  }
  JailNetwork network(*cfg, store_, *host_, *jails_, *policy_, host_id_);
  network.reportInside(inside_ != nullptr);
  auto began = std::chrono::steady_clock::now();
  auto out = network.run(phase, jail);
  auto took_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
  counters_.add(std::string("hook_") + hookPhaseName(phase));
  if (!out) {
    counters_.add("hook_errors");
    metrics_.hookFailed(phase, out.error());
    VNETD_LOG_WARN("%s %s: %s", hookPhaseName(phase), jail.c_str(), out.error().message().c_str());
    return control::encodeError(out.error().message());
  }
  metrics_.hookDone(phase, took_us.count() / 1e6);
  if (out->changed)
    VNETD_LOG_INFO("%s %s: done in %.1f ms", hookPhaseName(phase), jail.c_str(), took_us.count() / 1000.0);
  // The daemon made (or removed) these itself: tracked without an "adopt".
  orphan_clock_.erase("jail:" + jail);
  if (phase == HookPhase::Poststop) known_jails_.erase(jail);
  else known_jails_.insert(jail);
  // What the phase saw inside the jail is what status shows (daemon/jail_facts.h).
  if (inside_) {
    if (out->inside) inside_->learn(jail, std::move(*out->inside));
    else if (phase != HookPhase::Created && phase != HookPhase::Poststart) inside_->forget(jail);
  }
  return control::encodeHookReply(*out);
}

// ----------------------------------------------------------------------------- reconcile

void Mutator::runReconcile(const std::string& why) {
  auto cfg = config();
  counters_.add("reconcile_runs");
  auto began = std::chrono::steady_clock::now();
  // A pass that (re)created a bridge runs once more, so the members follow at once.
  for (int pass = 0; pass < 2; ++pass) {
    bool again = false;
    auto r = reconcilePass(*cfg, again);
    if (!r) {
      counters_.add("reconcile_errors");
      VNETD_LOG_WARN("reconcile (%s): %s; will retry", why.c_str(), r.error().message().c_str());
      if (on_failed_) toLoop(on_failed_);
      break;
    }
    if (!again) break;
  }
  VNETD_LOG_DEBUG("reconcile (%s) took %.1f ms", why.c_str(),
                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began)
                          .count() / 1000.0);
}

void Mutator::publishManaged(const Config& config, const State& state) {
  std::set<std::string> managed;
  for (const auto& [key, br] : config.bridges) managed.insert(br.interface);
  for (const auto& [name, rec] : state.jails)
    for (const auto& ir : rec.interfaces) managed.insert(ir.host_name);
  if (managed == managed_) return;
  managed_ = managed;
  toLoop([this, managed = std::move(managed)]() mutable { on_managed_(std::move(managed)); });
}

Result<void> Mutator::reconcilePass(const Config& config, bool& again) {
  auto locked = store_.lock(kStateLockTimeoutMs);
  if (!locked) return withContext(locked.error(), "state lock");
  std::optional<StateLock> lock(std::move(*locked));
  auto loaded = store_.load(*lock);
  // An unreadable state means "do nothing": never destroy on a state we could not read.
  if (!loaded) return loaded.error();
  State state = std::move(*loaded);

  auto links = host_->links();
  if (!links) return withContext(links.error(), "listing interfaces");
  // Running jails the state lost (a corrupt file moved aside, an old copy restored) get
  // their records back from the kernel before anything is planned (state_rebuild.h).
  std::set<std::string> bridges;
  for (const auto& [key, br] : config.bridges) bridges.insert(br.interface);
  auto rebuilt =
      rebuildMissingRecords(state, *links, bridges, *jails_, host_id_, static_cast<int64_t>(std::time(nullptr)));
  if (!rebuilt) return withContext(rebuilt.error(), "rebuilding lost records");
  if (!rebuilt->empty()) VNETD_TRY(store_.save(*lock, state));
  auto addresses = host_->addresses();
  if (!addresses) return withContext(addresses.error(), "listing addresses");
  auto running = jails_->list();
  if (!running) return withContext(running.error(), "listing jails");
  std::set<std::string> running_names;
  for (const auto& j : *running)
    if (j.own_stack) running_names.insert(j.name);

  // NAT as loaded now, for the bridges whose NAT is vnetd's business (see nat_bridges_).
  // A read that fails leaves that bridge out: nothing is judged on what could not be read.
  for (const auto& [key, br] : config.bridges)
    if (wantedNat(br)) nat_bridges_.insert(br.interface);
  std::map<std::string, std::optional<platform::BridgeNat>> nat_loaded;
  for (const std::string& bridge : nat_bridges_) {
    auto loaded = policy_->bridgeNat(bridge);
    if (!loaded) {
      if (reported_nat_errors_.insert(loaded.error().message()).second)
        VNETD_LOG_WARN("reconcile: %s; NAT of bridge %s is not checked until this works", loaded.error().message().c_str(),
                       bridge.c_str());
      continue;
    }
    nat_loaded.emplace(bridge, std::move(*loaded));
  }
  // The rules read back above may be loaded yet never evaluated: FreeBSD's `pfctl -F all`
  // drops main's nat-anchor "vnetd/*" and keeps the anchors (platform/freebsd/pf_nat.cc).
  // vnetd cannot safely reload pf.conf itself; it says so, once per change.
  std::string nat_names;
  for (const auto& [key, br] : config.bridges)
    if (wantedNat(br)) nat_names += (nat_names.empty() ? "" : ", ") + br.interface;
  std::optional<bool> nat_hooked;  // unknown until read
  if (!nat_names.empty()) {
    auto hooked = policy_->natHooked();
    if (hooked) nat_hooked = *hooked;
    if (!hooked) {
      if (reported_nat_errors_.insert(hooked.error().message()).second)
        VNETD_LOG_WARN("reconcile: %s; whether the packet filter evaluates vnetd's NAT is not checked until this works",
                       hooked.error().message().c_str());
    } else {
      switch (noteNatHook(nat_hook_, *hooked)) {
        case NatHookNews::Missing:
          counters_.add("nat_hook_missing");
          metrics_.action("nat_hook_missing");
          VNETD_LOG_WARN("reconcile: the packet filter does not evaluate vnetd's NAT (the loaded pf ruleset has no "
                         "nat-anchor \"vnetd/*\", e.g. after pfctl -F all): jails on %s get no NAT until pf.conf is "
                         "loaded again: pfctl -f /etc/pf.conf",
                         nat_names.c_str());
          break;
        case NatHookNews::Back:
          VNETD_LOG_INFO("reconcile: the packet filter evaluates vnetd's NAT again (nat-anchor \"vnetd/*\" is loaded)");
          break;
        case NatHookNews::None:
          break;
      }
    }
  }

  // A NAT egress that does not exist: said once per change; its arrival triggers a pass
  // (Daemon::handleEvent), which loads the NAT.
  for (const NatEgressNews& n : noteNatEgresses(nat_egress_, natEgressesMissing(config, *links))) {
    if (n.missing)
      VNETD_LOG_WARN("bridge %s: its NAT egress interface %s does not exist; jails on %s reach only the host and each "
                     "other until it appears (the NAT is loaded as soon as it does)",
                     n.bridge.c_str(), n.egress.c_str(), n.bridge.c_str());
    else
      VNETD_LOG_INFO("bridge %s: no longer waiting for NAT egress interface %s", n.bridge.c_str(), n.egress.c_str());
  }

  // Bridges no longer configured with NAT that have none loaded are not vnetd's concern.
  for (auto it = nat_bridges_.begin(); it != nat_bridges_.end();) {
    bool wanted = false;
    for (const auto& [key, br] : config.bridges) wanted = wanted || (br.interface == *it && wantedNat(br));
    auto read = nat_loaded.find(*it);
    it = !wanted && read != nat_loaded.end() && !read->second ? nat_bridges_.erase(it) : std::next(it);
  }

  ReconcileInput in;
  in.config = &config;
  in.nat_loaded = &nat_loaded;
  in.state = &state;
  in.host_links = &*links;
  in.host_addresses = &*addresses;
  in.running_jails = &running_names;
  in.known_jails = &known_jails_;
  in.host_id = host_id_;
  in.now_ms = monotonicMs();
  in.now_unix_s = static_cast<int64_t>(std::time(nullptr));  // the clock hooks stamp updated_at with
  in.orphan_grace_ms = int64_t{config.daemon.orphan_grace_seconds} * 1000;
  in.repair_backoff_max_ms = int64_t{config.daemon.reconcile_interval_seconds} * 1000;
  auto plan = planReconcile(in, orphan_clock_, &repair_backoffs_);

  JailNetwork network(config, store_, *host_, *jails_, *policy_, host_id_);
  network.reportInside(inside_ != nullptr);
  std::vector<ReconcileAction> later;  // repairs and orphans, in plan order
  for (const auto& a : plan) {
    const char* kind = actionKindName(a.kind);
    Result<void> done = success();
    std::string said;  // logged once counted, so whoever reads the log sees the count too
    log::Level level = log::Level::Warning;
    switch (a.kind) {
      case ReconcileAction::Kind::Adopt:
        known_jails_.insert(a.jail);
        said = "adopted " + a.reason;
        level = log::Level::Info;
        break;
      case ReconcileAction::Kind::EnsureBridge:
        done = network.ensureBridgeReady(config.bridges.at(a.bridge));
        said = "repaired: " + a.reason + "; fixed";
        again = again || done.ok();
        break;
      case ReconcileAction::Kind::EnsureNat: {
        const BridgeConfig& br = config.bridges.at(a.bridge);
        auto want = wantedNat(br);
        done = want ? policy_->applyBridgeNat(br.interface, want->subnets.front(), want->egress) : success();
        if (done && want) nat_loaded[br.interface] = *want;  // for vnetd_bridge_nat_active below
        said = "repaired: " + a.reason + "; loaded it";
        break;
      }
      case ReconcileAction::Kind::RemoveNat:
        done = policy_->removeBridgeNat(a.bridge);
        if (done) {
          nat_bridges_.erase(a.bridge);
          nat_loaded[a.bridge] = std::nullopt;
        }
        said = "removed: " + a.reason;
        level = log::Level::Info;
        break;
      case ReconcileAction::Kind::ReaddMember:
        done = host_->addBridgeMember(a.bridge, a.interface, a.private_member);
        said = "repaired: " + a.reason + "; added it back";
        break;
      case ReconcileAction::Kind::RepairJailPairs:
      case ReconcileAction::Kind::CollectOrphan:
        later.push_back(a);  // needs the lock itself: after this loop
        continue;
      case ReconcileAction::Kind::DestroyLeftover: {
        // Planned under this same lock, so no prestart can be creating it right now.
        auto l = host_->link(a.interface);
        if (!l) done = l.error();
        else if (*l && (network.isInterruptedPrestartLeftover(**l, a.jail, a.index) ||
                        (state.jails.count(a.jail) &&
                         isPairCreationLeftover(**l, a.jail, a.index, state.jails.at(a.jail)))))
          done = host_->destroyLink(a.interface);
        else continue;  // gone, or no longer carrying vnetd's marks
        said = "orphan: " + a.reason + "; destroyed it";
        break;
      }
      case ReconcileAction::Kind::ReportForeign:
        if (!reported_foreign_.insert(a.interface).second) continue;
        said = a.reason;
        break;
    }
    if (done) {
      counters_.add(kind);
      metrics_.action(kind);
      if (!said.empty() && log::enabled(level)) log::write(level, "%s", said.c_str());
    }
    else {
      counters_.add("reconcile_errors");
      VNETD_LOG_ERROR("%s: %s: %s", kind, a.reason.c_str(), done.error().message().c_str());
    }
  }
  metrics_.setBridgeNat(natInPlace(config, *links, nat_loaded, nat_hooked));
  reconcileExposes(config, state, running_names);  // issue 19
  lock.reset();  // repairRunning and collectOrphan take the lock themselves

  for (const auto& a : later) {
    auto it = state.jails.find(a.jail);
    if (it == state.jails.end()) continue;
    if (a.kind == ReconcileAction::Kind::RepairJailPairs) {
      // Re-checked under the lock there: a hook that ran since the plan wins.
      auto out = network.repairRunning(a.jail, it->second);
      if (!out) {
        // Not planned again before the backoff's delay (reconciler.h): the pair this
        // failure destroyed again would otherwise trigger a pass, and a failure, at once.
        // So this line comes once per backoff step, not once per pass.
        const int64_t delay_ms = noteRepairFailed(repair_backoffs_, a.jail, monotonicMs(), in.repair_backoff_max_ms);
        counters_.add("reconcile_errors");
        VNETD_LOG_ERROR("repair_jail_pairs %s: %s: %s; next attempt in %lld s at the earliest", a.jail.c_str(),
                        a.reason.c_str(), out.error().message().c_str(),
                        static_cast<long long>((delay_ms + 999) / 1000));
        continue;
      }
      repair_backoffs_.erase(a.jail);
      if (out->changed) {
        counters_.add("repair_jail_pairs");
        metrics_.action("repair_jail_pairs");
        VNETD_LOG_WARN("repaired: %s; made %s anew", a.reason.c_str(),
                       a.reason.find(", ") == std::string::npos ? "it" : "them");
        if (inside_ && out->inside) inside_->learn(a.jail, std::move(*out->inside));
      }
      continue;
    }
    auto out = network.collectOrphan(a.jail, it->second);
    if (!out) {
      counters_.add("reconcile_errors");
      VNETD_LOG_ERROR("collect_orphan %s: %s", a.jail.c_str(), out.error().message().c_str());
      continue;
    }
    if (out->changed) {
      counters_.add("collect_orphan");
      metrics_.action("collect_orphan");
      VNETD_LOG_WARN("orphan: %s; collected it", a.reason.c_str());
      known_jails_.erase(a.jail);
      orphan_clock_.erase("jail:" + a.jail);
      state.jails.erase(a.jail);
    }
  }
  for (auto it = known_jails_.begin(); it != known_jails_.end();)
    it = state.jails.count(*it) ? std::next(it) : known_jails_.erase(it);
  publishManaged(config, state);
  return success();
}

// --- issue 19, port forwarding ---

void Mutator::reconcileExposes(const Config& config, const State& state, const std::set<std::string>& running) {
  auto wanted = wantedExposes(config, state, running);
  auto warnOnce = [this](const Error& e) {
    if (reported_nat_errors_.insert(e.message()).second)
      VNETD_LOG_WARN("reconcile: %s; port forwards are not checked until this works", e.message().c_str());
  };
  std::map<std::string, platform::ExposeLoaded> loaded;
  for (const auto& [jail, forwards] : wanted) {
    auto read = policy_->jailExpose(jail, forwards);
    if (!read) {
      warnOnce(read.error());
      continue;
    }
    static const std::string kNotHooked =
        "the packet filter does not evaluate vnetd's port forwards (the loaded pf ruleset has no rdr-anchor "
        "\"vnetd/*\"): add it to pf.conf beside nat-anchor \"vnetd/*\" and run pfctl -f /etc/pf.conf";
    if (!read->hooked && reported_nat_errors_.insert(kNotHooked).second) VNETD_LOG_WARN("reconcile: %s", kNotHooked.c_str());
    loaded.emplace(jail, std::move(*read));
  }
  std::optional<std::set<std::string>> loaded_jails;
  if (auto read = policy_->exposeJails()) loaded_jails = std::move(*read);
  else warnOnce(read.error());

  std::set<std::string> known;
  for (const auto& [name, jail] : config.jails) known.insert(name);
  for (const auto& [name, rec] : state.jails) known.insert(name);
  for (const ExposeAction& a : planExpose(wanted, loaded, loaded_jails ? &*loaded_jails : nullptr, known)) {
    const bool ensure = a.kind == ExposeAction::Kind::Ensure;
    const char* kind = ensure ? "ensure_expose" : "remove_expose";
    Result<void> done = ensure ? policy_->applyJailExpose(a.jail, wanted.at(a.jail)) : policy_->removeJailExpose(a.jail);
    if (!done) {
      counters_.add("reconcile_errors");
      VNETD_LOG_ERROR("%s: %s: %s", kind, a.reason.c_str(), done.error().message().c_str());
      continue;
    }
    counters_.add(kind);
    metrics_.action(kind);
    if (ensure) {
      VNETD_LOG_WARN("repaired: %s; loaded them", a.reason.c_str());
      for (auto& [forward, active] : loaded[a.jail].active) active = true;
    } else {
      VNETD_LOG_INFO("removed: %s", a.reason.c_str());
    }
  }
  std::map<std::pair<std::string, std::string>, bool> active;
  for (const auto& [jail, read] : loaded)
    for (const auto& [forward, on] : read.active) active[{jail, forward}] = on && read.hooked;
  metrics_.setExposeActive(active);
}

}  // namespace vnetd::daemon
