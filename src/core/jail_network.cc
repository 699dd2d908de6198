#include "core/jail_network.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <functional>
#include <set>

#include "core/expose_targets.h"  // issue 19
#include "core/log.h"
#include "core/state_rebuild.h"

namespace vnetd {

// Reverse-order undo log for prestart's all-or-nothing effect.
class UndoLog {
 public:
  UndoLog() = default;
  UndoLog(const UndoLog&) = delete;
  UndoLog& operator=(const UndoLog&) = delete;
  ~UndoLog() {
    if (committed_) return;
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void push(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void commit() { committed_ = true; }

 private:
  std::vector<std::function<void()>> steps_;
  bool committed_ = false;
};

namespace {

using platform::LinkInfo;
using platform::LinkKind;

std::string description(const std::string& jail, unsigned index) { return pairDescription(jail, index); }

// address6 = "slaac" on the configured interface `index` (issue 19): the in-jail part
// turns IPv6 and its autoconfiguration on (configureInside).
bool wantsSlaac(const JailConfig& cfg, unsigned index) {
  for (const InterfaceConfig& ic : cfg.interfaces)
    if (ic.index == index) return ic.address6_slaac;
  return false;
}

const InterfaceRecord* findRecord(const JailRecord& rec, unsigned index) {
  for (const auto& r : rec.interfaces)
    if (r.index == index) return &r;
  return nullptr;
}

const LinkInfo* findLink(const std::vector<LinkInfo>& links, const std::string& name) {
  for (const auto& l : links)
    if (l.name == name) return &l;
  return nullptr;
}


// The jail side of `ir` inside a jail: under its recorded name, its generated name, or —
// renamed in there by someone else (the jail's rc: ifconfig_<if>_name) — by MAC alone.
const LinkInfo* findJailSide(const std::vector<LinkInfo>& inside, const InterfaceRecord& ir,
                             const std::string& generated) {
  for (const std::string* name : {&ir.jail_name, &generated}) {
    const LinkInfo* l = findLink(inside, *name);
    if (l && l->mac.toString() == ir.jail_mac) return l;
  }
  for (const auto& l : inside)
    if (l.mac.toString() == ir.jail_mac) return &l;
  return nullptr;
}

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

Result<void> refuseUnreadableState(const Error& e) {
  return Error{e.code, e.context + "; refusing to change anything"};
}

}  // namespace

std::string pairDescription(const std::string& jail, unsigned index) {
  return "vnetd:" + jail + ":" + std::to_string(index);
}

bool parsePairDescription(const std::string& text, std::string& jail, unsigned& index) {
  constexpr std::string_view kPrefix = "vnetd:";
  if (text.rfind(kPrefix, 0) != 0) return false;
  auto colon = text.rfind(':');
  if (colon <= kPrefix.size()) return false;
  jail = text.substr(kPrefix.size(), colon - kPrefix.size());
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || end != last || first == last) return false;
  return isValidJailName(jail) && index < kMaxInterfacesPerJail;
}

bool isKernelPairName(std::string_view name) {
  // sys/net/if_epair.c epair_clone_create: "epair<unit>" + 'a' / 'b'.
  constexpr std::string_view kPrefix = "epair";
  if (name.size() < kPrefix.size() + 2 || name.substr(0, kPrefix.size()) != kPrefix) return false;
  char side = name.back();
  if (side != 'a' && side != 'b') return false;
  std::string_view unit = name.substr(kPrefix.size(), name.size() - kPrefix.size() - 1);
  return std::all_of(unit.begin(), unit.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isPairCreationLeftover(const platform::LinkInfo& link, const std::string& jail, unsigned index,
                            const JailRecord& rec) {
  const InterfaceRecord* ir = findRecord(rec, index);
  if (!ir || link.description != description(jail, index)) return false;
  // Only the names the kernel gives a pair before vnetd renames it: an interface of the
  // record that an administrator renamed (ifconfig e0a_web name webhost) keeps its marks
  // but is the live pair, never a leftover.
  if (!isKernelPairName(link.name)) return false;
  const std::string mac = link.mac.toString();
  return mac == ir->host_mac || mac == ir->jail_mac;
}

std::optional<Cidr> allocateAddress(const Cidr& subnet, const std::vector<IpAddress>& taken) {
  if (subnet.address.family != IpFamily::V4 || subnet.prefix > 30) return std::nullopt;
  uint32_t net = subnet.network().v4HostOrder();
  uint32_t size = subnet.prefix == 0 ? 0xffffffffu : (1u << (32 - subnet.prefix)) - 1;
  std::set<uint32_t> used;
  used.insert(subnet.address.v4HostOrder());
  for (const auto& t : taken)
    if (t.family == IpFamily::V4) used.insert(t.v4HostOrder());
  for (uint32_t host = 1; host < size; ++host) {
    uint32_t candidate = net + host;
    if (!used.count(candidate)) return Cidr{IpAddress::v4(candidate), subnet.prefix};
  }
  return std::nullopt;
}

Result<HookOutcome> JailNetwork::run(HookPhase phase, const std::string& jail) {
  switch (phase) {
    case HookPhase::Prestart: return prestart(jail);
    case HookPhase::Created: return created(jail);
    case HookPhase::Poststart: return poststart(jail);
    case HookPhase::Prestop: return prestop(jail);
    case HookPhase::Poststop: return poststop(jail);
  }
  return plainError("unknown hook phase");
}

// ---------------------------------------------------------------------------- prestart

Result<HookOutcome> JailNetwork::prestart(const std::string& jail) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError(p);
  auto cfg = config_.jailFor(jail);
  if (!cfg)
    return plainError("jail '" + jail + "' is not configured in " + config_.source +
                      " and there is no [jail_defaults] (add a [jail." + jail + "] table)");

  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();

  auto jail_now = jails_.find(jail);
  if (!jail_now) return jail_now.error();
  const bool running = *jail_now && (*jail_now)->own_stack;
  // When the jail (Linux: its namespace) already exists, the jail side is created directly
  // inside it: one kernel operation instead of create + move.
  const platform::JailInfo* place_in = running ? &**jail_now : nullptr;

  std::optional<JailRecord> previous;
  if (auto it = state->jails.find(jail); it != state->jails.end()) previous = it->second;
  JailRecord rec = previous ? *previous : JailRecord{};
  rec.name = jail;

  UndoLog undo;
  HookOutcome out;

  // A record of a jail that got as far as `created` while the jail is gone now belongs to
  // an earlier start that jail(8) unwound (exec.start or exec.poststart failed: no
  // exec.poststop runs, usr.sbin/jail/command.c next_command) or to a host that lost the
  // jail without a stop. Its pairs are stale — the jail side may still sit in the dying
  // jail — so they are made anew; the record's identity (MACs, addresses) is kept.
  // jail(8) never runs exec.prestart for a running jail ("already exists", jail.c main).
  if (previous && previous->phase == "created" && !running) {
    VNETD_LOG_WARN("prestart %s: the jail's previous start or stop did not finish (no poststop ran); "
                   "making its interfaces anew", jail.c_str());
    auto gone = destroyPairs(jail, *previous);
    if (!gone) return gone.error();
  }

  // First decide everything (names, MACs, addresses) without touching the kernel.
  struct Todo {
    InterfaceRecord ir;
    const BridgeConfig* br = nullptr;
    bool leftover = false;  // an unrecorded pair under the host-side name (pre-intent versions)
    std::string jail_side;
  };
  std::vector<Todo> todo;
  struct Finish {
    InterfaceRecord ir;
    const BridgeConfig* br = nullptr;
  };
  std::vector<Finish> finish;  // recorded pairs that exist: checked to be complete
  bool interrupted = false;    // a recorded interface the kernel does not have
  KernelAddresses seen;
  bool allocates = false;
  for (const InterfaceConfig& ic : cfg->interfaces)
    allocates = allocates || (ic.address_auto && !findRecord(rec, ic.index));
  if (allocates) VNETD_TRY(readKernelAddresses(*lock, *state, jail, seen));
  for (const InterfaceConfig& ic : cfg->interfaces) {
    const BridgeConfig& br = config_.bridges.at(ic.bridge);
    const InterfaceRecord* recorded = findRecord(rec, ic.index);
    std::string generated_jail_side = interfaceName(jail, ic.index, Side::B);

    // Names must not be claimed by another jail's record.
    for (const auto& [other, other_rec] : state->jails) {
      if (other == jail) continue;
      for (const auto& r : other_rec.interfaces)
        if (r.host_name == ic.host_side_name || r.host_name == generated_jail_side)
          return plainError("interface name " + r.host_name + " of jail '" + jail +
                            "' is already used by jail '" + other + "'");
    }

    auto existing = host_.currentLink(ic.host_side_name);
    if (!existing) return existing.error();
    if (*existing && recorded && (*existing)->mac.toString() == recorded->host_mac && !running) {
      // Before the jail exists its side must be on the host under its generated name. If
      // not, the creation stopped between the two renames (FreeBSD: e0a_X renamed,
      // epairNb not yet): start the pair over (either side destroys both).
      auto jail_side = host_.currentLink(generated_jail_side);
      if (!jail_side) return jail_side.error();
      if (!*jail_side || (*jail_side)->mac.toString() != recorded->jail_mac) {
        VNETD_LOG_WARN("prestart %s: %s has no jail side %s (an interrupted creation); making the pair anew",
                       jail.c_str(), ic.host_side_name.c_str(), generated_jail_side.c_str());
        auto gone = host_.destroyLink(ic.host_side_name);
        if (!gone && gone.error().code != ENODEV) return gone.error();
        existing = host_.currentLink(ic.host_side_name);
        if (!existing) return existing.error();
      }
    }
    if (*existing && recorded && (*existing)->mac.toString() == recorded->host_mac) {
      // Made already — or half made: the record is written before the pair, so a prestart
      // killed inside createPair leaves a recorded pair that may still be down, outside
      // its bridge or undescribed. Finishing it is idempotent and cheap.
      finish.push_back({*recorded, &br});
      out.jail_side_names.push_back(recorded->jail_name);  // what the jail will see
      continue;
    }
    bool leftover = false;
    if (*existing && !recorded && isInterruptedPrestartLeftover(**existing, jail, ic.index)) {
      leftover = true;
    } else if (*existing) {
      return plainError("interface " + ic.host_side_name + " already exists but vnetd did not create it for jail '" +
                        jail + "' (destroy it, or rename the jail)");
    }
    if (recorded) interrupted = true;

    // Identity: what the store remembers wins over what would be derived today, so an
    // upgrade or a host-id change never changes a jail's MACs or addresses.
    InterfaceRecord ir;
    ir.index = ic.index;
    ir.host_name = ic.host_side_name;
    ir.jail_name = ic.jail_side_name;
    ir.bridge = br.interface;
    ir.created_by_vnetd = true;
    ir.host_mac = recorded ? recorded->host_mac : deriveMac(host_id_, jail, ic.index, Side::A).toString();
    ir.jail_mac = recorded ? recorded->jail_mac
                           : (ic.mac ? ic.mac->toString() : deriveMac(host_id_, jail, ic.index, Side::B).toString());
    if (recorded) {
      ir.addresses = recorded->addresses;
    } else {
      if (ic.address) ir.addresses.push_back(ic.address->toString());
      if (ic.address_auto) {
        auto a = allocateFor(*state, rec, jail, br, *MacAddress::parse(ir.jail_mac), seen);
        if (!a) return a.error();
        ir.addresses.push_back(a->toString());
      }
      if (ic.address6) ir.addresses.push_back(ic.address6->toString());
    }
    std::erase_if(rec.interfaces, [&](const InterfaceRecord& r) { return r.index == ic.index; });
    rec.interfaces.push_back(ir);
    todo.push_back(Todo{ir, &br, leftover, generated_jail_side});
    // The name the jail will see: `created` renames the generated one to a configured
    // `name`, so jail.conf lines that use the output refer to the interface that exists.
    out.jail_side_names.push_back(ir.jail_name);
  }
  // Pairs that exist: what createPair does after creating them, again (each step
  // idempotent): description, bridge membership (private flag), host side up.
  // Each bridge made ready once per prestart; what it is then (index, MTU) serves every
  // pair on it, without asking the kernel again.
  std::map<std::string, LinkInfo> bridges_ready;
  auto bridgeReady = [&](const BridgeConfig& br, UndoLog& undo_log) -> Result<const LinkInfo*> {
    auto it = bridges_ready.find(br.interface);
    if (it == bridges_ready.end()) {
      auto ready = ensureBridge(br, undo_log);
      if (!ready) return ready.error();
      it = bridges_ready.emplace(br.interface, std::move(*ready)).first;
    }
    return &it->second;
  };
  auto finishPairs = [&](UndoLog& undo_log) -> Result<void> {
    for (const Finish& f : finish) {
      VNETD_TRY(bridgeReady(*f.br, undo_log));
      VNETD_TRY(host_.setDescription(f.ir.host_name, description(jail, f.ir.index)));
      VNETD_TRY(host_.addBridgeMember(f.br->interface, f.ir.host_name, f.br->private_members));
      VNETD_TRY(host_.setUp(f.ir.host_name, true));
    }
    return success();
  };
  if (todo.empty()) {  // every pair is there already
    VNETD_TRY(finishPairs(undo));
    // A new start (the jail is not running): its limits too, in case the prestart that
    // made the pairs was killed before it got to them. Applying is idempotent; recorded
    // first (as below), so poststop removes what may be in the kernel.
    if (!running) {
      VNETD_TRY(removeStaleLimits(jail, rec.limits, cfg->limits));
      if (rec.limits != cfg->limits) {
        rec.limits = cfg->limits;
        state->jails[jail] = rec;
        VNETD_TRY(store_.save(*lock, *state));
      }
      if (!cfg->limits.empty()) VNETD_TRY(policy_.applyJailLimits(jail, cfg->limits));
    }
    undo.commit();
    return out;
  }

  // Intent before any kernel change: a crash from here on leaves a record that names
  // every MAC and name the kernel may hold, so the next prestart, poststop or the
  // daemon's reconciler recognises whatever was half made (see destroyCreationLeftovers).
  std::sort(rec.interfaces.begin(), rec.interfaces.end(),
            [](const InterfaceRecord& a, const InterfaceRecord& b) { return a.index < b.index; });
  // Pairs are (re)made: whatever "created" did is gone — unless interfaces are added to a
  // jail that runs (prestart, then created, by hand): then its next `created` is not the
  // first of a start, and a failure there must not tear the running jail down.
  rec.phase = running && previous ? previous->phase : "prestart";
  rec.updated_at = now();
  // The limits this start applies (below) are recorded with the intent, before they reach
  // the kernel: poststop removes exactly what the record names. A running jail keeps the
  // limits it started with. Limits an earlier start recorded that the configuration no
  // longer has are taken away first (removing a rule that is not there is no error).
  if (!running) {
    VNETD_TRY(removeStaleLimits(jail, rec.limits, cfg->limits));
    rec.limits = cfg->limits;
  }
  state->jails[jail] = rec;
  VNETD_TRY(store_.save(*lock, *state));
  // Runs last on failure (the undo log unwinds in reverse): the kernel objects are gone
  // by then, so the record goes back to what it was.
  undo.push([this, &lock, &state, jail, previous] {
    if (previous) state->jails[jail] = *previous;
    else state->jails.erase(jail);
    if (auto restored = store_.save(*lock, *state); !restored)
      VNETD_LOG_WARN("prestart %s: could not restore the state record: %s", jail.c_str(),
                     restored.error().message().c_str());
  });

  if (interrupted) VNETD_TRY(destroyCreationLeftovers(jail, rec));

  for (const Todo& t : todo) {
    const BridgeConfig& br = *t.br;
    auto bridge_link = bridgeReady(br, undo);
    if (!bridge_link) return bridge_link.error();
    if (t.leftover) {
      // A prestart of an older vnetd (no intent record) was killed between creating this
      // pair and recording it. Nobody can rely on an unrecorded pair: start it over.
      VNETD_LOG_WARN("prestart %s: %s was left by an interrupted prestart; creating it again", jail.c_str(),
                     t.ir.host_name.c_str());
      auto gone = host_.destroyLink(t.ir.host_name);
      if (!gone && gone.error().code != ENODEV) return gone.error();
    }

    const InterfaceConfig* ic = nullptr;
    for (const auto& c : cfg->interfaces)
      if (c.index == t.ir.index) ic = &c;
    platform::PairSpec spec;
    spec.host_name = t.ir.host_name;
    spec.jail_name = t.jail_side;
    spec.host_mac = *MacAddress::parse(t.ir.host_mac);
    spec.jail_mac = *MacAddress::parse(t.ir.jail_mac);
    // Members of a bridge share its MTU (FreeBSD forces it; a mismatch drops frames).
    spec.mtu = ic && ic->mtu ? ic->mtu : std::optional<uint32_t>((*bridge_link)->mtu);
    spec.description = description(jail, t.ir.index);
    spec.bridge = br.interface;
    spec.bridge_index = (*bridge_link)->index;
    spec.private_member = br.private_members;
    spec.peer_in_jail = place_in;
    auto created = host_.createPair(spec);
    if (!created) return created.error();
    undo.push([this, name = spec.host_name] { (void)host_.destroyLink(name); });
  }

  VNETD_TRY(finishPairs(undo));

  if (!cfg->limits.empty()) {
    // Registered before applying: a partial application is taken back too.
    undo.push([this, jail, limits = cfg->limits] { (void)policy_.removeJailLimits(jail, limits); });
    auto limited = policy_.applyJailLimits(jail, cfg->limits);
    if (!limited) return limited.error();
  }
  undo.commit();
  out.changed = true;
  return out;
}

Result<void> JailNetwork::destroyCreationLeftovers(const std::string& jail, const JailRecord& rec) {
  // Only after an interruption (a recorded interface is missing), so the full list —
  // expensive on hosts with thousands of interfaces — is not read on every start.
  auto links = host_.links();
  if (!links) return links.error();
  for (const auto& l : *links) {
    std::string owner;
    unsigned index = 0;
    if (!parsePairDescription(l.description, owner, index) || owner != jail) continue;
    if (!isPairCreationLeftover(l, jail, index, rec)) continue;
    // Either side destroys both: the other side of a leftover destroyed a moment ago is gone.
    auto still = host_.currentLink(l.name);
    if (!still) return still.error();
    if (!*still) continue;
    VNETD_LOG_WARN("jail %s: destroying %s, left by an interrupted creation of interface %u", jail.c_str(),
                   l.name.c_str(), index);
    auto gone = host_.destroyLink(l.name);
    if (!gone && gone.error().code != ENODEV) return gone.error();
  }
  return success();
}

Result<void> JailNetwork::removeStaleLimits(const std::string& jail, const std::optional<RctlLimits>& recorded,
                                            const RctlLimits& wanted) {
  // A record of state format 1 (nullopt) does not say what an earlier start applied:
  // nothing to compare with; applying `wanted` replaces the rules of the same resource.
  if (!recorded) return success();
  RctlLimits stale;
  for (const auto& [resource, limit] : *recorded) {
    auto w = wanted.find(resource);
    // Same resource and action: applying `wanted` replaces the rule (policy.h).
    if (w == wanted.end() || w->second.action != limit.action) stale.emplace(resource, limit);
  }
  if (stale.empty()) return success();
  return policy_.removeJailLimits(jail, stale);
}

bool JailNetwork::isInterruptedPrestartLeftover(const platform::LinkInfo& link, const std::string& jail,
                                                unsigned index) const {
  // The MAC derived from this host's id (45 bits of hash over host, jail and index) is
  // set in the very message that creates the pair; the description may follow in a
  // second step (Linux cannot set an alias at creation), so a kill in between leaves it
  // empty. An administrator's interface with the same name has neither mark.
  return (link.description == description(jail, index) || link.description.empty()) &&
         link.mac == deriveMac(host_id_, jail, index, Side::A);
}

Result<void> JailNetwork::ensureBridgeReady(const BridgeConfig& br) {
  UndoLog undo;
  VNETD_TRY(ensureBridge(br, undo));
  undo.commit();
  return success();
}

Result<LinkInfo> JailNetwork::ensureBridge(const BridgeConfig& br, UndoLog& undo) {
  auto link = host_.currentLink(br.interface);
  if (!link) return link.error();
  if (*link) {
    if ((*link)->kind != LinkKind::Bridge)
      return plainError("interface " + br.interface + " exists but is not a bridge (bridge '" + br.name +
                        "' in the config)");
    // An existing bridge is left as the administrator (or an earlier hook) made it, except
    // that jails need it up and with its gateway address to reach anything.
    if (!(*link)->admin_up) {
      VNETD_TRY(host_.setUp(br.interface, true));
      (*link)->admin_up = true;
    }
    VNETD_TRY(ensureBridgeAddresses(br, (*link)->index));
    return std::move(**link);
  }

  for (const std::string& uplink : br.uplinks) {
    std::optional<std::string> vlan_key = uplinkVlanKey(uplink);
    if (!vlan_key) continue;
    const VlanConfig& vlan = config_.vlans.at(*vlan_key);
    auto vl = host_.currentLink(vlan.name);
    if (!vl) return vl.error();
    if (!*vl) {
      VNETD_TRY(host_.createVlan(vlan.name, vlan.parent, vlan.tag));
      undo.push([this, name = vlan.name] { (void)host_.destroyLink(name); });
      VNETD_TRY(host_.setUp(vlan.name, true));
    }
  }
  VNETD_TRY(host_.createBridge(br.interface, br.mtu));
  undo.push([this, name = br.interface] { (void)host_.destroyLink(name); });
  // A Linux bridge without an address of its own takes the lowest MAC of its members and
  // changes it whenever one with a lower MAC joins: every jail's ARP entry for the
  // gateway goes stale and they lose it until it expires. A fixed MAC (derived like the
  // jails', from this host's id; '/' never occurs in a jail name, so no jail shares it)
  // keeps the gateway where the jails learnt it. FreeBSD's if_bridge has a fixed MAC
  // anyway; setting one there is harmless.
  VNETD_TRY(host_.setMac(br.interface, bridgeMac(host_id_, br.interface)));
  VNETD_TRY(host_.setDescription(br.interface, "vnetd:bridge:" + br.name));
  for (const std::string& uplink : br.uplinks) {
    std::optional<std::string> vlan_key = uplinkVlanKey(uplink);
    std::string member = vlan_key ? config_.vlans.at(*vlan_key).name : uplink;
    VNETD_TRY(host_.addBridgeMember(br.interface, member, false));
  }
  auto created = host_.currentLink(br.interface);
  if (!created) return created.error();
  if (!*created) return plainError("bridge " + br.interface + " vanished right after it was created");
  VNETD_TRY(ensureBridgeAddresses(br, (*created)->index));
  VNETD_TRY(host_.setUp(br.interface, true));
  (*created)->admin_up = true;
  // NAT rules belong with the bridge: loaded when vnetd creates it (and re-checked by
  // the daemon's reconciler), not on every jail start.
  // No egress interface yet (a NIC not attached, a typo): the bridge still comes up — jails
  // reach the host and each other — and the NAT waits; the daemon loads it when the
  // interface appears (reconciler.h natEgressesMissing). Our choice, one rule for both
  // platforms: neither kernel forces it (nftables' oifname is a name match; FreeBSD's pfctl
  // accepts `nat on E ... -> (E)` for an absent E — sbin/pfctl/parse.y at 01c44736: rule
  // dynaddr checks no existence, rule if_item calls ifa_exists only to copy flags; older
  // trees compiled dynaddr's "interface does not exist" error out under __FreeBSD__), but a rule for an interface
  // that is not there is reported missing (doctor, vnetd_bridge_nat_active) rather than
  // left looking fine.
  if (natWanted(br)) {
    auto egress = host_.currentLink(br.nat);
    if (!egress) return withContext(egress.error(), "NAT egress interface " + br.nat);
    if (!*egress) {
      VNETD_LOG_WARN("bridge %s: its NAT egress interface %s does not exist; the bridge works without NAT until it "
                     "appears (vnetd loads the NAT then)",
                     br.interface.c_str(), br.nat.c_str());
      return std::move(**created);
    }
    undo.push([this, name = br.interface] { (void)policy_.removeBridgeNat(name); });
    VNETD_TRY(policy_.applyBridgeNat(br.interface, Cidr{br.address->network(), br.address->prefix}, br.nat));
  }
  return std::move(**created);
}

Result<void> JailNetwork::ensureBridgeAddresses(const BridgeConfig& br, uint32_t index) {
  if (!br.address && !br.address6) return success();
  auto addrs = host_.addresses(index);
  if (!addrs) return addrs.error();
  for (const auto& want : {br.address, br.address6}) {
    if (!want) continue;
    bool present = false;
    for (const auto& a : *addrs)
      if (a.link_index == index && a.cidr.address == want->address) present = true;
    if (!present) VNETD_TRY(host_.addAddress(br.interface, *want));
  }
  return success();
}

Result<void> JailNetwork::readKernelAddresses(const StateLock& lock, State& state, const std::string& jail,
                                              KernelAddresses& seen) {
  // No counters wanted: the daemon answers from the link table it keeps (no dump).
  auto links = host_.currentLinks();
  if (!links) return links.error();
  std::set<std::string> bridges;
  for (const auto& [key, br] : config_.bridges) bridges.insert(br.interface);
  // Jails that run with vnetd's pairs on these bridges but have no record (the state was
  // lost, or restored from an old copy). Only those stacks are opened: a jail with a
  // record has its addresses in it, and on FreeBSD each open is a fork. Any other jail on
  // the bridge shows in its neighbour table (allocateFor).
  std::set<std::string> unrecorded = rebuildCandidates(state, *links, bridges);
  if (unrecorded.empty()) return success();  // the usual case: no jail is opened
  auto running = jails_.list();
  if (!running) return running.error();
  auto views = readJailStacks(jails_, *running, unrecorded);
  std::vector<JailStackView> others;
  for (auto& v : views) {
    // Everything inside counts, also what the rebuild leaves out (an interface without
    // its marks inside): the allocation wants what is in use, not what is provable.
    for (const auto& a : v.addresses) seen.in_jails.push_back(a.cidr.address);
    if (v.jail != jail) others.push_back(std::move(v));
  }
  RebuildInput in;
  in.state = &state;
  in.host_links = &*links;
  in.jails = &others;
  in.bridges = &bridges;
  in.host_id = host_id_;
  in.now = now();
  auto rebuilt = adoptRebuiltRecords(state, rebuildRecords(in));
  if (!rebuilt.empty()) VNETD_TRY(store_.save(lock, state));
  return success();
}

Result<Cidr> JailNetwork::allocateFor(const State& state, const JailRecord& pending, const std::string& jail,
                                      const BridgeConfig& br, const MacAddress& jail_mac, KernelAddresses& seen) {
  std::vector<IpAddress> taken = seen.in_jails;
  // The bridge's own addresses and whatever answered on it (ARP/NDP), read once per bridge.
  if (!seen.on_bridge.count(br.interface)) {
    std::vector<IpAddress>& used = seen.on_bridge[br.interface];
    std::vector<platform::NeighbourInfo>& near = seen.neighbours[br.interface];
    auto bridge = host_.currentLink(br.interface);
    if (!bridge) return bridge.error();
    if (*bridge) {  // a bridge about to be created has neither
      auto own = host_.addresses((*bridge)->index);
      if (!own) return own.error();
      for (const auto& a : *own)
        if (a.link_index == (*bridge)->index) used.push_back(a.cidr.address);
      auto neighbours = host_.neighbours((*bridge)->index);
      if (!neighbours) return neighbours.error();
      for (const auto& n : *neighbours)
        if (n.link_index == (*bridge)->index) near.push_back(n);
    }
  }
  const auto& on_bridge = seen.on_bridge.at(br.interface);
  taken.insert(taken.end(), on_bridge.begin(), on_bridge.end());
  // A neighbour entry with this interface's own MAC is the jail's previous start (the
  // host keeps the entry for minutes after the pair is gone: FreeBSD
  // net.link.ether.inet.max_age, Linux STALE entries below gc_thresh1 indefinitely): that
  // address is this jail's to take again, so a restarted jail keeps its address.
  for (const auto& n : seen.neighbours[br.interface])
    if (!n.mac || *n.mac != jail_mac) taken.push_back(n.address);
  // Addresses this prestart already picked for the jail's earlier interfaces.
  for (const auto& r : pending.interfaces)
    for (const auto& a : r.addresses)
      if (auto c = Cidr::parse(a)) taken.push_back(c->address);
  // Static addresses of every configured jail, and everything already handed out.
  for (const auto& [name, jc] : config_.jails)
    for (const auto& ic : jc.interfaces)
      if (ic.address) taken.push_back(ic.address->address);
  for (const auto& [name, rec] : state.jails)
    for (const auto& r : rec.interfaces)
      for (const auto& a : r.addresses)
        if (auto c = Cidr::parse(a)) taken.push_back(c->address);
  auto a = allocateAddress(*br.address, taken);
  if (!a)
    return plainError("no free address left in " + br.address->toString() + " of bridge '" + br.name +
                      "' for jail '" + jail + "'");
  return *a;
}

// ----------------------------------------------------------------------------- created

Result<HookOutcome> JailNetwork::created(const std::string& jail) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError(p);
  auto cfg = config_.jailFor(jail);
  if (!cfg)
    return plainError("jail '" + jail + "' is not configured in " + config_.source +
                      " and there is no [jail_defaults]");
  auto info = jails_.find(jail);
  if (!info) return info.error();
  if (!*info) return plainError("jail '" + jail + "' is not running");

  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  auto it = state->jails.find(jail);
  if (it == state->jails.end() || it->second.interfaces.empty())
    return plainError("no interfaces were set up for jail '" + jail +
                      "' (run 'vnetd-hook prestart " + jail + "' first, from exec.prestart)");
  // The first `created` after a prestart is jail(8)'s: the jail was just made. If it
  // fails, jail(8) removes the jail again without running exec.poststop (command.c
  // next_command walks the start commands backwards and skips exec.prestart; jail.c has
  // no poststop on that path), so nobody else would take back what prestart made. A
  // later `created` (a repeat by hand, or jail(8) re-running earlier exec.created
  // commands while it unwinds a later failure) never tears a running jail down.
  const bool first = it->second.phase == "prestart";
  auto out = createdLocked(*lock, *state, jail, *cfg, **info);
  if (out || !first) return out;
  Error failed = out.error();
  // teardown() works from the state as it is on disk now.
  auto reloaded = store_.load(*lock);
  if (!reloaded) return Error{failed.code, failed.context + "; and the interfaces prestart made could not be removed: " +
                                               reloaded.error().message()};
  auto removed = teardown(*lock, *reloaded, jail);
  if (!removed)
    return Error{failed.code, failed.context + "; and the interfaces prestart made could not be removed: " +
                                  removed.error().message()};
  return Error{failed.code, failed.context + "; removed the jail's interfaces again (jail(8) runs no exec.poststop "
                                             "after a failed start)"};
}

Result<HookOutcome> JailNetwork::createdLocked(const StateLock& lock, State& state, const std::string& jail,
                                               const JailConfig& cfg, const platform::JailInfo& info) {
  if (!info.own_stack)
    return plainError("jail '" + jail + "' has no own network stack (add 'vnet;' to its jail.conf)");
  JailRecord& rec = state.jails.at(jail);
  HookOutcome out;
  VNETD_TRY(configureInside(cfg, rec, info, /*move_in=*/true, out));
  VNETD_TRY(applyExposes(jail, cfg, rec));  // issue 19
  if (rec.phase != "created" || out.changed) {
    rec.phase = "created";
    rec.updated_at = now();
    auto saved = store_.save(lock, state);
    if (!saved) return saved.error();
    out.changed = true;
  }
  for (const auto& ir : rec.interfaces) out.jail_side_names.push_back(ir.jail_name);
  return out;
}

Result<void> JailNetwork::configureInside(const JailConfig& cfg, JailRecord& rec, const platform::JailInfo& info,
                                          bool move_in, HookOutcome& out) {
  const std::string& jail = rec.name;
  auto js = jails_.openStack(info);
  if (!js) return js.error();
  auto inside = (*js)->links();
  if (!inside) return inside.error();

  platform::NetStack::JailSideSetup setup;
  std::vector<std::string> solicit;  // slaac interfaces: a router solicitation once they are up
  for (InterfaceRecord& ir : rec.interfaces) {
    std::string generated = interfaceName(jail, ir.index, Side::B);
    const LinkInfo* l = findJailSide(*inside, ir, generated);
    std::string current;
    if (l) {
      current = l->name;  // prestart or an earlier created already put it there
    } else if (!move_in) {
      return plainError("jail side " + ir.jail_name + " of jail '" + jail +
                        "' is not inside the jail (was it taken out? 'vnetd-hook created " + jail +
                        "' moves it back)");
    } else {
      auto on_host = host_.currentLink(generated);
      if (!on_host) return on_host.error();
      if (!*on_host || (*on_host)->mac.toString() != ir.jail_mac)
        return plainError("jail side " + generated + " of jail '" + jail +
                          "' is missing (run poststop, then prestart again)");
      VNETD_TRY(host_.moveToJail(generated, info));
      current = generated;
      out.changed = true;
    }
    // created names it; after that (poststart) a name the jail gave it stands: its rc
    // configuration may refer to it.
    std::string name = ir.jail_name;
    if (!move_in && current != ir.jail_name && current != generated) {
      VNETD_LOG_INFO("%s: jail side %s was renamed %s inside the jail; configuring it under that name",
                     jail.c_str(), ir.jail_name.c_str(), current.c_str());
      name = current;
    } else if (current != ir.jail_name) {
      // Renaming needs the interface down on some systems; it arrives down after a move.
      VNETD_TRY((*js)->setUp(current, false));
      VNETD_TRY((*js)->rename(current, ir.jail_name));
      out.changed = true;
    }
    platform::NetStack::JailSideInterface step;
    step.name = name;
    // Found in the stack's list: its index is known (a rename keeps it), so no lookup.
    step.index = l ? l->index : 0;
    for (const auto& a : ir.addresses)
      if (auto c = Cidr::parse(a)) step.addresses.push_back(*c);
    // Described and brought up after its addresses (configureJailSide).
    step.description = description(jail, ir.index);
    // Only where vnetd assigns IPv6: elsewhere IPv6 stays as the jail's rc.conf wants it.
    // Before the addresses: Linux refuses IPv6 addresses while it is off.
    const bool v6 = std::any_of(step.addresses.begin(), step.addresses.end(),
                                [](const Cidr& c) { return c.address.family == IpFamily::V6; });
    const bool slaac = wantsSlaac(cfg, ir.index);
    if (v6 || slaac) VNETD_TRY((*js)->enableIpv6(name));
    // SLAAC (issue 19): before the link comes up (configureJailSide), which is when the
    // kernel forms the link-local address from the MAC (and Linux's solicits routers;
    // FreeBSD's does not: solicitRouters below).
    if (slaac) {
      VNETD_TRY((*js)->enableAutoconf(name));
      solicit.push_back(name);
    }
    setup.interfaces.push_back(std::move(step));
  }
  // One default route per family: the first interface (in config order) with a gateway.
  bool v4_done = false, v6_done = false;
  for (const InterfaceConfig& ic : cfg.interfaces) {
    if (ic.gateway && !v4_done && findRecord(rec, ic.index)) {
      setup.default_routes.push_back(*ic.gateway);
      v4_done = true;
    }
    if (ic.gateway6 && !v6_done && findRecord(rec, ic.index)) {
      setup.default_routes.push_back(*ic.gateway6);
      v6_done = true;
    }
  }
  // Addresses, descriptions, up, loopback, routes: one round trip where the stack batches.
  VNETD_TRY((*js)->configureJailSide(setup));
  // SLAAC (issue 19): ask the segment's routers for an RA now that the links are up and
  // have their link-local addresses, rather than wait for the next periodic one (vnetd's
  // come every 10-30 s, another router's maybe every 10 minutes). Not sending it is no
  // failure of the phase: the jail is configured, and the next periodic RA still does
  // the job; so it is a warning, and the hook succeeds.
  for (const std::string& name : solicit)
    if (auto r = (*js)->solicitRouters(name); !r)
      VNETD_LOG_WARN("%s (jail %s configures itself at the next periodic router advertisement instead)",
                     r.error().message().c_str(), jail.c_str());
  // The stack is open anyway: what it holds now is handed to the daemon's status, which
  // then need not open it again. Unreadable is no failure of the phase.
  if (!report_inside_) return success();
  JailInside seen{info.id, std::chrono::steady_clock::now(), {}, {}};
  auto now_links = (*js)->links();
  auto now_addresses = (*js)->addresses();
  if (now_links && now_addresses) {
    seen.links = std::move(*now_links);
    seen.addresses = std::move(*now_addresses);
    out.inside = std::move(seen);
  }
  return success();
}

// --------------------------------------------------------------------------- poststart

Result<HookOutcome> JailNetwork::poststart(const std::string& jail) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError(p);
  auto cfg = config_.jailFor(jail);
  if (!cfg)
    return plainError("jail '" + jail + "' is not configured in " + config_.source +
                      " and there is no [jail_defaults]");
  auto info = jails_.find(jail);
  if (!info) return info.error();
  if (!*info) return plainError("jail '" + jail + "' is not running");
  if (!(*info)->own_stack)
    return plainError("jail '" + jail + "' has no own network stack (add 'vnet;' to its jail.conf)");

  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  auto it = state->jails.find(jail);
  if (it == state->jails.end() || it->second.interfaces.empty() || it->second.phase != "created")
    return plainError("jail '" + jail + "' was not set up by vnetd-hook created (exec.created must call 'vnetd-hook created " +
                      jail + "' before exec.poststart calls poststart)");
  // The jail's own rc ran between exec.created and now (exec.start): whatever it changed
  // on vnetd's interfaces is put back. No teardown on failure: the jail may have been
  // running for long (a repeat by hand) and vnetd never takes a live jail's network; a
  // start that jail(8) unwinds leaves the pairs to the daemon or to the next prestart.
  HookOutcome out;
  VNETD_TRY(configureInside(*cfg, it->second, **info, /*move_in=*/false, out));
  for (const auto& ir : it->second.interfaces) out.jail_side_names.push_back(ir.jail_name);
  return out;
}

// ----------------------------------------------------------------------------- prestop

Result<HookOutcome> JailNetwork::prestop(const std::string& jail) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError(p);
  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  HookOutcome out;
  auto it = state->jails.find(jail);
  if (it == state->jails.end()) return out;  // not vnetd's, or already cleaned up
  auto info = jails_.find(jail);
  if (!info) return info.error();
  if (!*info || !(*info)->own_stack) return out;  // nothing is inside anything

  auto js = jails_.openStack(**info);
  if (!js) return js.error();
  auto inside = (*js)->links();
  if (!inside) return inside.error();
  for (const InterfaceRecord& ir : it->second.interfaces) {
    if (!ir.created_by_vnetd) continue;
    // By recorded name and MAC: a configured `name`, a hashed name, an interface the
    // administrator renamed back — whichever carries the record's MAC.
    std::string generated = interfaceName(jail, ir.index, Side::B);
    const LinkInfo* l = findJailSide(*inside, ir, generated);
    if (!l) continue;  // not there: nothing to hand back
    // FreeBSD moves it under its name without looking for that name on the host
    // (sys/net/if.c if_vmove_reclaim checks nothing there; only if_vmove_loan does):
    // a second interface of the same name must not be made. poststop destroys this pair
    // from the host side anyway.
    auto clash = host_.currentLink(generated);
    if (!clash) return clash.error();
    if (*clash) {
      VNETD_LOG_WARN("prestop %s: not taking %s back: the host has an interface named %s", jail.c_str(),
                     l->name.c_str(), generated.c_str());
      continue;
    }
    // On the host it takes its generated name, which no other interface there carries
    // (a configured name like "vnet0" may well exist on the host). Renaming wants it down.
    if (l->name != generated) {
      VNETD_TRY((*js)->setUp(l->name, false));
      VNETD_TRY((*js)->rename(l->name, generated));
    }
    // SIOCSIFRVNET looks the name up inside the jail (if_vmove_reclaim): ENODEV/ENXIO
    // there means it went away meanwhile, which is what we wanted.
    auto back = host_.reclaimFromJail(generated, **info);
    if (!back && back.error().code != ENODEV) return back.error();
    out.changed = out.changed || back.ok();
  }
  return out;
}

// ---------------------------------------------------------------------------- poststop

Result<HookOutcome> JailNetwork::poststop(const std::string& jail) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError(p);
  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  if (!state->jails.count(jail)) return HookOutcome{};  // never started (or already cleaned)
  // The same check orphan collection makes, under the same lock: a jail of this name
  // running with its own stack is not the one this poststop is about. jail(8) runs
  // exec.poststop after it removed the jail (usr.sbin/jail/jail.c stopcommands: IP__OP,
  // jail_remove(2), before IP_EXEC_POSTSTOP), and a removed jail is dying or gone:
  // sys/kern/kern_jail.c sys_jail_remove → prison_deref(PD_KILL) → prison_deref_kill sets
  // PRISON_STATE_DYING, and kern_jail_get by name (prison_find_name prefers an alive
  // prison of that name, else returns a dying one) answers ENOENT "jail is dying" unless
  // JAIL_DYING is passed, which Jails::find() never does — so find() sees only a jail
  // started again since. A poststop that comes late (a hook that gave up while the daemon
  // was stopped, run when the jail had been restarted) would destroy the new pair: its
  // MACs are the recorded ones.
  auto running = jails_.find(jail);
  if (!running) return running.error();
  if (*running && (*running)->own_stack)
    return plainError("jail " + jail + " is running (jid " + std::to_string((*running)->id) +
                      "): not destroying its interfaces; nothing changed (a poststop from before it was started "
                      "again? run poststop only after the jail is removed)");
  return teardown(*lock, *state, jail);
}

Result<HookOutcome> JailNetwork::collectOrphan(const std::string& jail, const JailRecord& seen) {
  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  HookOutcome out;
  auto it = state->jails.find(jail);
  // Re-checked under the lock: a hook may have run since the caller looked.
  if (it == state->jails.end() || it->second != seen) return out;
  auto running = jails_.find(jail);
  if (!running) return running.error();
  if (*running) return out;
  return teardown(*lock, *state, jail);
}

Result<HookOutcome> JailNetwork::repairRunning(const std::string& jail, const JailRecord& seen) {
  auto lock = store_.lock();
  if (!lock) return lock.error();
  auto state = store_.load(*lock);
  if (!state) return refuseUnreadableState(state.error()).error();
  HookOutcome out;
  auto it = state->jails.find(jail);
  // Re-checked under the lock: a hook may have run since the daemon planned this.
  if (it == state->jails.end() || it->second != seen || it->second.phase != "created") return out;
  auto info = jails_.find(jail);
  if (!info) return info.error();
  if (!*info || !(*info)->own_stack) return out;  // stopped meanwhile: orphan collection's business
  auto cfg = config_.jailFor(jail);
  if (!cfg)
    return plainError("jail '" + jail + "' is not configured in " + config_.source +
                      " any more; not making its interfaces anew");
  JailRecord rec = it->second;  // configureInside takes it mutable; the record is not saved

  auto js = jails_.openStack(**info);
  if (!js) return js.error();
  auto inside = (*js)->links();
  if (!inside) return inside.error();
  std::vector<platform::PairSpec> todo;
  for (const InterfaceRecord& ir : rec.interfaces) {
    if (!ir.created_by_vnetd) continue;
    auto host_side = host_.currentLink(ir.host_name);
    if (!host_side) return host_side.error();
    if (*host_side) continue;  // there (a MAC changed by hand is not vnetd's to judge here)
    // The jail side still inside means the pair exists with its host side elsewhere
    // (renamed, moved): not destroyed, hands off.
    if (findJailSide(*inside, ir, interfaceName(jail, ir.index, Side::B))) continue;
    const BridgeConfig* br = nullptr;
    for (const auto& [key, b] : config_.bridges)
      if (b.interface == ir.bridge) br = &b;
    if (!br)
      return plainError("bridge " + ir.bridge + " of jail '" + jail + "' is no longer configured; not making " +
                        ir.host_name + " anew");
    auto bridge_link = host_.currentLink(ir.bridge);
    if (!bridge_link) return bridge_link.error();
    if (!*bridge_link)
      return plainError("bridge " + ir.bridge + " is missing; " + ir.host_name + " of jail '" + jail +
                        "' is made anew once it is back");
    const InterfaceConfig* ic = nullptr;
    for (const auto& c : cfg->interfaces)
      if (c.index == ir.index) ic = &c;
    auto host_mac = MacAddress::parse(ir.host_mac);
    auto jail_mac = MacAddress::parse(ir.jail_mac);
    if (!host_mac || !jail_mac) return plainError("jail '" + jail + "': the record's MACs do not parse");
    platform::PairSpec spec;
    spec.host_name = ir.host_name;
    spec.jail_name = interfaceName(jail, ir.index, Side::B);  // configureInside renames it inside
    spec.host_mac = *host_mac;
    spec.jail_mac = *jail_mac;
    spec.mtu = ic && ic->mtu ? ic->mtu : std::optional<uint32_t>((*bridge_link)->mtu);
    spec.description = description(jail, ir.index);
    spec.bridge = ir.bridge;
    spec.private_member = br->private_members;
    // Directly inside the running jail, as prestart does for one: Linux creates the peer in
    // its namespace in the same message; FreeBSD makes the epair on the host and moves the
    // jail side in with SIOCSIFVNET (platform/freebsd/pair_steps.cc). That works for any
    // live vnet jail: sys/net/if.c if_vmove_loan finds it by jid (prison_find_child; ENXIO
    // once it is gone), refuses EEXIST when the name exists inside (a jail side that is
    // still there was skipped above) and EBUSY while the jail's vnet shuts down; on any
    // error createPairInSteps destroys the half-made pair from the host side.
    spec.peer_in_jail = &**info;
    todo.push_back(std::move(spec));
  }
  if (todo.empty()) return out;
  // A creation interrupted before its renames (FreeBSD epairNa/b with the record's marks)
  // holds the record's MACs: gone first, as prestart does.
  VNETD_TRY(destroyCreationLeftovers(jail, rec));
  // All or nothing: a pair made but not configured inside would hide the loss from the
  // next pass (its host side exists), so a failure takes the new pairs away again.
  UndoLog undo;
  for (const platform::PairSpec& spec : todo) {
    VNETD_TRY(host_.createPair(spec));
    undo.push([this, name = spec.host_name] { (void)host_.destroyLink(name); });
  }
  // As `created`: the new jail side gets its recorded name, addresses, IPv6, up, routes.
  VNETD_TRY(configureInside(*cfg, rec, **info, /*move_in=*/true, out));
  undo.commit();
  out.changed = true;
  for (const auto& ir : rec.interfaces) out.jail_side_names.push_back(ir.jail_name);
  return out;
}

Result<bool> JailNetwork::destroyPairs(const std::string& jail, const JailRecord& rec) {
  bool changed = false;
  for (const InterfaceRecord& ir : rec.interfaces) {
    if (!ir.created_by_vnetd) continue;
    // Either end destroys both (FreeBSD epair_clone_destroy, Linux veth). The host side
    // is normally on the host; after a jail is removed, or after prestop, the jail side is
    // on the host as well. Looked up by name (not a full dump): poststop must stay cheap
    // on hosts with thousands of interfaces.
    std::string generated = interfaceName(jail, ir.index, Side::B);
    std::optional<std::string> victim;
    std::vector<std::pair<std::string, std::string>> candidates{{ir.host_name, ir.host_mac},
                                                                {ir.jail_name, ir.jail_mac}};
    // The generated name is the jail side's own unless one is configured: asked once.
    if (generated != ir.jail_name) candidates.emplace_back(generated, ir.jail_mac);
    for (const auto& [name, mac] : candidates) {
      auto l = host_.currentLink(name);
      if (!l) return l.error();
      if (!*l) continue;
      if ((*l)->mac.toString() != mac) {
        VNETD_LOG_WARN("%s: not destroying %s: its MAC %s is not the recorded %s", jail.c_str(), name.c_str(),
                       (*l)->mac.toString().c_str(), mac.c_str());
        continue;
      }
      victim = name;
      break;
    }
    if (!victim) continue;  // already gone (Linux destroys a veth with its namespace)
    auto r = host_.destroyLink(*victim);
    if (!r && r.error().code != ENODEV) return r.error();
    changed = true;
  }
  return changed;
}

Result<HookOutcome> JailNetwork::teardown(const StateLock& lock, State& state, const std::string& jail) {
  HookOutcome out;
  auto it = state.jails.find(jail);
  if (it == state.jails.end()) return out;  // never started (or already cleaned): nothing to do
  auto destroyed = destroyPairs(jail, it->second);
  if (!destroyed) return destroyed.error();
  // A start that never got past prestart may have been interrupted inside the creation:
  // with the record gone, nothing would recognise an unrenamed leftover any more.
  if (it->second.phase == "prestart") VNETD_TRY(destroyCreationLeftovers(jail, it->second));
  // Exactly the limits prestart recorded as applied, never other rules of the jail. Each is
  // removed by resource and action (platform::Policy::removeJailLimits): on FreeBSD the
  // filter "jail:<name>:<resource>:<action>" has no amount, so rctl_string_to_rule leaves
  // it RCTL_AMOUNT_UNDEFINED and rctl_rule_matches ignores it — the rule goes whatever
  // amount it was added with; a rule already gone makes rctl_rule_remove answer ESRCH,
  // which is success (sys/kern/kern_rctl.c, sys_rctl_remove_rule -> rctl_rule_remove).
  // Migrated records of state format 1 have none recorded (limits == nullopt): for those,
  // as vnetd did before format 2, what the configuration names today — a limit dropped
  // from the config since that jail started cannot be known and stays (rctl -r it).
  RctlLimits applied;  // a copy: jailFor() returns the jail's configuration by value
  if (it->second.limits) applied = *it->second.limits;
  else if (auto cfg = config_.jailFor(jail)) applied = cfg->limits;
  if (!applied.empty()) {
    auto unlimited = policy_.removeJailLimits(jail, applied);
    if (!unlimited) return unlimited.error();
  }
  VNETD_TRY(removeExposes(jail));  // issue 19
  state.jails.erase(it);
  auto saved = store_.save(lock, state);
  if (!saved) return saved.error();
  out.changed = true;
  return out;
}

// --------------------------------------------------------------------------- expose (issue 19)

Result<void> JailNetwork::applyExposes(const std::string& jail, const JailConfig& cfg, const JailRecord& rec) {
  // Nothing at all for a jail without forwards: the hook path stays free of packet-filter
  // calls. Forwards left from an earlier configuration are the reconciler's
  // (RemoveExpose, src/daemon/reconciler.h).
  std::vector<ExposeTarget> forwards = exposeTargets(config_, cfg, rec);
  if (forwards.empty()) return success();
  auto done = policy_.applyJailExpose(jail, forwards);
  if (!done) return withContext(done.error(), "jail " + jail + ": port forwards");
  return success();
}

Result<void> JailNetwork::removeExposes(const std::string& jail) {
  // Only for a jail the configuration gives forwards (see applyExposes).
  auto cfg = config_.jailFor(jail);
  bool any = false;
  if (cfg)
    for (const InterfaceConfig& ic : cfg->interfaces) any = any || !ic.expose.empty();
  if (!any) return success();
  auto done = policy_.removeJailExpose(jail);
  if (!done) return withContext(done.error(), "jail " + jail + ": port forwards");
  return success();
}

}  // namespace vnetd
