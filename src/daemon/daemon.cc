#include "daemon/daemon.h"

#include <grp.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "collectors/jail_counters.h"
#include "core/log.h"
#include "daemon/access_policy.h"
#include "daemon/reconciler.h"
#include "platform/host.h"
#include "vnetd/build_config.h"

namespace vnetd::daemon {
namespace {

using Json = nlohmann::json;
using platform::InterfaceEvent;
using platform::LinkInfo;

// Coalesces bursts of events (a jail start is a dozen messages) into one pass.
constexpr std::chrono::milliseconds kReconcileDebounce{100};
// After a failed pass (state lock busy, dumps interrupted by a storm of changes).
constexpr std::chrono::milliseconds kReconcileRetry{1000};
// Status shows each interface's rates averaged over this period: one dump of the host's
// links per period, whatever the number of jails.
constexpr std::chrono::seconds kRateSamplePeriod{2};

std::string dump(const Json& doc) { return doc.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

Daemon::Daemon(Dispatcher& dispatcher, std::string config_path, std::shared_ptr<const Config> config,
               StateStore store)
    : dispatcher_(dispatcher),
      reloader_(std::move(config_path)),
      config_(std::move(config)),
      store_(std::move(store)),
      started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon() {
  // The socket goes first, so no client is accepted by a half-destroyed daemon; then the
  // mutator finishes the job it is running (never half a hook) and drops the rest.
  server_.reset();
  http_.reset();
  captures_.reset();  // operators' capture sessions end (their clients see the stream end)
  capture_.reset();  // capture threads stop (and publish a last time) before metrics_ goes
  status_.reset();
  refresher_.reset();  // stops after the jail it is reading
  mutator_.reset();
  // After the last save: what the last hooks saved reaches the disk before we exit.
  if (syncer_) {
    syncer_->stop();
    store_.setWriteBehind({});
  }
  // After the last hook: none can switch forwarding on again behind the restore.
  if (forwarding_) forwarding_->restore();
  VNETD_LOG_INFO("stopped; jail networking left in place");
}

Result<std::unique_ptr<Daemon>> Daemon::create(Dispatcher& dispatcher, std::string config_path, Config config) {
  auto store = StateStore::open(config.daemon.state_dir);
  if (!store) return withContext(store.error(), "state directory " + config.daemon.state_dir);
  std::unique_ptr<Daemon> d(new Daemon(dispatcher, std::move(config_path),
                                       std::make_shared<const Config>(std::move(config)), std::move(*store)));
  VNETD_TRY(d->start());
  return d;
}

Result<void> Daemon::start() {
  const Config& cfg = *config_;
  std::string host_id = cfg.daemon.host_id;
  if (host_id.empty()) {
    auto id = platform::readHostId();
    if (!id) return id.error();
    host_id = *id;
  }
  // Forwarding first: the first pass and the first hooks already find it on. A daemon
  // that fails to start further down switches it back off (~Daemon).
  forwarding_ = std::make_unique<Forwarding>(cfg.daemon.state_dir + "/forwarding", Forwarding::platformSwitches());
  forwarding_->apply(cfg);
  auto host = platform::openHostStack();
  if (!host) return host.error();
  host_ = std::move(*host);
  auto jails = platform::openJails();
  if (!jails) return jails.error();
  jails_ = std::move(*jails);
  // In-jail facts are re-read on the refresher's thread, with its own handle.
  auto refresher_jails = platform::openJails();
  if (!refresher_jails) return refresher_jails.error();
  refresher_ = std::make_unique<JailFactsRefresher>(inside_, std::move(*refresher_jails), kInsideRefreshGap);
  auto status_jails = platform::openJails();
  if (!status_jails) return status_jails.error();
  status_ = std::make_unique<StatusService>(dispatcher_, store_, *host_, *jails_, std::move(*status_jails),
                                            inside_, *refresher_, rates_);

  // Events before the first pass: a change that happens during it is then seen afterwards.
  auto events = platform::openHostEvents();
  if (!events) return withContext(events.error(), "interface events");
  events_ = std::move(*events);
  auto watch = EventWatch::create(dispatcher_, *events_, [this](const auto& batch, const auto& drained) {
    onEvents(batch, drained);
  });
  if (!watch) return withContext(watch.error(), "interface events");
  event_watch_ = std::move(*watch);
  for (const auto& [key, br] : cfg.bridges) managed_names_.insert(br.interface);
  watchNatEgresses(cfg);

  // From here the daemon's saves are write-behind (core/state_store.h, durability contract).
  syncer_ = std::make_unique<StateSyncer>([store = store_] { return store.sync(); }, kStateSyncDelay,
                                          [this](const char* counter) { counters_.add(counter); },
                                          [store = store_] { store.prepareSpare(); });
  store_.prepareSpare();
  store_.setWriteBehind([syncer = syncer_.get()] { syncer->saved(); });
  auto mutator = Mutator::create(
      dispatcher_, config_, host_id, store_, counters_, metrics_,
      [this](std::set<std::string> names) { setManaged(std::move(names)); },
      [this] { reconcileSoon("retrying a failed pass", kReconcileRetry); }, &inside_);
  if (!mutator) return mutator.error();
  mutator_ = std::move(*mutator);

  ControlServerOptions options;
  options.path = cfg.daemon.control_socket;
  if (!cfg.daemon.control_group.empty()) {
    struct group* g = ::getgrnam(cfg.daemon.control_group.c_str());
    if (!g)
      return plainError("control_group '" + cfg.daemon.control_group + "' in " + cfg.source +
                        " is not a group on this system");
    options.access.group = g->gr_gid;
  }
  // Per-jail kernel counters, read at scrape time with the loop's own handles.
  metrics_.add(std::make_shared<collectors::JailCounters>(store_, *host_, *jails_, [this] {
    std::vector<std::string> names;
    for (const auto& [key, br] : config_->bridges) names.push_back(br.interface);
    return names;
  }));
  // Per-bridge packet capture: a thread per configured bridge; the collector exports the
  // snapshots they publish. Attribution follows the state (captureFollowState).
  capture_ = std::make_unique<collectors::CaptureManager>();
  metrics_.add(capture_->collectable());
  capture_->apply(cfg);
  captureFollowState();
  auto http = exporters::MetricsHttp::create(dispatcher_.base(), cfg.metrics.listen, cfg.metrics.path,
                                             [this] { return metrics_.render(); });
  if (!http) return http.error();
  http_ = std::move(*http);

  auto server = ControlServer::createAsync(
      dispatcher_, options,
      [this](const control::Request& r, const PeerCredentials& p, ControlServer::Reply reply) {
        handle(r, p, std::move(reply));
      });
  if (!server) return server.error();
  server_ = std::move(*server);
  startRouterAdvertisements(cfg);
  armReconcileTimer();
  sampleRates();
  auto rate_timer = dispatcher_.onTimer(kRateSamplePeriod, true, [this] { sampleRates(); });
  if (!rate_timer) return rate_timer.error();
  rate_timer_ = std::move(*rate_timer);
  VNETD_LOG_INFO("started: %zu bridges, %zu jails configured; control socket %s", cfg.bridges.size(),
                 cfg.jails.size(), cfg.daemon.control_socket.c_str());
  return success();
}

// Issue 19: router advertisements on the bridges that ask for them (daemon/router_advertiser.h).
void Daemon::startRouterAdvertisements(const Config& cfg) {
  advertiser_ = std::make_unique<RouterAdvertiser>(dispatcher_, *host_, counters_);
  advertiser_->apply(cfg);
}

void Daemon::armReconcileTimer() {
  auto timer = dispatcher_.onTimer(std::chrono::seconds(config_->daemon.reconcile_interval_seconds), true,
                                   [this] { mutator_->reconcile("timer"); });
  if (timer) reconcile_timer_ = std::move(*timer);
  else VNETD_LOG_ERROR("cannot arm the reconcile timer: %s", timer.error().message().c_str());
}

void Daemon::sampleRates() {
  auto state = store_.snapshot();
  auto links = host_->pollLinks();
  if (!state || !links) return;  // the next period tries again; status shows no rate meanwhile
  std::set<std::string> host_sides;
  for (const auto& [name, rec] : (*state)->jails)
    for (const auto& ir : rec.interfaces) host_sides.insert(ir.host_name);
  std::map<std::string, platform::LinkCounters> counters;
  for (const auto& l : *links)
    if (host_sides.count(l.name)) counters.emplace(l.name, l.counters);
  rates_.sample(RateSampler::Clock::now(), counters);
}

void Daemon::setManaged(std::set<std::string> names) {
  managed_names_ = std::move(names);
  for (auto it = view_.begin(); it != view_.end();)
    it = managed_names_.count(it->first) ? std::next(it) : view_.erase(it);
  captureFollowState();
}

void Daemon::captureFollowState() {
  // The capture's MAC → jail tables follow the recorded jails: at start, after every hook
  // run here, and whenever the managed names change (adoptions, collected orphans).
  // Cheap when nothing changed.
  if (capture_)
    if (auto state = store_.snapshot()) capture_->setState(std::move(*state));
}

// ------------------------------------------------------------------------------ events

void Daemon::onEvents(const std::vector<InterfaceEvent>& events, const Result<void>& drained) {
  for (const auto& e : events) handleEvent(e);
  if (!drained) {
    // Whatever broke, the cure is the same as for lost events: look at everything again.
    counters_.add("event_errors");
    VNETD_LOG_WARN("interface events: %s; re-reading everything", drained.error().message().c_str());
    reconcileSoon("event source error", kReconcileDebounce);
  }
}

void Daemon::handleEvent(const InterfaceEvent& e) {
  counters_.add(std::string("events_") + e.source);
  metrics_.event(e.source, platform::eventTypeName(e.type));
  if (e.type == InterfaceEvent::Type::ResyncNeeded) {
    counters_.add("resyncs");
    reconcileSoon("the kernel dropped interface events", kReconcileDebounce);
    return;
  }
  // A NAT egress that was missing (reconciler.h natEgressesMissing) has appeared, or one
  // was renamed into place: the NAT waiting for it is loaded by a pass now, not at the
  // next timer.
  if ((e.type == InterfaceEvent::Type::Arrived || e.type == InterfaceEvent::Type::Renamed) &&
      nat_egresses_.count(e.name))
    reconcileSoon("a NAT egress interface appeared", kReconcileDebounce);
  bool ours = managed_names_.count(e.name) ||
              (e.type == InterfaceEvent::Type::Renamed && managed_names_.count(e.old_name));
  if (!ours) return;  // the other 500 interfaces of a busy host cost one set lookup each
  counters_.add("events_managed");
  switch (e.type) {
    case InterfaceEvent::Type::Departed:
      view_.erase(e.name);
      reconcileSoon("a managed interface departed", kReconcileDebounce);
      return;
    case InterfaceEvent::Type::Renamed:
      view_.erase(e.old_name);
      reconcileSoon("a managed interface was renamed", kReconcileDebounce);
      break;
    case InterfaceEvent::Type::LinkUp:
    case InterfaceEvent::Type::LinkDown:
      // A pair's carrier changes at both ends: what `created` read inside the jail is out
      // of date. Linux: a veth's carrier (and operstate, set later by linkwatch) comes up
      // only once both ends are up, i.e. after `created` brought the jail side up and read
      // it. FreeBSD: an epair is running with link up from creation on both ends
      // (sys/net/if_epair.c epair_clone_create -> epair_set_state; epair_ioctl
      // SIOCSIFFLAGS changes nothing), so no such event follows `created` there.
      if (auto jail = jailOfHostSide(e.name); !jail.empty()) refresher_->refreshJail(jail);
      break;
    case InterfaceEvent::Type::Arrived: break;
    case InterfaceEvent::Type::AddressRemoved:
      reconcileSoon("a managed interface lost an address", kReconcileDebounce);
      return;
    case InterfaceEvent::Type::AddressAdded:
    case InterfaceEvent::Type::ResyncNeeded: return;
  }
  // Arrived, renamed, carrier changed: the view follows the kernel — from the event's own
  // message when it holds the link (Linux rtnetlink), else by asking, once per new name for
  // the arrivals (a veth's uevent comes with an RTM_NEWLINK that says everything). Every
  // query takes the RTNL lock, which the hook running meanwhile waits for.
  if (e.link) {
    view_[e.name] = *e.link;
    return;
  }
  if (e.type == InterfaceEvent::Type::Arrived && view_.count(e.name)) return;
  auto l = host_->currentLink(e.name);
  if (l && *l) view_[e.name] = **l;
  else if (l) view_.erase(e.name);
}

void Daemon::watchNatEgresses(const Config& config) {
  nat_egresses_.clear();
  for (const auto& [key, br] : config.bridges)
    if (wantedNat(br)) nat_egresses_.insert(br.nat);
}

std::string Daemon::jailOfHostSide(const std::string& host_side) const {
  auto state = store_.snapshot();  // cached: re-read only when the file changed
  if (!state) return "";
  for (const auto& [name, rec] : (*state)->jails)
    for (const auto& ir : rec.interfaces)
      if (ir.host_name == host_side) return name;
  return "";
}

void Daemon::reconcileSoon(const char* why, std::chrono::milliseconds delay) {
  if (soon_timer_) return;  // one pass is already due; it will see this change too
  soon_reason_ = why;
  auto timer = dispatcher_.onTimer(delay, false, [this] {
    // The Event must not be destroyed inside its own callback: hand it to the loop.
    dispatcher_.post([ev = std::shared_ptr<Event>(std::move(soon_timer_))] {});
    mutator_->reconcile(soon_reason_);
  });
  if (timer) soon_timer_ = std::move(*timer);
}

// ----------------------------------------------------------------------------- requests

void Daemon::handle(const control::Request& request, const PeerCredentials& peer, ControlServer::Reply reply) {
  counters_.add(std::string("requests_") + control::opName(request.op));
  if (auto refused = refusal(request.op, peer)) {
    reply(control::encodeError(*refused));
    return;
  }
  switch (request.op) {
    case control::Op::Ping: {
      Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"version", build::kVersion},
                  {"pid", static_cast<int64_t>(::getpid())}};
      reply(dump(doc));
      return;
    }
    case control::Op::Status: status(request.jail, std::move(reply)); return;
    case control::Op::Hook:
      // setManaged runs before a hook (and only when the names change): the capture
      // learns the jail's MAC (or its departure) once the hook has saved the state, in
      // the same loop callback that answers the hook — after the answer, which does not
      // wait for it (at 200 jails following the state took 0.15 ms of each prestart's
      // reply). Nothing is attributed differently: the capture thread takes the new table
      // before its next batch either way, and a jail's MACs are recorded at prestart,
      // before the jail (and any frame of it) exists. A hook whose client gave up before
      // its turn is skipped (Reply::abandoned()).
      {
        Mutator::HookClient client{peer.pid, [r = reply] { return r.abandoned(); }};
        mutator_->hook(request, std::move(client), [this, reply = std::move(reply)](std::string line) {
          reply(std::move(line));
          captureFollowState();
        });
      }
      return;
    case control::Op::Reload: {
      auto shared = std::make_shared<ControlServer::Reply>(std::move(reply));
      auto r = reload([shared] { (*shared)(dump({{"v", control::kProtocolVersion}, {"ok", true}})); });
      if (!r) (*shared)(control::encodeError(r.error().message()));
      return;
    }
    case control::Op::Capture: handleCapture(request, std::move(reply)); return;
  }
  reply(control::encodeError("unknown op"));
}

void Daemon::handleCapture(const control::Request& request, ControlServer::Reply reply) {
  auto state = store_.snapshot();
  if (!state) {
    reply(control::encodeError("cannot read the state: " + state.error().message()));
    return;
  }
  if (!captures_) captures_ = std::make_unique<CaptureStreams>(dispatcher_, *capture_);
  captures_->handle(request, **state, std::move(reply));
}

void Daemon::status(const std::string& jail_filter, ControlServer::Reply reply) {
  DaemonFacts d;
  d.pid = static_cast<int64_t>(::getpid());
  d.config_path = reloader_.path();
  d.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
  d.tracked_links = view_.size();
  d.queued_jobs = mutator_->backlog();
  d.control_connections = server_ ? server_->connectionCount() : 0;
  if (http_) {
    const std::string& host = http_->host();
    d.metrics_url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                    std::to_string(http_->port()) + config_->metrics.path;
  }
  d.counters = counters_.snapshot();
  status_->reply(jail_filter, config_, capture_.get(), std::move(d),
                 [reply = std::move(reply)](std::string line) { reply(std::move(line)); });
}

Result<void> Daemon::reload(std::function<void()> then) {
  auto next = reloader_.read(*config_);
  if (!next) {
    counters_.add("reload_errors");
    return next.error();
  }
  bool interval_changed = next->daemon.reconcile_interval_seconds != config_->daemon.reconcile_interval_seconds;
  config_ = std::make_shared<const Config>(std::move(*next));
  log::setLevel(config_->daemon.log_level);
  mutator_->setConfig(config_);
  forwarding_->apply(*config_);  // a bridge that needs forwarding may have been added
  if (advertiser_) advertiser_->apply(*config_);  // issue 19: router_advertisements may have changed
  if (capture_) capture_->apply(*config_);  // bridges added/removed, [capture] changed
  for (const auto& [key, br] : config_->bridges) managed_names_.insert(br.interface);
  watchNatEgresses(*config_);
  if (interval_changed) armReconcileTimer();
  counters_.add("reloads");
  // New bridges appear now, not at the next timer; say "reloaded" once they have.
  mutator_->reconcile("reload", [then = std::move(then), source = reloader_.path(),
                                bridges = config_->bridges.size(), jails = config_->jails.size()] {
    VNETD_LOG_INFO("configuration reloaded from %s (%zu bridges, %zu jails)", source.c_str(), bridges, jails);
    if (then) then();
  });
  return success();
}

}  // namespace vnetd::daemon
