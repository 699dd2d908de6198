#include "platform/linux/forward_firewall.h"

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

namespace vnetd::platform::lnx {
namespace {

using Json = nlohmann::json;
using Key = FwMatch::Key;

// Strings of `right`: "x", ["x", "y"] (ct state flags) or {"set": ["x", "y"]}.
std::optional<std::vector<std::string>> words(const Json& right) {
  const Json* list = &right;
  if (right.is_object() && right.contains("set")) list = &right["set"];
  std::vector<std::string> out;
  if (list->is_string()) {
    out.push_back(list->get<std::string>());
    return out;
  }
  if (!list->is_array()) return std::nullopt;
  for (const auto& w : *list) {
    if (!w.is_string()) return std::nullopt;
    out.push_back(w.get<std::string>());
  }
  return out;
}

// One address operand: "198.18.0.1" or {"prefix": {"addr": ..., "len": N}}.
std::optional<Cidr> net(const Json& v) {
  if (v.is_string()) {
    auto a = IpAddress::parse(v.get<std::string>());
    if (!a) return std::nullopt;
    return Cidr{*a, static_cast<uint8_t>(a->family == IpFamily::V4 ? 32 : 128)};
  }
  if (!v.is_object() || !v.contains("prefix")) return std::nullopt;
  const Json& p = v["prefix"];
  if (!p.is_object() || !p.contains("addr") || !p.contains("len") || !p["addr"].is_string() ||
      !p["len"].is_number_unsigned())
    return std::nullopt;
  auto a = IpAddress::parse(p["addr"].get<std::string>());
  uint64_t len = p["len"].get<uint64_t>();
  if (!a || len > (a->family == IpFamily::V4 ? 32u : 128u)) return std::nullopt;
  return Cidr{*a, static_cast<uint8_t>(len)};
}

std::optional<std::vector<Cidr>> nets(const Json& right) {
  std::vector<Cidr> out;
  if (right.is_object() && right.contains("set")) {
    if (!right["set"].is_array()) return std::nullopt;
    for (const auto& e : right["set"]) {
      auto n = net(e);
      if (!n) return std::nullopt;  // a range, a concatenation...: not modelled
      out.push_back(*n);
    }
    return out;
  }
  auto n = net(right);
  if (!n) return std::nullopt;
  out.push_back(*n);
  return out;
}

std::string stringAt(const Json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

FwMatch decodeMatch(const Json& m) {
  FwMatch out;  // Key::Other unless understood below
  if (!m.is_object()) return out;
  const std::string op = stringAt(m, "op");
  if (op != "==" && op != "in" && op != "!=") return out;
  auto l = m.find("left");
  auto r = m.find("right");
  if (l == m.end() || r == m.end() || !l->is_object()) return out;
  FwMatch f;
  f.negate = op == "!=";
  if (l->contains("meta")) {
    const std::string key = stringAt((*l)["meta"], "key");
    if (key == "iifname") f.key = Key::Iifname;
    else if (key == "oifname") f.key = Key::Oifname;
    else if (key == "nfproto") f.key = Key::NfProto;
    else return out;
    auto w = words(*r);
    if (!w) return out;
    f.words = std::move(*w);
    return f;
  }
  if (l->contains("ct")) {
    if (stringAt((*l)["ct"], "key") != "state" || (*l)["ct"].contains("dir")) return out;
    auto w = words(*r);
    if (!w) return out;
    f.key = Key::CtState;
    f.words = std::move(*w);
    return f;
  }
  if (l->contains("payload")) {
    const Json& p = (*l)["payload"];
    const std::string proto = stringAt(p, "protocol");
    const std::string field = stringAt(p, "field");
    if ((proto != "ip" && proto != "ip6") || (field != "saddr" && field != "daddr")) return out;
    auto n = nets(*r);
    if (!n) return out;
    f.key = field == "saddr" ? Key::Saddr : Key::Daddr;
    f.family = proto == "ip" ? IpFamily::V4 : IpFamily::V6;
    f.nets = std::move(*n);
    return f;
  }
  return out;
}

// One rule's "expr" list.
FwRule decodeRule(const Json& expr) {
  FwRule rule;
  if (!expr.is_array()) {
    rule.matches.push_back(FwMatch{});  // unreadable: it may or may not match
    return rule;
  }
  for (const auto& stmt : expr) {
    if (!stmt.is_object() || stmt.size() != 1) {
      rule.matches.push_back(FwMatch{});
      continue;
    }
    const std::string& kind = stmt.begin().key();
    const Json& body = stmt.begin().value();
    if (kind == "match") rule.matches.push_back(decodeMatch(body));
    else if (kind == "counter" || kind == "log") continue;  // decide nothing
    else if (kind == "accept") rule.verdict = FwRule::Verdict::Accept;
    else if (kind == "drop") rule.verdict = FwRule::Verdict::Drop;
    else if (kind == "reject") rule.verdict = FwRule::Verdict::Reject;
    else if (kind == "return") rule.verdict = FwRule::Verdict::Return;
    else if (kind == "jump" || kind == "goto") {
      std::string target = stringAt(body, "target");
      if (target.empty()) {
        rule.matches.push_back(FwMatch{});
        continue;
      }
      rule.verdict = kind == "jump" ? FwRule::Verdict::Jump : FwRule::Verdict::Goto;
      rule.target = std::move(target);
    } else if (kind == "xt" && stringAt(body, "type") == "match" && stringAt(body, "name") == "conntrack") {
      // iptables-nft keeps `-m conntrack --ctstate ...` as an x_tables match whose
      // states the listing does not show; what admins (and doctor's Docker fix) write
      // with it is RELATED,ESTABLISHED.
      FwMatch m;
      m.key = Key::CtState;
      m.opaque_conntrack = true;
      rule.matches.push_back(std::move(m));
    } else {
      rule.matches.push_back(FwMatch{});  // limit, quota, vmap, xt, ...: not modelled
    }
  }
  return rule;
}

// Tables and chains by name, as the listing names them (indexes: the vectors grow).
class Builder {
 public:
  FwChain* chain(const std::string& family, const std::string& table, const std::string& name) {
    FwTable& t = this->table(family, table);
    auto [it, fresh] = chains_.try_emplace({family, table, name}, t.chains.size());
    if (fresh) t.chains.push_back(FwChain{name, "", "", {}});
    return &t.chains[it->second];
  }
  FwTable& table(const std::string& family, const std::string& name) {
    auto [it, fresh] = tables_.try_emplace({family, name}, rs.tables.size());
    if (fresh) rs.tables.push_back(FwTable{family, name, {}});
    return rs.tables[it->second];
  }
  FwRuleset rs;

 private:
  std::map<std::pair<std::string, std::string>, size_t> tables_;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> chains_;
};

}  // namespace

Result<FwRuleset> decodeNftRuleset(std::string_view text) {
  Json doc = Json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return plainError("nftables ruleset listing: not JSON");
  if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array())
    return plainError("nftables ruleset listing: no \"nftables\" array");
  Builder build;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object() || item.size() != 1) continue;
    const std::string& kind = item.begin().key();
    const Json& o = item.begin().value();
    if (!o.is_object()) continue;
    if (kind == "table") {
      std::string family = stringAt(o, "family"), name = stringAt(o, "name");
      if (!family.empty() && !name.empty()) build.table(family, name);
    } else if (kind == "chain") {
      std::string family = stringAt(o, "family"), table = stringAt(o, "table"), name = stringAt(o, "name");
      if (family.empty() || table.empty() || name.empty()) continue;
      FwChain* c = build.chain(family, table, name);
      c->hook = stringAt(o, "hook");
      c->policy = stringAt(o, "policy");
    } else if (kind == "rule") {
      std::string family = stringAt(o, "family"), table = stringAt(o, "table"), chain = stringAt(o, "chain");
      if (family.empty() || table.empty() || chain.empty()) continue;
      auto expr = o.find("expr");
      build.chain(family, table, chain)->rules.push_back(decodeRule(expr != o.end() ? *expr : Json()));
    }
  }
  return std::move(build.rs);
}

bool legacyFilterListed(std::string_view names) {
  while (!names.empty()) {
    size_t nl = names.find('\n');
    std::string_view line = names.substr(0, nl);
    if (line == "filter") return true;
    if (nl == std::string_view::npos) break;
    names.remove_prefix(nl + 1);
  }
  return false;
}

}  // namespace vnetd::platform::lnx
