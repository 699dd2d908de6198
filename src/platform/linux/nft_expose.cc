#include "platform/linux/nft_expose.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/naming.h"
#include "platform/linux/nft_json.h"
#include "platform/linux/nftables.h"
#include "platform/linux/nft_text.h"

namespace vnetd::platform::lnx {
namespace {

using Json = nlohmann::json;

// "dstnat" is priority -100 and "srcnat" 100 in the inet family (nft(8) "Standard priority
// names"); the JSON listing prints the number. Output is declared with -100 (dstnat's).
struct ChainSpec {
  const char* name;
  const char* hook;
  int64_t priority;
  const char* declared;  // as declared in nftExposeLoadCommands
};
constexpr ChainSpec kChains[] = {
    {kNftExposeChain, "prerouting", -100, "{ type nat hook prerouting priority dstnat; policy accept; }"},
    {kNftExposeOutputChain, "output", -100, "{ type nat hook output priority -100; policy accept; }"},
    {kNftExposePostroutingChain, "postrouting", 100, "{ type nat hook postrouting priority srcnat; policy accept; }"},
};
const ChainSpec* chainSpec(std::string_view name) {
  for (const ChainSpec& c : kChains)
    if (name == c.name) return &c;
  return nullptr;
}

using nftjson::isString;
using nftjson::member;

bool inExposeTable(const Json& object) {
  return isString(member(object, "family"), kNftExposeFamily) && isString(member(object, "table"), kNftExposeTable);
}

std::string tableRef() { return std::string(kNftExposeFamily) + " " + kNftExposeTable; }

// The jail a comment names; "" when it is not one of ours.
std::string jailOfComment(const Json* comment) {
  if (!comment || !comment->is_string()) return {};
  std::string_view text = comment->get_ref<const std::string&>();
  if (text.substr(0, kNftExposeCommentPrefix.size()) != kNftExposeCommentPrefix) return {};
  text.remove_prefix(kNftExposeCommentPrefix.size());
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || text.size() - colon - 1 != 16) return {};
  std::string jail(text.substr(0, colon));
  return isValidJailName(jail) ? jail : std::string();
}

std::string ports(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string body(const ExposeTarget& t, IpFamily family, const IpAddress& to) {
  const bool v6 = family == IpFamily::V6;
  std::string out;
  if (t.rule.address) {
    out = std::string(v6 ? "ip6" : "ip") + " daddr " + t.rule.address->toString();
  } else {
    out = std::string("meta nfproto ") + (v6 ? "ipv6" : "ipv4");
    if (!t.egress.empty()) out += " iifname \"" + t.egress + "\" fib daddr . iif type local";
    else out += " fib daddr type local";
  }
  out += std::string(" ") + exposeProtoName(t.rule.proto) + " dport " + ports(t.rule.external);
  out += std::string(" dnat ") + (v6 ? "ip6" : "ip") + " to ";
  std::string address = v6 ? "[" + to.toString() + "]" : to.toString();
  // A range goes to the same ports (core/expose.h): no port in the dnat keeps the port.
  if (t.rule.external.first == t.rule.external.last) out += address + ":" + std::to_string(t.rule.jail.first);
  else out += to.toString();
  return out;
}

// Hairpin: answers of a jail of the same bridge go back through the host (NftExposeRule).
std::optional<std::string> hairpinBody(const ExposeTarget& t, IpFamily family, const IpAddress& to) {
  const bool v6 = family == IpFamily::V6;
  const std::optional<Cidr>& subnet = v6 ? t.subnet_v6 : t.subnet_v4;
  if (t.bridge.empty() || !subnet) return std::nullopt;
  const char* ip = v6 ? "ip6" : "ip";
  return std::string("meta nfproto ") + (v6 ? "ipv6" : "ipv4") + " oifname \"" + t.bridge + "\" " + ip + " saddr " +
         subnet->toString() + " " + ip + " daddr " + to.toString() + " " + exposeProtoName(t.rule.proto) + " dport " +
         ports(t.rule.jail) + " ct status dnat masquerade";
}

const std::map<std::string, std::vector<std::pair<std::string, uint64_t>>>& rulesOf(const NftExposeListing& l,
                                                                                       std::string_view jail) {
  static const std::map<std::string, std::vector<std::pair<std::string, uint64_t>>> kNone;
  auto it = l.jails.find(std::string(jail));
  return it == l.jails.end() ? kNone : it->second;
}

// In handle order (the order they were added).
std::string deletions(std::string_view jail, const NftExposeListing& old) {
  std::vector<std::pair<uint64_t, std::string>> all;  // handles are unique in a table
  for (const auto& [comment, rules] : rulesOf(old, jail))
    for (const auto& [chain, handle] : rules) all.emplace_back(handle, chain);
  std::sort(all.begin(), all.end());
  std::string out;
  for (const auto& [handle, chain] : all)
    out += "delete rule " + tableRef() + " " + chain + " handle " + std::to_string(handle) + "\n";
  return out;
}

}  // namespace

Result<std::vector<NftExposeRule>> nftExposeRules(std::string_view jail, const std::vector<ExposeTarget>& forwards) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError("forwards of jail '" + std::string(jail) + "': " + p);
  std::vector<NftExposeRule> out;
  for (const ExposeTarget& t : forwards) {
    // Interface names are [A-Za-z0-9_.-]: nothing that could end the quoted string.
    for (const std::string* name : {&t.egress, &t.bridge})
      if (!name->empty())
        if (auto p = interfaceNameProblem(*name); !p.empty())
          return plainError("forward " + t.name() + " of jail '" + std::string(jail) + "': interface '" + *name +
                            "': " + p);
    for (IpFamily f : {IpFamily::V4, IpFamily::V6}) {
      const std::optional<IpAddress>& to = f == IpFamily::V4 ? t.jail_v4 : t.jail_v6;
      if (!to || to->family != f) continue;
      if (t.rule.address && t.rule.address->family != f) continue;
      auto add = [&](const char* chain, std::string text) {
        NftExposeRule r{t.name(), chain, std::move(text), {}};
        r.comment = std::string(kNftExposeCommentPrefix) + std::string(jail) + ":" +
                    hex16(StableHash().add(r.chain).add(r.body).digest());
        out.push_back(std::move(r));
      };
      add(kNftExposeChain, body(t, f, *to));
      if (t.rule.address || t.egress.empty()) add(kNftExposeOutputChain, body(t, f, *to));
      if (auto hairpin = hairpinBody(t, f, *to)) add(kNftExposePostroutingChain, *hairpin);
    }
  }
  return out;
}

Result<NftExposeListing> decodeNftExposeListing(std::string_view text) {
  auto items = nftjson::listingItems(text, kMaxNftListing);
  if (!items) return items.error();
  NftExposeListing out;
  std::map<std::string, bool> declared;  // chain → as declared
  for (const Json& item : *items) {
    if (const Json* chain = member(item, "chain"); chain && inExposeTable(*chain)) {
      const Json* name = member(*chain, "name");
      const ChainSpec* spec = name && name->is_string() ? chainSpec(name->get_ref<const std::string&>()) : nullptr;
      if (!spec) continue;
      if (std::string_view(spec->name) == kNftExposeChain) out.chain_listed = true;
      const Json* prio = member(*chain, "prio");
      declared[spec->name] = isString(member(*chain, "type"), "nat") && isString(member(*chain, "hook"), spec->hook) &&
                             isString(member(*chain, "policy"), "accept") && prio && prio->is_number_integer() &&
                             prio->get<int64_t>() == spec->priority;
      continue;
    }
    const Json* rule = member(item, "rule");
    if (!rule || !inExposeTable(*rule)) continue;
    std::string jail = jailOfComment(member(*rule, "comment"));
    const Json* handle = member(*rule, "handle");
    const Json* chain = member(*rule, "chain");
    const ChainSpec* spec = chain && chain->is_string() ? chainSpec(chain->get_ref<const std::string&>()) : nullptr;
    if (jail.empty() || !spec || !handle || !handle->is_number_unsigned()) {
      ++out.foreign_rules;
      continue;
    }
    out.jails[jail][member(*rule, "comment")->get<std::string>()].emplace_back(spec->name, handle->get<uint64_t>());
  }
  out.chain_as_declared = declared.size() == std::size(kChains);
  for (const auto& [name, ok] : declared) out.chain_as_declared = out.chain_as_declared && ok;
  return out;
}

std::string nftExposeLoadCommands(std::string_view jail, const std::vector<NftExposeRule>& rules,
                                  const NftExposeListing& old) {
  std::string out = "add table " + tableRef() + "\n";
  for (const ChainSpec& c : kChains) out += "add chain " + tableRef() + " " + c.name + " " + c.declared + "\n";
  out += deletions(jail, old);
  for (const NftExposeRule& r : rules)
    out += "add rule " + tableRef() + " " + r.chain + " " + r.body + " comment \"" + r.comment + "\"\n";
  return out;
}

std::string nftExposeRemoveCommands(std::string_view jail, const NftExposeListing& old) { return deletions(jail, old); }

ExposeLoaded nftExposeLoaded(std::string_view jail, const std::vector<NftExposeRule>& rules,
                             const NftExposeListing& listing) {
  ExposeLoaded out;
  const auto& loaded = rulesOf(listing, jail);
  std::set<std::string> expected;
  for (const NftExposeRule& r : rules) {
    expected.insert(r.comment);
    auto it = loaded.find(r.comment);
    bool here = listing.chain_as_declared && it != loaded.end() && it->second.size() == 1;
    auto [slot, inserted] = out.active.emplace(r.forward, here);
    if (!inserted) slot->second = slot->second && here;
  }
  for (const auto& [comment, handles] : loaded) out.unexpected = out.unexpected || !expected.count(comment);
  return out;
}

// --- running them ---

namespace {

const char* kListWhat = "list nftables table inet vnetd";

// Builds from a fresh listing and runs; once more when the kernel says ENOENT (a listed rule
// went away meanwhile: the transaction changed nothing), as nft_nat.cc does.
template <typename Build>
Result<void> runFromListing(Build build, const std::string& what) {
  for (int attempt = 0;; ++attempt) {
    auto listing = listNftExpose();
    if (!listing) return withContext(listing.error(), what);
    std::string commands = build(*listing);
    if (commands.empty()) return success();
    auto done = nftRun(commands, what);
    if (done || done.error().code != ENOENT || attempt == 1) return done;
  }
}

}  // namespace

Result<NftExposeListing> listNftExpose() {
  auto json = nftListJson("list table " + tableRef(), kListWhat);
  if (!json) {
    if (json.error().code == ENOENT) return NftExposeListing{};  // never loaded, or deleted
    return json.error();
  }
  auto listing = decodeNftExposeListing(*json);
  if (!listing) return withContext(listing.error(), kListWhat);
  return listing;
}

Result<void> loadNftExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) {
  auto rules = nftExposeRules(jail, forwards);
  if (!rules) return rules.error();
  if (rules->empty()) return removeNftExpose(jail);
  return runFromListing([&](const NftExposeListing& l) { return nftExposeLoadCommands(jail, *rules, l); },
                        "load the forwards of jail " + jail + " into nftables table inet vnetd");
}

Result<void> removeNftExpose(const std::string& jail) {
  return runFromListing([&](const NftExposeListing& l) { return nftExposeRemoveCommands(jail, l); },
                        "remove the forwards of jail " + jail + " from nftables table inet vnetd");
}

Result<ExposeLoaded> nftExposeLoadedNow(const std::string& jail, const std::vector<ExposeTarget>& forwards) {
  auto rules = nftExposeRules(jail, forwards);
  if (!rules) return rules.error();
  auto listing = listNftExpose();
  if (!listing) return withContext(listing.error(), "read the forwards of jail " + jail);
  return nftExposeLoaded(jail, *rules, *listing);
}

Result<std::set<std::string>> nftExposeJails() {
  auto listing = listNftExpose();
  if (!listing) return listing.error();
  std::set<std::string> out;
  for (const auto& [jail, rules] : listing->jails) out.insert(jail);
  return out;
}

}  // namespace vnetd::platform::lnx
