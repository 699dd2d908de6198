#include "platform/linux/nft_expose.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/naming.h"
#include "platform/linux/nftables.h"
#include "platform/linux/nft_text.h"

namespace vnetd::platform::lnx {
namespace {

using Json = nlohmann::json;

// "dstnat" is priority -100 in the inet family (nft(8) "Standard priority names"); the
// JSON listing prints the number.
constexpr int64_t kDstnatPriority = -100;

const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool isString(const Json* v, std::string_view want) {
  return v && v->is_string() && v->get_ref<const std::string&>() == want;
}

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

const std::map<std::string, std::vector<uint64_t>>& rulesOf(const NftExposeListing& l, std::string_view jail) {
  static const std::map<std::string, std::vector<uint64_t>> kNone;
  auto it = l.jails.find(std::string(jail));
  return it == l.jails.end() ? kNone : it->second;
}

// In handle order (the order they were added).
std::string deletions(std::string_view jail, const NftExposeListing& old) {
  std::vector<uint64_t> all;
  for (const auto& [comment, handles] : rulesOf(old, jail)) all.insert(all.end(), handles.begin(), handles.end());
  std::sort(all.begin(), all.end());
  std::string out;
  for (uint64_t h : all)
    out += "delete rule " + tableRef() + " " + kNftExposeChain + " handle " + std::to_string(h) + "\n";
  return out;
}

}  // namespace

Result<std::vector<NftExposeRule>> nftExposeRules(std::string_view jail, const std::vector<ExposeTarget>& forwards) {
  if (auto p = jailNameProblem(jail); !p.empty()) return plainError("forwards of jail '" + std::string(jail) + "': " + p);
  std::vector<NftExposeRule> out;
  for (const ExposeTarget& t : forwards) {
    // Interface names are [A-Za-z0-9_.-]: nothing that could end the quoted string.
    if (!t.egress.empty())
      if (auto p = interfaceNameProblem(t.egress); !p.empty())
        return plainError("forward " + t.name() + " of jail '" + std::string(jail) + "': egress '" + t.egress + "': " + p);
    for (IpFamily f : {IpFamily::V4, IpFamily::V6}) {
      const std::optional<IpAddress>& to = f == IpFamily::V4 ? t.jail_v4 : t.jail_v6;
      if (!to || to->family != f) continue;
      if (t.rule.address && t.rule.address->family != f) continue;
      NftExposeRule r{t.name(), body(t, f, *to), {}};
      r.comment = std::string(kNftExposeCommentPrefix) + std::string(jail) + ":" + hex16(StableHash().add(r.body).digest());
      out.push_back(std::move(r));
    }
  }
  return out;
}

Result<NftExposeListing> decodeNftExposeListing(std::string_view text) {
  if (text.size() > kMaxNftListing)
    return plainError("nftables listing larger than " + std::to_string(kMaxNftListing) + " bytes");
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return plainError("nftables listing is not JSON");
  const Json* items = member(doc, "nftables");
  if (!items || !items->is_array()) return plainError("nftables listing has no \"nftables\" array");
  NftExposeListing out;
  for (const Json& item : *items) {
    if (const Json* chain = member(item, "chain"); chain && inExposeTable(*chain)) {
      if (!isString(member(*chain, "name"), kNftExposeChain)) continue;
      out.chain_listed = true;
      const Json* prio = member(*chain, "prio");
      out.chain_as_declared = isString(member(*chain, "type"), "nat") && isString(member(*chain, "hook"), "prerouting") &&
                              isString(member(*chain, "policy"), "accept") && prio && prio->is_number_integer() &&
                              prio->get<int64_t>() == kDstnatPriority;
      continue;
    }
    const Json* rule = member(item, "rule");
    if (!rule || !inExposeTable(*rule)) continue;
    std::string jail = jailOfComment(member(*rule, "comment"));
    const Json* handle = member(*rule, "handle");
    if (jail.empty() || !isString(member(*rule, "chain"), kNftExposeChain) || !handle || !handle->is_number_unsigned()) {
      ++out.foreign_rules;
      continue;
    }
    out.jails[jail][member(*rule, "comment")->get<std::string>()].push_back(handle->get<uint64_t>());
  }
  return out;
}

std::string nftExposeLoadCommands(std::string_view jail, const std::vector<NftExposeRule>& rules,
                                  const NftExposeListing& old) {
  std::string out = "add table " + tableRef() + "\nadd chain " + tableRef() + " " + kNftExposeChain +
                    " { type nat hook prerouting priority dstnat; policy accept; }\n" + deletions(jail, old);
  for (const NftExposeRule& r : rules)
    out += "add rule " + tableRef() + " " + kNftExposeChain + " " + r.body + " comment \"" + r.comment + "\"\n";
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
