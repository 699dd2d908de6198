// The daemon proper: owns the configuration, the state store, the platform handles, the
// event stream and the control socket, and runs every change to jail networking on its
// one loop thread — hooks, reconciliation and reload are serialised by construction.
//
// Stopping the daemon (destroying it) never tears down jail networking: links, bridges
// and the state store stay as they are; the next start adopts them.
//
// Threading: loop thread only (the Dispatcher's).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/control_protocol.h"
#include "core/result.h"
#include "core/state_store.h"
#include "daemon/control_server.h"
#include "daemon/dispatcher.h"
#include "daemon/reconciler.h"
#include "platform/events.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"

namespace vnetd::daemon {

class Daemon {
 public:
  // Opens everything, binds the control socket, runs the first reconciliation (adopting
  // what standalone hooks did while no daemon ran) and arms the timers. On error nothing
  // is left listening.
  static Result<std::unique_ptr<Daemon>> create(Dispatcher& dispatcher, std::string config_path, Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Re-reads the configuration file. A file with problems changes nothing: each problem is
  // logged as FILE:LINE:COL and the error says the old configuration stays in effect.
  Result<void> reload();

  // One reconciliation pass now (also run on start, on relevant events, and on a timer).
  void reconcile(const char* why);

  // The reply line (no newline) for one control request.
  std::string handle(const control::Request& request, const PeerCredentials& peer);

  // Counts of what the daemon did, by name ("adopt", "readd_member", ...,
  // "events_rtnetlink", "resyncs", "reconcile_errors").
  const std::map<std::string, uint64_t>& counters() const { return counters_; }

 private:
  Daemon(Dispatcher& dispatcher, std::string config_path, Config config, StateStore store);
  Result<void> start();
  void onEventsReadable();
  void handleEvent(const platform::InterfaceEvent& event);
  void reconcileSoon(const char* why);
  Result<void> reconcilePass(bool& again);
  void armReconcileTimer();
  Result<void> refreshView();
  bool isManaged(const std::string& name) const;
  std::string hookReply(const control::Request& request);
  std::string statusReply(const std::string& jail_filter);
  std::string reloadReply();
  Result<State> loadState();

  Dispatcher& dispatcher_;
  std::string config_path_;
  Config config_;
  StateStore store_;
  std::string host_id_;
  std::unique_ptr<platform::NetStack> host_;
  std::unique_ptr<platform::Jails> jails_;
  std::unique_ptr<platform::Policy> policy_;
  std::unique_ptr<platform::EventSource> events_;
  std::vector<std::unique_ptr<Event>> event_watches_;
  std::unique_ptr<Event> reconcile_timer_;
  std::unique_ptr<Event> soon_timer_;
  std::unique_ptr<ControlServer> server_;

  State state_;                               // the last state read or written by the daemon
  std::set<std::string> known_jails_;         // records the daemon tracks (adopted or its own)
  std::set<std::string> managed_names_;       // host-side links and bridges of interest
  std::map<std::string, platform::LinkInfo> view_;  // current facts about managed host links
  OrphanClock orphan_clock_;
  std::set<std::string> reported_foreign_;    // report once per interface name
  std::map<std::string, uint64_t> counters_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_reconcile_{};
  std::string soon_reason_;
  bool in_reconcile_ = false;
};

}  // namespace vnetd::daemon
