#include "core/state_rebuild.h"

#include <algorithm>
#include <map>

#include "core/jail_network.h"
#include "core/log.h"
#include "core/naming.h"

namespace vnetd {
namespace {

using platform::LinkInfo;
using platform::LinkKind;

bool isIpv6LinkLocal(const IpAddress& a) {
  return a.family == IpFamily::V6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

// The described pair `l` names (jail, index) and is a member of one of `bridges`.
bool isBridgedPairEnd(const LinkInfo& l, const std::map<uint32_t, const LinkInfo*>& by_index,
                      const std::set<std::string>& bridges, std::string& jail, unsigned& index) {
  if (l.kind != LinkKind::Pair || l.master_index == 0 || !parsePairDescription(l.description, jail, index))
    return false;
  auto master = by_index.find(l.master_index);
  return master != by_index.end() && bridges.count(master->second->name);
}

std::map<uint32_t, const LinkInfo*> indexLinks(const std::vector<LinkInfo>& links) {
  std::map<uint32_t, const LinkInfo*> out;
  for (const LinkInfo& l : links) out[l.index] = &l;
  return out;
}

}  // namespace

std::set<std::string> rebuildCandidates(const State& state, const std::vector<LinkInfo>& host_links,
                                        const std::set<std::string>& bridges) {
  std::set<std::string> out;
  auto by_index = indexLinks(host_links);
  for (const LinkInfo& l : host_links) {
    std::string jail;
    unsigned index = 0;
    if (isBridgedPairEnd(l, by_index, bridges, jail, index) && !state.jails.count(jail)) out.insert(jail);
  }
  return out;
}

std::vector<JailRecord> rebuildRecords(const RebuildInput& in) {
  std::vector<JailRecord> out;
  if (!in.state || !in.host_links || !in.jails || !in.bridges) return out;

  auto by_index = indexLinks(*in.host_links);
  std::set<std::string> recorded_names;  // host names other records already claim
  for (const auto& [name, rec] : in.state->jails)
    for (const auto& ir : rec.interfaces) recorded_names.insert(ir.host_name);

  // jail → index → its described bridge members (more than one: ambiguous)
  std::map<std::string, std::map<unsigned, std::vector<const LinkInfo*>>> ends;
  for (const LinkInfo& l : *in.host_links) {
    std::string jail;
    unsigned index = 0;
    if (!isBridgedPairEnd(l, by_index, *in.bridges, jail, index)) continue;
    if (in.state->jails.count(jail)) continue;  // has a record: never second-guessed here
    ends[jail][index].push_back(&l);
  }

  std::vector<const JailStackView*> views;
  for (const JailStackView& v : *in.jails) views.push_back(&v);
  std::sort(views.begin(), views.end(), [](auto* a, auto* b) { return a->jail < b->jail; });
  for (const JailStackView* view : views) {
    auto jail_ends = ends.find(view->jail);
    if (jail_ends == ends.end()) continue;
    JailRecord rec;
    rec.name = view->jail;
    rec.phase = "created";
    rec.updated_at = in.now;
    // Which limits its start applied is not in the kernel's interfaces: "not recorded"
    // (not "none"), so poststop falls back to the configuration's limits instead of
    // leaving the jail's rctl rules to the next jail of that name.
    rec.limits = std::nullopt;
    for (const auto& [index, candidates] : jail_ends->second) {
      if (candidates.size() != 1) continue;
      const LinkInfo* host = candidates.front();
      if (!isValidInterfaceName(host->name) || recorded_names.count(host->name)) continue;
      const std::string descr = pairDescription(view->jail, index);
      const LinkInfo* inside = nullptr;
      bool ambiguous = false;
      for (const LinkInfo& l : view->links) {
        if (l.description != descr) continue;
        ambiguous = ambiguous || inside != nullptr;
        inside = &l;
      }
      if (!inside || ambiguous || !isValidInterfaceName(inside->name)) continue;

      InterfaceRecord ir;
      ir.index = index;
      ir.host_name = host->name;
      ir.jail_name = inside->name;
      ir.host_mac = host->mac.toString();
      ir.jail_mac = inside->mac.toString();
      ir.bridge = by_index.at(host->master_index)->name;
      for (const auto& a : view->addresses)
        if (a.link_index == inside->index && !isIpv6LinkLocal(a.cidr.address)) ir.addresses.push_back(a.cidr.toString());
      std::sort(ir.addresses.begin(), ir.addresses.end());
      ir.addresses.erase(std::unique(ir.addresses.begin(), ir.addresses.end()), ir.addresses.end());
      // The proof the reconciler asks before destroying (reconciler.h): this host's vnetd
      // derived that MAC for (jail, index). Anything else is only observed.
      ir.created_by_vnetd = host->mac == deriveMac(in.host_id, view->jail, index, Side::A);
      rec.interfaces.push_back(std::move(ir));
    }
    if (rec.interfaces.empty()) continue;
    for (const auto& ir : rec.interfaces) recorded_names.insert(ir.host_name);
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<JailStackView> readJailStacks(platform::Jails& jails, const std::vector<platform::JailInfo>& running,
                                          const std::set<std::string>& names) {
  std::vector<JailStackView> out;
  for (const platform::JailInfo& j : running) {
    if (!j.own_stack || !names.count(j.name)) continue;
    auto fail = [&](const Error& e) {
      VNETD_LOG_WARN("cannot read the network stack of jail '%s' (%s); its addresses are not known",
                     j.name.c_str(), e.message().c_str());
    };
    auto stack = jails.openStack(j);
    if (!stack) { fail(stack.error()); continue; }
    auto links = (*stack)->links();
    if (!links) { fail(links.error()); continue; }
    auto addresses = (*stack)->addresses();
    if (!addresses) { fail(addresses.error()); continue; }
    out.push_back(JailStackView{j.name, std::move(*links), std::move(*addresses)});
  }
  return out;
}

Result<std::vector<std::string>> rebuildMissingRecords(State& state, const std::vector<LinkInfo>& host_links,
                                                       const std::set<std::string>& bridges, platform::Jails& jails,
                                                       const std::string& host_id, int64_t now,
                                                       const std::string& except) {
  std::set<std::string> candidates = rebuildCandidates(state, host_links, bridges);
  candidates.erase(except);
  if (candidates.empty()) return std::vector<std::string>{};  // the usual case: no kernel work at all
  auto running = jails.list();
  if (!running) return running.error();
  auto views = readJailStacks(jails, *running, candidates);
  RebuildInput in;
  in.state = &state;
  in.host_links = &host_links;
  in.jails = &views;
  in.bridges = &bridges;
  in.host_id = host_id;
  in.now = now;
  return adoptRebuiltRecords(state, rebuildRecords(in));
}

std::vector<std::string> adoptRebuiltRecords(State& state, std::vector<JailRecord> records) {
  std::vector<std::string> rebuilt;
  for (JailRecord& rec : records) {
    std::string addresses;
    for (const auto& ir : rec.interfaces)
      for (const auto& a : ir.addresses) addresses += (addresses.empty() ? "" : ", ") + a;
    VNETD_LOG_WARN("jail '%s' runs with vnetd's interfaces but had no state record (was the state file lost?): "
                   "rebuilt it from the kernel (%zu interface(s), addresses: %s)",
                   rec.name.c_str(), rec.interfaces.size(), addresses.empty() ? "none" : addresses.c_str());
    rebuilt.push_back(rec.name);
    state.jails[rec.name] = std::move(rec);
  }
  return rebuilt;
}

}  // namespace vnetd
