#include "daemon/daemon.h"

#include <grp.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "collectors/jail_counters.h"
#include "core/log.h"
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

Json countersJson(const platform::LinkCounters& host_side) {
  // From the jail's point of view: what the jail receives is what its host side sends.
  return {{"rx_bytes", host_side.tx_bytes},     {"rx_packets", host_side.tx_packets},
          {"rx_errors", host_side.tx_errors},   {"rx_dropped", host_side.tx_dropped},
          {"tx_bytes", host_side.rx_bytes},     {"tx_packets", host_side.rx_packets},
          {"tx_errors", host_side.rx_errors},   {"tx_dropped", host_side.rx_dropped}};
}

}  // namespace

Daemon::Daemon(Dispatcher& dispatcher, std::string config_path, std::shared_ptr<const Config> config,
               StateStore store)
    : dispatcher_(dispatcher),
      config_path_(std::move(config_path)),
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
  mutator_.reset();
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
  auto host = platform::openHostStack();
  if (!host) return host.error();
  host_ = std::move(*host);
  auto jails = platform::openJails();
  if (!jails) return jails.error();
  jails_ = std::move(*jails);

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

  auto mutator = Mutator::create(
      dispatcher_, config_, host_id, store_, counters_, metrics_,
      [this](std::set<std::string> names) { setManaged(std::move(names)); },
      [this] { reconcileSoon("retrying a failed pass", kReconcileRetry); });
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
  armReconcileTimer();
  sampleRates();
  auto rate_timer = dispatcher_.onTimer(kRateSamplePeriod, true, [this] { sampleRates(); });
  if (!rate_timer) return rate_timer.error();
  rate_timer_ = std::move(*rate_timer);
  VNETD_LOG_INFO("started: %zu bridges, %zu jails configured; control socket %s", cfg.bridges.size(),
                 cfg.jails.size(), cfg.daemon.control_socket.c_str());
  return success();
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
    if (auto state = store_.snapshot()) capture_->setState(**state);
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
      [[fallthrough]];
    case InterfaceEvent::Type::Arrived:
    case InterfaceEvent::Type::LinkUp:
    case InterfaceEvent::Type::LinkDown: {
      auto l = host_->link(e.name);
      if (l && *l) view_[e.name] = **l;
      else if (l) view_.erase(e.name);
      return;
    }
    case InterfaceEvent::Type::AddressRemoved:
      reconcileSoon("a managed interface lost an address", kReconcileDebounce);
      return;
    case InterfaceEvent::Type::AddressAdded:
    case InterfaceEvent::Type::ResyncNeeded: return;
  }
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
  switch (request.op) {
    case control::Op::Ping: {
      Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"version", build::kVersion},
                  {"pid", static_cast<int64_t>(::getpid())}};
      reply(dump(doc));
      return;
    }
    case control::Op::Status: reply(statusReply(request.jail)); return;
    case control::Op::Hook:
    case control::Op::Reload:
      // The control group is for operators watching (status); changing the network, or
      // what the daemon believes, stays with root.
      if (peer.uid != 0) {
        reply(control::encodeError(std::string("permission denied: op ") + control::opName(request.op) +
                                   " needs root (uid " + std::to_string(peer.uid) + ")"));
        return;
      }
      if (request.op == control::Op::Hook) {
        // setManaged runs before a hook (and only when the names change): the capture
        // learns the jail's MAC (or its departure) once the hook has saved the state,
        // before the hook's caller hears back.
        mutator_->hook(request, [this, reply = std::move(reply)](std::string line) {
          captureFollowState();
          reply(std::move(line));
        });
        return;
      }
      {
        auto shared = std::make_shared<ControlServer::Reply>(std::move(reply));
        auto r = reload([shared] { (*shared)(dump({{"v", control::kProtocolVersion}, {"ok", true}})); });
        if (!r) (*shared)(control::encodeError(r.error().message()));
      }
      return;
    case control::Op::Capture: {
      // A capture shows frames of other hosts too (a jail's peers): root only, like
      // tcpdump; the control group may watch status, not traffic.
      if (peer.uid != 0) {
        reply(control::encodeError("permission denied: op capture needs root (uid " + std::to_string(peer.uid) +
                                   ")"));
        return;
      }
      auto state = store_.snapshot();
      if (!state) {
        reply(control::encodeError("cannot read the state: " + state.error().message()));
        return;
      }
      if (!captures_) captures_ = std::make_unique<CaptureStreams>(dispatcher_, *capture_);
      captures_->handle(request, **state, std::move(reply));
      return;
    }
  }
  reply(control::encodeError("unknown op"));
}

std::string Daemon::statusReply(const std::string& jail_filter) {
  // Lock-free: status never waits behind a hook that holds the state lock.
  auto snapshot = store_.snapshot();
  if (!snapshot) return control::encodeError("cannot read the state: " + snapshot.error().message());
  const State* state = snapshot->get();
  const Config& cfg = *config_;

  // One query per interface vnetd manages, not a dump of the whole host: status costs
  // the same on a host with 10 interfaces as on one with 10000.
  std::map<std::string, std::optional<LinkInfo>> links;
  auto lookup = [&](const std::string& name) -> const LinkInfo* {
    auto it = links.find(name);
    if (it == links.end()) {
      auto l = host_->link(name);
      it = links.emplace(name, l ? *l : std::nullopt).first;
    }
    return it->second ? &*it->second : nullptr;
  };

  Json bridges = Json::array();
  std::map<std::string, size_t> members;  // bridge interface → jail members in it
  for (const auto& [name, rec] : state->jails)
    for (const auto& ir : rec.interfaces) {
      const LinkInfo* hs = lookup(ir.host_name);
      const LinkInfo* br = ir.bridge.empty() ? nullptr : lookup(ir.bridge);
      if (hs && br && hs->master_index == br->index) ++members[ir.bridge];
    }
  for (const auto& [key, br] : cfg.bridges) {
    Json b = {{"name", key}, {"interface", br.interface}};
    const LinkInfo* l = lookup(br.interface);
    b["present"] = l != nullptr;
    if (l) {
      b["up"] = l->admin_up;
      b["mtu"] = l->mtu;
      Json addrs = Json::array();
      if (auto a = host_->addresses(l->index))
        for (const auto& x : *a) addrs.push_back(x.cidr.toString());
      b["addresses"] = addrs;
      b["jail_members"] = members[br.interface];
    }
    bridges.push_back(b);
  }

  std::map<std::string, uint64_t> flows;
  if (capture_) flows = capture_->activeFlows();
  Json jails = Json::array();
  for (const auto& [name, rec] : state->jails) {
    if (!jail_filter.empty() && name != jail_filter) continue;
    Json j = {{"name", name}, {"phase", rec.phase}, {"updated_at", rec.updated_at}};
    auto info = jails_->find(name);
    bool running = info && *info;
    j["running"] = running;
    if (running) j["jid"] = (*info)->id;
    // Inside the jail: opened per request and closed right away — a held socket would
    // keep a deleted namespace (and its interfaces) alive.
    std::vector<LinkInfo> inside;
    std::vector<platform::AddressInfo> inside_addrs;
    if (running) {
      if (auto stack = jails_->openStack(**info)) {
        if (auto l = (*stack)->links()) inside = std::move(*l);
        if (auto a = (*stack)->addresses()) inside_addrs = std::move(*a);
      }
    }
    Json ifaces = Json::array();
    for (const auto& ir : rec.interfaces) {
      Json i = {{"index", ir.index},       {"host_name", ir.host_name}, {"jail_name", ir.jail_name},
                {"host_mac", ir.host_mac}, {"jail_mac", ir.jail_mac},   {"bridge", ir.bridge},
                {"addresses", ir.addresses}};
      const LinkInfo* hs = lookup(ir.host_name);
      Json host = {{"present", hs != nullptr}};
      if (hs) {
        const LinkInfo* br = ir.bridge.empty() ? nullptr : lookup(ir.bridge);
        host["up"] = hs->admin_up;
        host["running"] = hs->running;
        host["mtu"] = hs->mtu;
        host["in_bridge"] = br != nullptr && hs->master_index == br->index;
        i["counters"] = countersJson(hs->counters);
        if (auto r = rates_.rates(ir.host_name))
          i["rates"] = {{"rx_bps", r->rx_bps}, {"tx_bps", r->tx_bps}, {"rx_pps", r->rx_pps},
                        {"tx_pps", r->tx_pps}, {"seconds", r->seconds}};
      }
      i["host"] = host;
      Json side = {{"present", false}};
      for (const auto& l : inside) {
        if (l.name != ir.jail_name) continue;
        side["present"] = true;
        side["up"] = l.admin_up;
        side["running"] = l.running;
        Json addrs = Json::array();
        for (const auto& a : inside_addrs)
          if (a.link_index == l.index) addrs.push_back(a.cidr.toString());
        side["addresses"] = addrs;
      }
      i["jail"] = side;
      ifaces.push_back(i);
    }
    j["interfaces"] = ifaces;
    if (auto f = flows.find(name); f != flows.end()) j["flows"] = f->second;
    jails.push_back(j);
  }
  if (!jail_filter.empty() && jails.empty())
    return control::encodeError("no jail '" + jail_filter + "' is recorded by vnetd");

  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  Json daemon = {{"version", build::kVersion},
                 {"pid", static_cast<int64_t>(::getpid())},
                 {"config", config_path_},
                 {"config_digest", cfg.digest},
                 {"uptime_seconds", uptime.count()},
                 {"state_generation", state->generation},
                 {"tracked_links", view_.size()},
                 {"queued_jobs", mutator_->backlog()},
                 {"control_connections", server_ ? server_->connectionCount() : 0},
                 {"metrics_url", http_ ? "http://" + (http_->host().find(':') != std::string::npos
                                                          ? "[" + http_->host() + "]"
                                                          : http_->host()) +
                                             ":" + std::to_string(http_->port()) + cfg.metrics.path
                                       : ""}};
  Json counters = Json::object();
  for (const auto& [k, v] : counters_.snapshot()) counters[k] = v;
  Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"daemon", daemon},
              {"bridges", bridges},               {"jails", jails}, {"counters", counters}};
  return dump(doc);
}

Result<void> Daemon::reload(std::function<void()> then) {
  ConfigLoadResult loaded = loadConfigFile(config_path_);
  if (!loaded.ok()) {
    counters_.add("reload_errors");
    for (const auto& e : loaded.errors) VNETD_LOG_ERROR("reload: %s", e.toString().c_str());
    return plainError("configuration not reloaded: " + loaded.errors.front().toString() +
                      (loaded.errors.size() > 1 ? " (and " + std::to_string(loaded.errors.size() - 1) + " more)" : "") +
                      "; the previous configuration stays in effect");
  }
  Config& fresh = *loaded.config;
  const Config& old = *config_;
  // These are bound at start; changing them needs a restart, and saying so beats ignoring it.
  for (const auto& [what, before, after] :
       {std::tuple{"control_socket", old.daemon.control_socket, fresh.daemon.control_socket},
        std::tuple{"control_group", old.daemon.control_group, fresh.daemon.control_group},
        std::tuple{"state_dir", old.daemon.state_dir, fresh.daemon.state_dir},
        std::tuple{"pidfile", old.daemon.pidfile, fresh.daemon.pidfile},
        std::tuple{"host_id", old.daemon.host_id, fresh.daemon.host_id}})
    if (before != after)
      VNETD_LOG_WARN("reload: [daemon] %s changed (%s -> %s); takes effect at the next restart", what,
                     before.c_str(), after.c_str());
  fresh.daemon.control_socket = old.daemon.control_socket;
  fresh.daemon.control_group = old.daemon.control_group;
  fresh.daemon.state_dir = old.daemon.state_dir;
  fresh.daemon.pidfile = old.daemon.pidfile;
  fresh.daemon.host_id = old.daemon.host_id;
  bool interval_changed = fresh.daemon.reconcile_interval_seconds != old.daemon.reconcile_interval_seconds;
  config_ = std::make_shared<const Config>(std::move(fresh));
  log::setLevel(config_->daemon.log_level);
  mutator_->setConfig(config_);
  if (capture_) capture_->apply(*config_);  // bridges added/removed, [capture] changed
  for (const auto& [key, br] : config_->bridges) managed_names_.insert(br.interface);
  if (interval_changed) armReconcileTimer();
  counters_.add("reloads");
  // New bridges appear now, not at the next timer; say "reloaded" once they have.
  mutator_->reconcile("reload", [then = std::move(then), source = config_path_,
                                bridges = config_->bridges.size(), jails = config_->jails.size()] {
    VNETD_LOG_INFO("configuration reloaded from %s (%zu bridges, %zu jails)", source.c_str(), bridges, jails);
    if (then) then();
  });
  return success();
}

}  // namespace vnetd::daemon
