#include "daemon/status_service.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/control_protocol.h"
#include "vnetd/build_config.h"

namespace vnetd::daemon {
namespace {

using Json = nlohmann::json;
using platform::LinkInfo;

std::string dump(const Json& doc) { return doc.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json countersJson(const platform::LinkCounters& host_side) {
  // From the jail's point of view: what the jail receives is what its host side sends.
  return {{"rx_bytes", host_side.tx_bytes},     {"rx_packets", host_side.tx_packets},
          {"rx_errors", host_side.tx_errors},   {"rx_dropped", host_side.tx_dropped},
          {"tx_bytes", host_side.rx_bytes},     {"tx_packets", host_side.rx_packets},
          {"tx_errors", host_side.rx_errors},   {"tx_dropped", host_side.rx_dropped}};
}

// The facts about `jail`'s running instance, or null when none are known.
const JailInside* insideOf(const StatusFacts& facts, const std::string& jail) {
  auto r = facts.running.find(jail);
  auto f = facts.inside.find(jail);
  if (r == facts.running.end() || f == facts.inside.end() || !f->second) return nullptr;
  return f->second->jail_id == r->second.id ? f->second.get() : nullptr;
}

}  // namespace

std::string renderStatus(const StatusFacts& facts, const std::string& jail_filter) {
  const State& state = *facts.state;
  const Config& cfg = *facts.config;
  auto link = [&](const std::string& name) -> const LinkInfo* {
    auto it = facts.host_links.find(name);
    return it == facts.host_links.end() ? nullptr : &it->second;
  };

  std::map<std::string, size_t> members;  // bridge interface → jail members in it
  for (const auto& [name, rec] : state.jails)
    for (const auto& ir : rec.interfaces) {
      const LinkInfo* hs = link(ir.host_name);
      const LinkInfo* br = ir.bridge.empty() ? nullptr : link(ir.bridge);
      if (hs && br && hs->master_index == br->index) ++members[ir.bridge];
    }
  Json bridges = Json::array();
  for (const auto& [key, br] : cfg.bridges) {
    Json b = {{"name", key}, {"interface", br.interface}};
    const LinkInfo* l = link(br.interface);
    b["present"] = l != nullptr;
    if (l) {
      b["up"] = l->admin_up;
      b["mtu"] = l->mtu;
      Json addrs = Json::array();
      if (auto a = facts.bridge_addresses.find(br.interface); a != facts.bridge_addresses.end())
        for (const auto& x : a->second) addrs.push_back(x);
      b["addresses"] = addrs;
      b["jail_members"] = members[br.interface];
    }
    bridges.push_back(b);
  }

  Json jails = Json::array();
  for (const auto& [name, rec] : state.jails) {
    if (!jail_filter.empty() && name != jail_filter) continue;
    Json j = {{"name", name}, {"phase", rec.phase}, {"updated_at", rec.updated_at}};
    auto run = facts.running.find(name);
    bool running = run != facts.running.end();
    j["running"] = running;
    if (running) j["jid"] = run->second.id;
    const JailInside* inside = insideOf(facts, name);
    if (inside)
      j["inside_age_seconds"] =
          std::chrono::duration_cast<std::chrono::milliseconds>(facts.now - inside->read_at).count() / 1000.0;
    else
      j["inside_age_seconds"] = nullptr;
    Json ifaces = Json::array();
    const std::optional<JailConfig> jail_cfg = isValidJailName(name) ? cfg.jailFor(name) : std::nullopt;  // issue 19
    for (const auto& ir : rec.interfaces) {
      Json i = {{"index", ir.index},       {"host_name", ir.host_name}, {"jail_name", ir.jail_name},
                {"host_mac", ir.host_mac}, {"jail_mac", ir.jail_mac},   {"bridge", ir.bridge},
                {"addresses", ir.addresses}};
      const LinkInfo* hs = link(ir.host_name);
      Json host = {{"present", hs != nullptr}};
      if (hs) {
        const LinkInfo* br = ir.bridge.empty() ? nullptr : link(ir.bridge);
        host["up"] = hs->admin_up;
        host["running"] = hs->running;
        host["mtu"] = hs->mtu;
        host["in_bridge"] = br != nullptr && hs->master_index == br->index;
        i["counters"] = countersJson(hs->counters);
        if (auto r = facts.rates.find(ir.host_name); r != facts.rates.end())
          i["rates"] = {{"rx_bps", r->second.rx_bps}, {"tx_bps", r->second.tx_bps}, {"rx_pps", r->second.rx_pps},
                        {"tx_pps", r->second.tx_pps}, {"seconds", r->second.seconds}};
      }
      i["host"] = host;
      Json side = {{"present", false}};
      if (inside)
        for (const auto& l : inside->links) {
          if (l.name != ir.jail_name) continue;
          side["present"] = true;
          side["up"] = l.admin_up;
          side["running"] = l.running;
          Json addrs = Json::array();
          for (const auto& a : inside->addresses)
            if (a.link_index == l.index) addrs.push_back(a.cidr.toString());
          side["addresses"] = addrs;
        }
      i["jail"] = side;
      // Issue 19: the interface's port forwards as configured (canonical text).
      if (jail_cfg)
        for (const InterfaceConfig& ic : jail_cfg->interfaces)
          if (ic.index == ir.index && !ic.expose.empty()) {
            Json fw = Json::array();
            for (const ExposeRule& r : ic.expose) fw.push_back(exposeString(r));
            i["expose"] = fw;
          }
      ifaces.push_back(i);
    }
    j["interfaces"] = ifaces;
    if (auto f = facts.flows.find(name); f != facts.flows.end()) {
      j["flows"] = f->second;
      // Sampled capture: flows of which at least one frame was sampled, not all of them.
      if (facts.flows_sample > 1) j["flows_sample"] = facts.flows_sample;
    }
    jails.push_back(j);
  }
  if (!jail_filter.empty() && jails.empty())
    return control::encodeError("no jail '" + jail_filter + "' is recorded by vnetd");

  const DaemonFacts& d = facts.daemon;
  Json daemon = {{"version", build::kVersion},
                 {"pid", d.pid},
                 {"config", d.config_path},
                 {"config_digest", cfg.digest},
                 {"uptime_seconds", d.uptime_seconds},
                 {"state_generation", state.generation},
                 {"tracked_links", d.tracked_links},
                 {"queued_jobs", d.queued_jobs},
                 {"control_connections", d.control_connections},
                 {"metrics_url", d.metrics_url},
                 {"inside_max_age_seconds", std::chrono::seconds(kInsideMaxAge).count()},
                 {"inside_refreshing", facts.inside_refreshing}};
  Json counters = Json::object();
  for (const auto& [k, v] : d.counters) counters[k] = v;
  Json doc = {{"v", control::kProtocolVersion}, {"ok", true}, {"daemon", daemon},
              {"bridges", bridges},               {"jails", jails}, {"counters", counters}};
  return dump(doc);
}

std::vector<platform::JailInfo> staleInside(const StatusFacts& facts, std::chrono::steady_clock::duration max_age) {
  std::vector<platform::JailInfo> out;
  for (const auto& [name, info] : facts.running) {
    if (!info.own_stack) continue;  // nothing of vnetd's can be inside
    const JailInside* inside = insideOf(facts, name);
    if (!inside || facts.now - inside->read_at > max_age) out.push_back(info);
  }
  return out;
}

StatusService::StatusService(Dispatcher& dispatcher, const StateStore& store, platform::NetStack& host,
                             platform::Jails& loop_jails, std::unique_ptr<platform::Jails> jails, JailFacts& inside,
                             JailFactsRefresher& refresher, const RateSampler& rates)
    : dispatcher_(dispatcher),
      store_(store),
      host_(host),
      loop_jails_(loop_jails),
      jails_(std::move(jails)),
      inside_(inside),
      refresher_(refresher),
      rates_(rates) {
  queue_.start("vnetd-status");
}

StatusService::~StatusService() {
  queue_.stop();
  alive_.reset();
}

void StatusService::reply(const std::string& jail_filter, std::shared_ptr<const Config> config,
                          const collectors::CaptureManager* capture, DaemonFacts daemon, Done done) {
  // Lock-free: status never waits behind a hook that holds the state lock.
  auto snapshot = store_.snapshot();
  if (!snapshot) {
    done(control::encodeError("cannot read the state: " + snapshot.error().message()));
    return;
  }
  Job job;
  job.filter = jail_filter;
  job.config = std::move(config);
  job.state = std::move(*snapshot);
  job.done = std::move(done);
  StatusFacts& facts = job.facts;
  const State& state = *job.state;
  const Config& cfg = *job.config;

  // Host side, read now (counters change without events, so not from the event-kept
  // view). Few links: one query each, whatever else the host has (a poll would also read
  // every unrelated interface, and during a storm of them its table keeps disagreeing
  // with the counters and falls back to full dumps). Many: one poll (Linux: the link
  // table kept from the kernel's notifications plus a counters-only dump,
  // platform/linux/link_table.h; FreeBSD: one interface-list dump), because on Linux each
  // single query walks the host's namespace-id table for the veth's peer — N queries at
  // N jails cost N², most of a 500-jail status. On the loop: the link table lives in the
  // loop's handle (the rate sampler polls it too).
  std::set<std::string> wanted;
  for (const auto& [key, br] : cfg.bridges) wanted.insert(br.interface);
  for (const auto& [name, rec] : state.jails)
    for (const auto& ir : rec.interfaces) {
      wanted.insert(ir.host_name);
      if (!ir.bridge.empty()) wanted.insert(ir.bridge);
    }
  if (wanted.size() <= kQueryLinksUpTo) {
    for (const auto& name : wanted)
      if (auto l = host_.link(name); l && *l) facts.host_links.emplace(name, std::move(**l));
  } else if (auto all = host_.pollLinks()) {
    for (auto& l : *all)
      if (wanted.count(l.name)) facts.host_links.emplace(l.name, std::move(l));
  }
  for (const auto& [key, br] : cfg.bridges)
    if (auto l = facts.host_links.find(br.interface); l != facts.host_links.end()) {
      auto& out = facts.bridge_addresses[br.interface];
      if (auto a = host_.addresses(l->second.index))
        for (const auto& x : *a) out.push_back(x.cidr.toString());
    }
  for (const auto& [name, rec] : state.jails) {
    if (!jail_filter.empty() && name != jail_filter) continue;
    for (const auto& ir : rec.interfaces)
      if (auto r = rates_.rates(ir.host_name)) facts.rates.emplace(ir.host_name, *r);
  }
  if (capture) {
    facts.flows = capture->activeFlows();
    facts.flows_sample = capture->sample();
  }
  facts.daemon = std::move(daemon);
  if (state.jails.size() <= kInlineJails) {
    std::string line = finish(job, loop_jails_);
    job.done(std::move(line));
    return;
  }
  auto shared = std::make_shared<Job>(std::move(job));
  auto answer = [this](Done done, std::string line) {
    dispatcher_.post([alive = std::weak_ptr<char>(alive_), done = std::move(done), line = std::move(line)] {
      if (!alive.expired()) done(line);
    });
  };
  JobQueue::Job work;
  work.name = "status";
  work.run = [this, shared, answer] {
    std::string line = finish(*shared, *jails_);  // may throw: `done` stays for `failed`
    answer(std::move(shared->done), std::move(line));
  };
  work.failed = [shared, answer](const std::string& what) {
    if (shared->done) answer(std::move(shared->done), control::encodeError("internal error: " + what));
  };
  queue_.submit(std::move(work));
}

std::string StatusService::finish(Job& job, platform::Jails& jails) {
  StatusFacts& facts = job.facts;
  facts.state = job.state.get();
  facts.config = job.config.get();
  // Whether each jail runs: one stat(2) (Linux) or jail_get(2) (FreeBSD) per recorded
  // jail, no stack opened; what is inside comes from memory.
  std::set<std::string> recorded;
  for (const auto& [name, rec] : job.state->jails) {
    recorded.insert(name);
    if (!job.filter.empty() && name != job.filter) continue;
    if (auto info = jails.find(name); info && *info) facts.running.emplace(name, **info);
  }
  if (job.filter.empty()) inside_.retainOnly(recorded);
  facts.inside = inside_.snapshot();
  facts.now = std::chrono::steady_clock::now();
  if (auto stale = staleInside(facts, kInsideMaxAge); !stale.empty()) refresher_.request(std::move(stale));
  facts.inside_refreshing = refresher_.busy();
  return renderStatus(facts, job.filter);
}

}  // namespace vnetd::daemon
