#include "daemon/reconciler.h"

#include "core/expose_targets.h"  // issue 19

#include "core/jail_network.h"

#include <algorithm>
#include <charconv>

namespace vnetd::daemon {
namespace {

using platform::LinkInfo;
using platform::LinkKind;
using Kind = ReconcileAction::Kind;

const LinkInfo* byName(const std::vector<LinkInfo>& links, const std::string& name) {
  for (const auto& l : links)
    if (l.name == name) return &l;
  return nullptr;
}

bool hasAddress(const std::vector<platform::AddressInfo>& addrs, uint32_t index, const IpAddress& a) {
  for (const auto& x : addrs)
    if (x.link_index == index && x.cidr.address == a) return true;
  return false;
}

// "e<index>a_<jail>" (the unshortened host-side name) → (jail, index). Shortened names
// end in a hash and cannot be reversed; those leftovers need their description.
bool parseHostSideName(const std::string& name, std::string& jail, unsigned& index) {
  if (name.size() < 4 || name[0] != 'e') return false;
  auto a = name.find("a_");
  if (a == std::string::npos || a < 2) return false;
  auto [end, ec] = std::from_chars(name.data() + 1, name.data() + a, index);
  if (ec != std::errc() || end != name.data() + a || index >= kMaxInterfacesPerJail) return false;
  jail = name.substr(a + 2);
  return isValidJailName(jail) && interfaceName(jail, index, Side::A) == name;
}

// Advances the grace clock of `key`; true once it has been a candidate for `grace`.
bool graceOver(OrphanClock& clock, OrphanClock& seen, const std::string& key, int64_t now, int64_t grace) {
  auto [it, inserted] = clock.try_emplace(key, now);
  seen[key] = it->second;
  return now - it->second >= grace;
}

}  // namespace

const char* actionKindName(ReconcileAction::Kind kind) {
  switch (kind) {
    case Kind::Adopt: return "adopt";
    case Kind::EnsureBridge: return "ensure_bridge";
    case Kind::EnsureNat: return "ensure_nat";
    case Kind::RemoveNat: return "remove_nat";
    case Kind::ReaddMember: return "readd_member";
    case Kind::RepairJailPairs: return "repair_jail_pairs";
    case Kind::CollectOrphan: return "collect_orphan";
    case Kind::DestroyLeftover: return "destroy_leftover";
    case Kind::ReportForeign: return "report_foreign";
  }
  return "?";
}

std::optional<platform::BridgeNat> wantedNat(const BridgeConfig& bridge) {
  // The same condition and subnet as the bridge's creation (JailNetwork::ensureBridge).
  if (!natWanted(bridge)) return std::nullopt;
  return platform::BridgeNat{bridge.nat, {Cidr{bridge.address->network(), bridge.address->prefix}}, true};
}

std::map<std::string, std::string> natEgressesMissing(const Config& config,
                                                      const std::vector<platform::LinkInfo>& links) {
  std::map<std::string, std::string> out;
  for (const auto& [key, br] : config.bridges)
    if (wantedNat(br) && !byName(links, br.nat)) out.emplace(br.interface, br.nat);
  return out;
}

std::vector<NatEgressNews> noteNatEgresses(NatEgressWatch& watch, const std::map<std::string, std::string>& missing) {
  std::vector<NatEgressNews> out;
  for (const auto& [bridge, egress] : missing) {
    auto known = watch.missing_reported.find(bridge);
    if (known != watch.missing_reported.end() && known->second == egress) continue;  // said already
    watch.missing_reported[bridge] = egress;
    out.push_back({bridge, egress, true});
  }
  for (auto it = watch.missing_reported.begin(); it != watch.missing_reported.end();) {
    if (missing.count(it->first)) {
      ++it;
      continue;
    }
    out.push_back({it->first, it->second, false});
    it = watch.missing_reported.erase(it);
  }
  return out;
}

std::map<std::string, bool> natInPlace(const Config& config, const std::vector<platform::LinkInfo>& links,
                                      const std::map<std::string, std::optional<platform::BridgeNat>>& loaded,
                                      std::optional<bool> hooked) {
  std::map<std::string, bool> out;
  for (const auto& [key, br] : config.bridges) {
    auto want = wantedNat(br);
    if (!want) continue;
    auto read = loaded.find(br.interface);
    if (read == loaded.end()) continue;  // not read: unknown, no value rather than a guess
    out[br.interface] = hooked.value_or(false) && byName(links, br.nat) && read->second && *read->second == *want;
  }
  return out;
}

NatHookNews noteNatHook(NatHookWatch& watch, bool hooked) {
  if (hooked) {
    const bool was = watch.missing_reported;
    watch.missing_reported = false;
    return was ? NatHookNews::Back : NatHookNews::None;
  }
  if (watch.missing_reported) return NatHookNews::None;
  watch.missing_reported = true;
  return NatHookNews::Missing;
}

int64_t noteRepairFailed(RepairBackoffs& backoffs, const std::string& jail, int64_t now_ms, int64_t max_ms) {
  max_ms = std::max(max_ms, kRepairBackoffFirstMs);
  RepairBackoff& b = backoffs[jail];
  b.delay_ms = b.delay_ms <= 0 ? kRepairBackoffFirstMs : std::min(b.delay_ms, max_ms / 2) * 2;
  b.delay_ms = std::min(b.delay_ms, max_ms);
  b.not_before_ms = now_ms + b.delay_ms;
  return b.delay_ms;
}

std::vector<ReconcileAction> planReconcile(const ReconcileInput& in, OrphanClock& clock, RepairBackoffs* backoffs) {
  const Config& config = *in.config;
  const State& state = *in.state;
  const auto& links = *in.host_links;
  std::vector<ReconcileAction> out;
  OrphanClock still;  // candidates of this pass, with their first-seen times

  for (const auto& [name, rec] : state.jails)
    if (!in.known_jails->count(name))
      out.push_back({Kind::Adopt, name, "", "", false, 0,
                     "jail " + name + " (" + std::to_string(rec.interfaces.size()) + " interfaces, phase " +
                         rec.phase + ") was set up while vnetd was not running"});

  // Bridges: every configured one must exist, be up and carry its addresses.
  std::set<std::string> bridges_pending;  // interface names being (re)created this pass
  for (const auto& [key, br] : config.bridges) {
    const LinkInfo* l = byName(links, br.interface);
    std::string why;
    if (!l) {
      why = "bridge " + br.interface + " is missing";
      bridges_pending.insert(br.interface);
    } else if (l->kind != LinkKind::Bridge) {
      continue;  // someone else's interface under that name: ensureBridge refuses, reported there
    } else if (!l->admin_up) {
      why = "bridge " + br.interface + " is down";
    } else {
      for (const auto& want : {br.address, br.address6})
        if (want && !hasAddress(*in.host_addresses, l->index, want->address))
          why = "bridge " + br.interface + " lacks its address " + want->toString();
    }
    if (!why.empty()) out.push_back({Kind::EnsureBridge, "", key, "", false, 0, why});
  }

  // NAT: what each bridge's configuration asks for, against what the platform reads back.
  if (in.nat_loaded) {
    std::set<std::string> nat_wanted;  // interfaces of bridges configured with NAT
    for (const auto& [key, br] : config.bridges) {
      auto want = wantedNat(br);
      if (!want) continue;
      nat_wanted.insert(br.interface);
      if (bridges_pending.count(br.interface)) continue;  // its creation loads the NAT
      const LinkInfo* l = byName(links, br.interface);
      if (l && l->kind != LinkKind::Bridge) continue;  // not our bridge: ensureBridge refuses it
      auto loaded = in.nat_loaded->find(br.interface);
      if (loaded == in.nat_loaded->end()) continue;  // not read: nothing to judge
      // No egress interface (yet): nothing to translate to. The rules wait for it
      // (natEgressesMissing reports it; its arrival triggers a pass); rules already
      // loaded as configured stay, so a NIC that comes back needs nothing. Rules for
      // anything else (another egress before a reload, rules vnetd did not write) must not
      // keep translating against the configuration meanwhile: removed.
      if (!byName(links, br.nat)) {
        if (loaded->second && *loaded->second != *want)
          out.push_back({Kind::RemoveNat, "", br.interface, "", false, 0,
                         "NAT of bridge " + br.interface + " differs from the configuration, whose egress " + br.nat +
                             " does not exist (yet)"});
        continue;
      }
      std::string why;
      if (!loaded->second) why = "NAT of bridge " + br.interface + " (out of " + br.nat + ") is not loaded";
      else if (!loaded->second->recognised) why = "NAT of bridge " + br.interface + " holds rules vnetd did not write";
      else if (*loaded->second != *want)
        why = "NAT of bridge " + br.interface + " differs from the configuration (out of " + loaded->second->egress +
              " instead of " + br.nat + ", or another subnet)";
      if (!why.empty()) out.push_back({Kind::EnsureNat, "", key, "", false, 0, why});
    }
    for (const auto& [interface, loaded] : *in.nat_loaded)
      if (loaded && !nat_wanted.count(interface))
        out.push_back({Kind::RemoveNat, "", interface, "", false, 0,
                       "bridge " + interface + " has NAT loaded but no bridge in the configuration asks for it"});
  }

  // Members: recorded host sides that are ours (MAC) and present but not in their bridge.
  std::set<std::string> recorded_names;
  for (const auto& [jail, rec] : state.jails) {
    for (const auto& ir : rec.interfaces) {
      recorded_names.insert(ir.host_name);
      recorded_names.insert(ir.jail_name);
      recorded_names.insert(interfaceName(jail, ir.index, Side::B));
      if (ir.bridge.empty() || bridges_pending.count(ir.bridge)) continue;  // members follow the bridge's re-creation
      const LinkInfo* member = byName(links, ir.host_name);
      const LinkInfo* bridge = byName(links, ir.bridge);
      if (!member || !bridge || bridge->kind != LinkKind::Bridge) continue;
      if (member->mac.toString() != ir.host_mac) continue;  // not ours any more: hands off
      if (member->master_index == bridge->index) continue;
      bool private_member = false;
      for (const auto& [key, br] : config.bridges)
        if (br.interface == ir.bridge) private_member = br.private_members;
      out.push_back({Kind::ReaddMember, jail, ir.bridge, ir.host_name, private_member, 0,
                     ir.host_name + " of jail " + jail + " is not a member of bridge " + ir.bridge});
    }
  }

  // Repairs: running jails, set up to the end (phase "created"), that lost a recorded pair.
  std::set<std::string> need_repair;  // backoffs of other jails are forgotten
  for (const auto& [jail, rec] : state.jails) {
    if (rec.phase != "created" || !in.running_jails->count(jail)) continue;
    std::vector<std::string> lost;
    bool waits = false;  // a lost pair whose bridge is missing: after the bridge's re-creation
    for (const auto& ir : rec.interfaces) {
      if (!ir.created_by_vnetd || byName(links, ir.host_name)) continue;
      // Renamed by hand (the MAC is still there): the pair exists, hands off.
      bool renamed = false;
      for (const auto& l : links) renamed = renamed || l.mac.toString() == ir.host_mac;
      if (renamed) continue;
      if (bridges_pending.count(ir.bridge) || !byName(links, ir.bridge)) waits = true;
      lost.push_back(ir.host_name);
    }
    if (lost.empty()) continue;
    need_repair.insert(jail);
    if (waits) continue;
    if (backoffs) {
      auto b = backoffs->find(jail);
      if (b != backoffs->end() && in.now_ms < b->second.not_before_ms) continue;  // failed lately
    }
    std::string names;
    for (const auto& n : lost) names += (names.empty() ? "" : ", ") + n;
    out.push_back({Kind::RepairJailPairs, jail, "", lost.front(), false, 0,
                   "jail " + jail + " lost its interface" + (lost.size() > 1 ? "s " : " ") + names});
  }

  if (backoffs)
    for (auto it = backoffs->begin(); it != backoffs->end();)
      it = need_repair.count(it->first) ? std::next(it) : backoffs->erase(it);

  // Orphans: records of jails that are not running, for longer than the grace.
  for (const auto& [jail, rec] : state.jails) {
    if (in.running_jails->count(jail)) continue;
    bool seen_long_enough = graceOver(clock, still, "jail:" + jail, in.now_ms, in.orphan_grace_ms);
    // The last phase change restarts the grace (see the header): a prestart chain that is
    // still at work keeps its record.
    // updated_at has one-second resolution: a change up to a whole grace (in seconds) ago
    // counts as recent, so the grace is never cut short by the rounding. Compared without
    // a subtraction of updated_at, which comes from the file and may be any int64.
    const int64_t grace_s = in.orphan_grace_ms / 1000;
    const bool in_future = rec.updated_at > in.now_unix_s;
    const bool changed_recently = !in_future && rec.updated_at >= in.now_unix_s - grace_s;
    if (seen_long_enough && !changed_recently)
      out.push_back({Kind::CollectOrphan, jail, "", "", false, 0,
                     "jail " + jail + " (phase " + rec.phase + ") has not been running for " +
                         std::to_string((in.now_ms - still["jail:" + jail]) / 1000) + " s" +
                         (in_future ? std::string(" (its record's time is ahead of the clock)") : std::string())});
  }

  // Unrecorded interfaces that say they are vnetd's, or that a killed prestart left
  // before it could describe them (name and MAC say it, the description is empty).
  for (const auto& l : links) {
    std::string jail;
    unsigned index = 0;
    if (recorded_names.count(l.name)) continue;
    if (!parsePairDescription(l.description, jail, index) &&
        !(l.description.empty() && parseHostSideName(l.name, jail, index)))
      continue;
    // A pair the kernel named (FreeBSD epairNa/b) whose creation was interrupted before
    // the rename: prestart recorded its MACs before creating it and set them (and the
    // description) before renaming, so the record proves it is vnetd's and not in use.
    // Not while the jail runs: its pairs are in use, and a prestart adding an interface to
    // it may be under way in another process.
    if (auto rec = state.jails.find(jail); rec != state.jails.end() && !in.running_jails->count(jail) &&
                                           isPairCreationLeftover(l, jail, index, rec->second)) {
      if (graceOver(clock, still, "link:" + l.name, in.now_ms, in.orphan_grace_ms))
        out.push_back({Kind::DestroyLeftover, jail, "", l.name, false, index,
                       l.name + " was left by an interrupted creation of interface " + std::to_string(index) +
                           " of jail " + jail + " (it carries the recorded MAC but not the recorded name)"});
      continue;
    }
    // The jail side of an unrecorded pair goes with its host side; nothing to do for it.
    if (l.name == interfaceName(jail, index, Side::B) && l.mac == deriveMac(in.host_id, jail, index, Side::B)) continue;
    bool proven = l.mac == deriveMac(in.host_id, jail, index, Side::A) && l.name == interfaceName(jail, index, Side::A);
    if (proven && !state.jails.count(jail) && !in.running_jails->count(jail)) {
      if (graceOver(clock, still, "link:" + l.name, in.now_ms, in.orphan_grace_ms))
        out.push_back({Kind::DestroyLeftover, jail, "", l.name, false, index,
                       l.name + " was left by an interrupted prestart of jail " + jail + " that never started"});
      continue;
    }
    if (!proven)
      out.push_back({Kind::ReportForeign, jail, "", l.name, false, 0,
                     l.name + (l.description.empty() ? std::string(" is named") : " is described \"" + l.description + "\"") +
                         " like a vnetd interface, but vnetd has no record of it and did not make it on this host; "
                         "leaving it alone"});
  }

  clock = std::move(still);
  return out;
}

// --- issue 19, port forwarding ---

std::map<std::string, std::vector<ExposeTarget>> wantedExposes(const Config& config, const State& state,
                                                               const std::set<std::string>& running) {
  std::map<std::string, std::vector<ExposeTarget>> out;
  for (const auto& [name, rec] : state.jails) {
    if (rec.phase != "created" || !running.count(name) || !isValidJailName(name)) continue;
    auto cfg = config.jailFor(name);
    if (!cfg) continue;
    auto targets = exposeTargets(config, *cfg, rec);
    if (!targets.empty()) out.emplace(name, std::move(targets));
  }
  return out;
}

std::vector<ExposeAction> planExpose(const std::map<std::string, std::vector<ExposeTarget>>& wanted,
                                     const std::map<std::string, platform::ExposeLoaded>& loaded,
                                     const std::set<std::string>* loaded_jails, const std::set<std::string>& known) {
  std::vector<ExposeAction> out;
  for (const auto& [jail, read] : loaded) {
    // Not evaluated at all: loading again would change nothing (Mutator warns).
    if (!wanted.count(jail) || !read.hooked) continue;
    std::string missing;
    for (const auto& [forward, active] : read.active)
      if (!active) missing += (missing.empty() ? "" : ", ") + forward;
    if (!missing.empty())
      out.push_back({ExposeAction::Kind::Ensure, jail, "forwards of jail " + jail + " not loaded: " + missing});
    else if (read.unexpected)
      out.push_back({ExposeAction::Kind::Ensure, jail,
                     "jail " + jail + " has forward rules loaded that its configuration no longer asks for"});
  }
  if (loaded_jails)
    for (const std::string& jail : *loaded_jails)
      if (!wanted.count(jail) && known.count(jail))
        out.push_back({ExposeAction::Kind::Remove, jail,
                       "forward rules of jail " + jail + ", which is not running with forwards configured"});
  return out;
}

}  // namespace vnetd::daemon
