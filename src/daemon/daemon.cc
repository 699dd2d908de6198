#include "daemon/daemon.h"

#include <grp.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/jail_network.h"
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
// The reconciler waits this long for the state lock; a standalone hook holds it for
// milliseconds, and the loop must not stall behind a stuck one.
constexpr int kStateLockTimeoutMs = 500;

int64_t monotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string dump(const Json& doc) { return doc.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json countersJson(const platform::LinkCounters& host_side) {
  // From the jail's point of view: what the jail receives is what its host side sends.
  return {{"rx_bytes", host_side.tx_bytes},     {"rx_packets", host_side.tx_packets},
          {"rx_errors", host_side.tx_errors},   {"rx_dropped", host_side.tx_dropped},
          {"tx_bytes", host_side.rx_bytes},     {"tx_packets", host_side.rx_packets},
          {"tx_errors", host_side.rx_errors},   {"tx_dropped", host_side.rx_dropped}};
}

}  // namespace

Daemon::Daemon(Dispatcher& dispatcher, std::string config_path, Config config, StateStore store)
    : dispatcher_(dispatcher),
      config_path_(std::move(config_path)),
      config_(std::move(config)),
      store_(std::move(store)),
      started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon() {
  // The socket goes first, so no client is accepted by a half-destroyed daemon.
  server_.reset();
  VNETD_LOG_INFO("stopped; jail networking left in place");
}

Result<std::unique_ptr<Daemon>> Daemon::create(Dispatcher& dispatcher, std::string config_path, Config config) {
  auto store = StateStore::open(config.daemon.state_dir);
  if (!store) return withContext(store.error(), "state directory " + config.daemon.state_dir);
  std::unique_ptr<Daemon> d(new Daemon(dispatcher, std::move(config_path), std::move(config), std::move(*store)));
  VNETD_TRY(d->start());
  return d;
}

Result<void> Daemon::start() {
  host_id_ = config_.daemon.host_id;
  if (host_id_.empty()) {
    auto id = platform::readHostId();
    if (!id) return id.error();
    host_id_ = *id;
  }
  auto host = platform::openHostStack();
  if (!host) return host.error();
  host_ = std::move(*host);
  auto jails = platform::openJails();
  if (!jails) return jails.error();
  jails_ = std::move(*jails);
  policy_ = platform::openPolicy();

  // Events before the first pass: a change that happens during it is then seen afterwards.
  auto events = platform::openHostEvents();
  if (!events) return withContext(events.error(), "interface events");
  events_ = std::move(*events);
  for (int fd : events_->fds()) {
    auto watch = dispatcher_.onReadable(fd, [this] { onEventsReadable(); });
    if (!watch) return watch.error();
    event_watches_.push_back(std::move(*watch));
  }

  // Adopt what standalone hooks did while no daemon ran, before accepting new hooks.
  reconcile("start");

  ControlServerOptions options;
  options.path = config_.daemon.control_socket;
  if (!config_.daemon.control_group.empty()) {
    struct group* g = ::getgrnam(config_.daemon.control_group.c_str());
    if (!g)
      return plainError("control_group '" + config_.daemon.control_group + "' in " + config_.source +
                        " is not a group on this system");
    options.access.group = g->gr_gid;
  }
  auto server = ControlServer::create(dispatcher_, options,
                                      [this](const control::Request& r, const PeerCredentials& p) { return handle(r, p); });
  if (!server) return server.error();
  server_ = std::move(*server);
  armReconcileTimer();
  VNETD_LOG_INFO("started: %zu bridges, %zu jails configured, %zu jails recorded; control socket %s",
                 config_.bridges.size(), config_.jails.size(), state_.jails.size(),
                 config_.daemon.control_socket.c_str());
  return success();
}

void Daemon::armReconcileTimer() {
  auto timer = dispatcher_.onTimer(std::chrono::seconds(config_.daemon.reconcile_interval_seconds), true,
                                   [this] { reconcile("timer"); });
  if (timer) reconcile_timer_ = std::move(*timer);
  else VNETD_LOG_ERROR("cannot arm the reconcile timer: %s", timer.error().message().c_str());
}

// ------------------------------------------------------------------------------ events

void Daemon::onEventsReadable() {
  std::vector<InterfaceEvent> events;
  auto drained = events_->drain(events);
  for (const auto& e : events) handleEvent(e);
  if (!drained) {
    // Whatever broke, the cure is the same as for lost events: look at everything again.
    ++counters_["event_errors"];
    VNETD_LOG_WARN("interface events: %s; re-reading everything", drained.error().message().c_str());
    reconcileSoon("event source error");
  }
}

bool Daemon::isManaged(const std::string& name) const { return managed_names_.count(name) != 0; }

void Daemon::handleEvent(const InterfaceEvent& e) {
  ++counters_[std::string("events_") + e.source];
  if (e.type == InterfaceEvent::Type::ResyncNeeded) {
    ++counters_["resyncs"];
    reconcileSoon("the kernel dropped interface events");
    return;
  }
  bool ours = isManaged(e.name) || (e.type == InterfaceEvent::Type::Renamed && isManaged(e.old_name));
  if (!ours) return;  // the other 500 interfaces of a busy host cost one set lookup each
  ++counters_["events_managed"];
  switch (e.type) {
    case InterfaceEvent::Type::Departed:
      view_.erase(e.name);
      reconcileSoon("a managed interface departed");
      return;
    case InterfaceEvent::Type::Renamed:
      view_.erase(e.old_name);
      reconcileSoon("a managed interface was renamed");
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
    case InterfaceEvent::Type::AddressAdded:
      reconcileSoon("a managed interface's addresses changed");
      return;
    case InterfaceEvent::Type::ResyncNeeded: return;
  }
}

void Daemon::reconcileSoon(const char* why) {
  if (soon_timer_) return;  // one pass is already due; it will see this change too
  soon_reason_ = why;
  auto timer = dispatcher_.onTimer(kReconcileDebounce, false, [this] {
    std::string reason = std::move(soon_reason_);
    // Destroying the timer from inside its own callback is safe: libevent has already
    // made it non-pending, and the Event object outlives the call (moved out first).
    auto self = std::move(soon_timer_);
    reconcile(reason.c_str());
  });
  if (timer) soon_timer_ = std::move(*timer);
}

// --------------------------------------------------------------------------- reconcile

void Daemon::reconcile(const char* why) {
  if (in_reconcile_) return;
  in_reconcile_ = true;
  ++counters_["reconcile_runs"];
  auto began = std::chrono::steady_clock::now();
  // A pass that (re)created a bridge runs once more, so the members follow at once.
  for (int pass = 0; pass < 2; ++pass) {
    bool again = false;
    auto r = reconcilePass(again);
    if (!r) {
      ++counters_["reconcile_errors"];
      VNETD_LOG_WARN("reconcile (%s): %s", why, r.error().message().c_str());
      break;
    }
    if (!again) break;
  }
  last_reconcile_ = std::chrono::steady_clock::now();
  VNETD_LOG_DEBUG("reconcile (%s) took %.1f ms", why,
                  std::chrono::duration_cast<std::chrono::microseconds>(last_reconcile_ - began).count() / 1000.0);
  in_reconcile_ = false;
}

Result<void> Daemon::reconcilePass(bool& again) {
  auto locked = store_.lock(kStateLockTimeoutMs);
  if (!locked) return withContext(locked.error(), "state lock");
  std::optional<StateLock> lock(std::move(*locked));
  auto state = store_.load(*lock);
  // An unreadable state means "do nothing": never destroy on a state we could not read.
  if (!state) return state.error();
  state_ = std::move(*state);

  auto links = host_->links();
  if (!links) return withContext(links.error(), "listing interfaces");
  auto addresses = host_->addresses();
  if (!addresses) return withContext(addresses.error(), "listing addresses");
  auto running = jails_->list();
  if (!running) return withContext(running.error(), "listing jails");
  std::set<std::string> running_names;
  for (const auto& j : *running)
    if (j.own_stack) running_names.insert(j.name);

  ReconcileInput in;
  in.config = &config_;
  in.state = &state_;
  in.host_links = &*links;
  in.host_addresses = &*addresses;
  in.running_jails = &running_names;
  in.known_jails = &known_jails_;
  in.host_id = host_id_;
  in.now_ms = monotonicMs();
  in.orphan_grace_ms = int64_t{config_.daemon.orphan_grace_seconds} * 1000;
  auto plan = planReconcile(in, orphan_clock_);

  JailNetwork network(config_, store_, *host_, *jails_, *policy_, host_id_);
  std::vector<ReconcileAction> orphans;
  for (const auto& a : plan) {
    const char* kind = actionKindName(a.kind);
    Result<void> done = success();
    switch (a.kind) {
      case ReconcileAction::Kind::Adopt:
        known_jails_.insert(a.jail);
        VNETD_LOG_INFO("adopted %s", a.reason.c_str());
        break;
      case ReconcileAction::Kind::EnsureBridge:
        done = network.ensureBridgeReady(config_.bridges.at(a.bridge));
        if (done) VNETD_LOG_WARN("repaired: %s; fixed", a.reason.c_str());
        again = again || done.ok();
        break;
      case ReconcileAction::Kind::ReaddMember:
        done = host_->addBridgeMember(a.bridge, a.interface, a.private_member);
        if (done) VNETD_LOG_WARN("repaired: %s; added it back", a.reason.c_str());
        break;
      case ReconcileAction::Kind::CollectOrphan:
        orphans.push_back(a);  // needs the lock itself: after this loop
        continue;
      case ReconcileAction::Kind::DestroyLeftover: {
        // Planned under this same lock, so no prestart can be creating it right now.
        auto l = host_->link(a.interface);
        if (!l) done = l.error();
        else if (*l && network.isInterruptedPrestartLeftover(**l, a.jail, a.index)) done = host_->destroyLink(a.interface);
        else continue;  // gone, or no longer carrying vnetd's marks
        if (done) VNETD_LOG_WARN("orphan: %s; destroyed it", a.reason.c_str());
        break;
      }
      case ReconcileAction::Kind::ReportForeign:
        if (!reported_foreign_.insert(a.interface).second) continue;
        VNETD_LOG_WARN("%s", a.reason.c_str());
        break;
    }
    if (done) ++counters_[kind];
    else {
      ++counters_["reconcile_errors"];
      VNETD_LOG_ERROR("%s: %s: %s", kind, a.reason.c_str(), done.error().message().c_str());
    }
  }
  lock.reset();  // collectOrphan takes the lock itself

  for (const auto& a : orphans) {
    auto it = state_.jails.find(a.jail);
    if (it == state_.jails.end()) continue;
    auto out = network.collectOrphan(a.jail, it->second);
    if (!out) {
      ++counters_["reconcile_errors"];
      VNETD_LOG_ERROR("collect_orphan %s: %s", a.jail.c_str(), out.error().message().c_str());
      continue;
    }
    if (out->changed) {
      VNETD_LOG_WARN("orphan: %s; collected it", a.reason.c_str());
      ++counters_["collect_orphan"];
      known_jails_.erase(a.jail);
      orphan_clock_.erase("jail:" + a.jail);
      state_.jails.erase(a.jail);
    }
  }

  // The managed set and the view follow the state and the dump just taken.
  managed_names_.clear();
  for (const auto& [key, br] : config_.bridges) managed_names_.insert(br.interface);
  for (const auto& [name, rec] : state_.jails)
    for (const auto& ir : rec.interfaces) managed_names_.insert(ir.host_name);
  for (auto it = known_jails_.begin(); it != known_jails_.end();)
    it = state_.jails.count(*it) ? std::next(it) : known_jails_.erase(it);
  view_.clear();
  for (const auto& l : *links)
    if (isManaged(l.name)) view_[l.name] = l;
  return success();
}

// ----------------------------------------------------------------------------- requests

std::string Daemon::handle(const control::Request& request, const PeerCredentials& peer) {
  ++counters_[std::string("requests_") + control::opName(request.op)];
  switch (request.op) {
    case control::Op::Ping: {
      Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"version", build::kVersion},
                  {"pid", static_cast<int64_t>(::getpid())}};
      return dump(doc);
    }
    case control::Op::Status: return statusReply(request.jail);
    case control::Op::Hook:
    case control::Op::Reload:
      // The control group is for operators watching (status); changing the network, or
      // what the daemon believes, stays with root.
      if (peer.uid != 0)
        return control::encodeError(std::string("permission denied: op ") + control::opName(request.op) +
                                    " needs root (uid " + std::to_string(peer.uid) + ")");
      return request.op == control::Op::Hook ? hookReply(request) : reloadReply();
  }
  return control::encodeError("unknown op");
}

std::string Daemon::hookReply(const control::Request& request) {
  const HookPhase phase = *request.phase;
  const std::string& jail = request.jail;
  JailNetwork network(config_, store_, *host_, *jails_, *policy_, host_id_);
  auto began = std::chrono::steady_clock::now();
  auto out = network.run(phase, jail);
  auto took_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
  if (!out) {
    ++counters_["hook_errors"];
    VNETD_LOG_WARN("%s %s: %s", hookPhaseName(phase), jail.c_str(), out.error().message().c_str());
    return control::encodeError(out.error().message());
  }
  if (out->changed)
    VNETD_LOG_INFO("%s %s: done in %.1f ms", hookPhaseName(phase), jail.c_str(), took_us.count() / 1000.0);
  // The daemon made (or removed) these itself: track them without an "adopt".
  orphan_clock_.erase("jail:" + jail);
  if (phase == HookPhase::Poststop) {
    known_jails_.erase(jail);
    if (auto cfg = config_.jailFor(jail))
      for (const auto& ic : cfg->interfaces) {
        managed_names_.erase(ic.host_side_name);
        view_.erase(ic.host_side_name);
      }
  } else {
    known_jails_.insert(jail);
    if (auto cfg = config_.jailFor(jail))
      for (const auto& ic : cfg->interfaces) managed_names_.insert(ic.host_side_name);
  }
  return control::encodeHookReply(*out);
}

Result<State> Daemon::loadState() {
  auto lock = store_.lock(kStateLockTimeoutMs);
  if (!lock) return lock.error();
  return store_.load(*lock);
}

std::string Daemon::statusReply(const std::string& jail_filter) {
  auto state = loadState();
  bool stale = !state;
  if (state) state_ = *state;
  auto links = host_->links();
  if (!links) return control::encodeError("cannot list interfaces: " + links.error().message());
  std::map<std::string, const LinkInfo*> by_name;
  std::map<uint32_t, const LinkInfo*> by_index;
  for (const auto& l : *links) {
    by_name[l.name] = &l;
    by_index[l.index] = &l;
  }
  auto addresses = host_->addresses();

  Json bridges = Json::array();
  for (const auto& [key, br] : config_.bridges) {
    Json b = {{"name", key}, {"interface", br.interface}};
    auto it = by_name.find(br.interface);
    b["present"] = it != by_name.end();
    if (it != by_name.end()) {
      const LinkInfo& l = *it->second;
      b["up"] = l.admin_up;
      b["mtu"] = l.mtu;
      Json addrs = Json::array();
      if (addresses)
        for (const auto& a : *addresses)
          if (a.link_index == l.index) addrs.push_back(a.cidr.toString());
      b["addresses"] = addrs;
      size_t members = 0;
      for (const auto& m : *links) members += m.master_index == l.index;
      b["members"] = members;
    }
    bridges.push_back(b);
  }

  Json jails = Json::array();
  for (const auto& [name, rec] : state_.jails) {
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
      auto h = by_name.find(ir.host_name);
      Json host = {{"present", h != by_name.end()}};
      if (h != by_name.end()) {
        const LinkInfo& l = *h->second;
        auto master = by_index.find(l.master_index);
        host["up"] = l.admin_up;
        host["running"] = l.running;
        host["mtu"] = l.mtu;
        host["in_bridge"] = master != by_index.end() && master->second->name == ir.bridge;
        i["counters"] = countersJson(l.counters);
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
    jails.push_back(j);
  }
  if (!jail_filter.empty() && jails.empty())
    return control::encodeError("no jail '" + jail_filter + "' is recorded by vnetd");

  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  Json daemon = {{"version", build::kVersion},
                 {"pid", static_cast<int64_t>(::getpid())},
                 {"config", config_path_},
                 {"uptime_seconds", uptime.count()},
                 {"state_generation", state_.generation},
                 {"state_stale", stale},
                 {"control_connections", server_ ? server_->connectionCount() : 0}};
  Json counters = Json::object();
  for (const auto& [k, v] : counters_) counters[k] = v;
  Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"daemon", daemon},
              {"bridges", bridges},               {"jails", jails}, {"counters", counters}};
  return dump(doc);
}

std::string Daemon::reloadReply() {
  auto r = reload();
  if (!r) return control::encodeError(r.error().message());
  Json doc = {{"v", control::kProtocolVersion}, {"ok", true}};
  return dump(doc);
}

Result<void> Daemon::reload() {
  ConfigLoadResult loaded = loadConfigFile(config_path_);
  if (!loaded.ok()) {
    ++counters_["reload_errors"];
    for (const auto& e : loaded.errors) VNETD_LOG_ERROR("reload: %s", e.toString().c_str());
    return plainError("configuration not reloaded: " + loaded.errors.front().toString() +
                      (loaded.errors.size() > 1 ? " (and " + std::to_string(loaded.errors.size() - 1) + " more)" : "") +
                      "; the previous configuration stays in effect");
  }
  Config& fresh = *loaded.config;
  // These are bound at start; changing them needs a restart, and saying so beats ignoring it.
  for (const auto& [what, before, after] :
       {std::tuple{"control_socket", config_.daemon.control_socket, fresh.daemon.control_socket},
        std::tuple{"control_group", config_.daemon.control_group, fresh.daemon.control_group},
        std::tuple{"state_dir", config_.daemon.state_dir, fresh.daemon.state_dir},
        std::tuple{"pidfile", config_.daemon.pidfile, fresh.daemon.pidfile}})
    if (before != after)
      VNETD_LOG_WARN("reload: [daemon] %s changed (%s -> %s); takes effect at the next restart", what,
                     before.c_str(), after.c_str());
  fresh.daemon.control_socket = config_.daemon.control_socket;
  fresh.daemon.control_group = config_.daemon.control_group;
  fresh.daemon.state_dir = config_.daemon.state_dir;
  fresh.daemon.pidfile = config_.daemon.pidfile;
  bool interval_changed = fresh.daemon.reconcile_interval_seconds != config_.daemon.reconcile_interval_seconds;
  config_ = std::move(fresh);
  log::setLevel(config_.daemon.log_level);
  if (!config_.daemon.host_id.empty()) host_id_ = config_.daemon.host_id;
  if (interval_changed) armReconcileTimer();
  ++counters_["reloads"];
  reconcile("reload");  // new bridges appear now, not at the next timer
  VNETD_LOG_INFO("configuration reloaded from %s (%zu bridges, %zu jails)", config_path_.c_str(),
                 config_.bridges.size(), config_.jails.size());
  return success();
}

}  // namespace vnetd::daemon
