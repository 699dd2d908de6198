// Daemon: wires the daemon's parts together and routes to them — control requests (by
// the access policy table) to the Mutator (hooks), the status service, the reloader and
// capture sessions; interface events to the view of managed links and to reconciliation;
// timers. The loop thread (the Dispatcher's) runs it all; every change to jail networking
// (hooks, reconciliation) runs on the Mutator thread, one at a time, so hooks are
// serialised while status and events are answered.
//
// Stopping the daemon (destroying it) never tears down jail networking: links, bridges
// and the state store stay as they are; the next start adopts them. The one exception is
// IP forwarding that vnetd itself switched on ([daemon] manage_forwarding): it is
// switched back off (daemon/forwarding.h).
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "collectors/capture.h"
#include "core/config.h"
#include "core/control_protocol.h"
#include "core/result.h"
#include "core/state_store.h"
#include "daemon/capture_streams.h"
#include "daemon/control_server.h"
#include "daemon/dispatcher.h"
#include "daemon/event_watch.h"
#include "daemon/forwarding.h"
#include "daemon/jail_facts.h"
#include "daemon/metrics.h"
#include "daemon/mutator.h"
#include "daemon/rates.h"
#include "daemon/reloader.h"
#include "daemon/router_advertiser.h"
#include "daemon/state_syncer.h"
#include "daemon/status_service.h"
#include "exporters/metrics_http.h"
#include "platform/events.h"
#include "platform/jails.h"
#include "platform/netif.h"

namespace vnetd::daemon {

class Daemon {
 public:
  // Opens everything, queues the first reconciliation (it adopts what standalone hooks
  // did while no daemon ran, and runs before any hook that arrives), binds the control
  // socket and arms the timers. On error nothing is left listening.
  static Result<std::unique_ptr<Daemon>> create(Dispatcher& dispatcher, std::string config_path, Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Re-reads the configuration file. A file with problems changes nothing: each problem is
  // logged as FILE:LINE:COL and the error says the old configuration stays in effect.
  // Otherwise the new configuration applies to the next jobs, and a reconciliation pass
  // is queued; `then` (optional) runs on the loop once that pass is done.
  Result<void> reload(std::function<void()> then = {});

  // Answers one control request (now, or later for hooks and reload), if the access
  // policy lets `peer` use its op.
  void handle(const control::Request& request, const PeerCredentials& peer, ControlServer::Reply reply);

 private:
  Daemon(Dispatcher& dispatcher, std::string config_path, std::shared_ptr<const Config> config, StateStore store);
  Result<void> start();
  void onEvents(const std::vector<platform::InterfaceEvent>& events, const Result<void>& drained);
  void handleEvent(const platform::InterfaceEvent& event);
  void watchNatEgresses(const Config& config);  // nat_egresses_ from the bridges asking for NAT
  std::string jailOfHostSide(const std::string& host_side) const;  // "" when none
  void reconcileSoon(const char* why, std::chrono::milliseconds delay);
  void armReconcileTimer();
  void startRouterAdvertisements(const Config& cfg);
  void setManaged(std::set<std::string> names);
  void captureFollowState();
  void sampleRates();
  void status(const std::string& jail_filter, ControlServer::Reply reply);
  void handleCapture(const control::Request& request, ControlServer::Reply reply);

  Dispatcher& dispatcher_;
  const Reloader reloader_;
  std::shared_ptr<const Config> config_;
  StateStore store_;
  Counters counters_;
  DaemonMetrics metrics_;
  std::unique_ptr<platform::NetStack> host_;  // loop thread: status and event look-ups
  std::unique_ptr<platform::Jails> jails_;    // loop thread: scrapes, small status replies
  JailFacts inside_;                          // what is inside each jail (Mutator, refresher → status)
  std::unique_ptr<JailFactsRefresher> refresher_;
  std::unique_ptr<StatusService> status_;
  std::unique_ptr<platform::EventSource> events_;
  std::unique_ptr<EventWatch> event_watch_;  // drains events_; its fds can change (devd restarts)
  std::unique_ptr<Event> reconcile_timer_;
  std::unique_ptr<Event> soon_timer_;
  std::unique_ptr<Event> rate_timer_;
  RateSampler rates_;  // host-side counters every kRateSamplePeriod, for status
  // Write-behind of store_ (state_syncer.h): hooks are answered without waiting for an
  // fsync. Made before the mutator (its first pass may save), stopped after it.
  std::unique_ptr<StateSyncer> syncer_;
  std::unique_ptr<Mutator> mutator_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<exporters::MetricsHttp> http_;
  // [daemon] manage_forwarding: applied at start and on reload, undone at a clean exit.
  std::unique_ptr<Forwarding> forwarding_;
  std::unique_ptr<collectors::CaptureManager> capture_;  // per-bridge capture threads
  // `vnetctl capture` sessions, made at the first one. Uses *capture_ only in handle();
  // destroyed (its threads joined, their clients see EOF) after ~Daemon's body.
  std::unique_ptr<CaptureStreams> captures_;
  // IPv6 router advertisements on bridges with router_advertisements (issue 19): applied
  // at start and on reload. Declared last: destroyed first (it uses host_ and counters_).
  std::unique_ptr<RouterAdvertiser> advertiser_;

  std::set<std::string> nat_egresses_;              // egress interfaces of NAT bridges
  std::set<std::string> managed_names_;             // host-side links and bridges of interest
  std::map<std::string, platform::LinkInfo> view_;  // current facts about managed host links
  std::chrono::steady_clock::time_point started_;
  std::string soon_reason_;
};

}  // namespace vnetd::daemon
