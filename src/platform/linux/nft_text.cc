#include "platform/linux/nft_text.h"

#include <cerrno>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "core/naming.h"
#include "platform/linux/nft_json.h"

namespace vnetd::platform::lnx {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kLegacyChainPrefix = "nat_";
// What nftNatLoadCommands declares; "srcnat" is priority 100 in the ip family (nft(8)
// "Standard priority names"), which the JSON listing prints as a number.
constexpr int64_t kSrcnatPriority = 100;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The bridge an issue-15 chain name stands for; "" for a chain of another name.
std::string bridgeOfLegacyChain(std::string_view chain) {
  if (chain.substr(0, kLegacyChainPrefix.size()) != kLegacyChainPrefix) return {};
  std::string_view hex = chain.substr(kLegacyChainPrefix.size());
  if (hex.empty() || hex.size() % 2 != 0) return {};
  std::string name;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]), lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    name += static_cast<char>(hi * 16 + lo);
  }
  return isValidInterfaceName(name) ? name : std::string();
}

// The bridge a rule comment names; "" when it names none (not vnetd's comment).
std::string bridgeOfComment(const Json* comment) {
  if (!comment || !comment->is_string()) return {};
  std::string_view text = comment->get_ref<const std::string&>();
  if (text.substr(0, kNftCommentPrefix.size()) != kNftCommentPrefix) return {};
  std::string name(text.substr(kNftCommentPrefix.size()));
  return isValidInterfaceName(name) ? name : std::string();
}

using nftjson::isString;
using nftjson::member;

bool inVnetdTable(const Json& object) {
  return isString(member(object, "family"), kNftFamily) && isString(member(object, "table"), kNftTable);
}

// {"match": {"op": "==", "left": <left>, "right": <right>}} → right, when left is as asked.
const Json* matchRight(const Json& expr, const char* left_kind, const char* key, const char* value) {
  const Json* m = member(expr, "match");
  if (!m || !isString(member(*m, "op"), "==")) return nullptr;
  const Json* left = member(*m, "left");
  const Json* inner = left ? member(*left, left_kind) : nullptr;
  if (!inner) return nullptr;
  if (std::string_view(left_kind) == "payload" && !isString(member(*inner, "protocol"), "ip")) return nullptr;
  if (!isString(member(*inner, key), value)) return nullptr;
  return member(*m, "right");
}

// The subnet of `ip saddr X`: {"prefix": {"addr": "a.b.c.d", "len": n}}, or a plain
// address (a /32 is listed without a prefix).
std::optional<Cidr> subnetOf(const Json& right) {
  if (right.is_string()) {
    auto a = IpAddress::parse(right.get_ref<const std::string&>());
    if (!a || a->family != IpFamily::V4) return std::nullopt;
    return Cidr{*a, 32};
  }
  const Json* prefix = member(right, "prefix");
  if (!prefix) return std::nullopt;
  const Json* addr = member(*prefix, "addr");
  const Json* len = member(*prefix, "len");
  if (!addr || !addr->is_string() || !len || !len->is_number_unsigned()) return std::nullopt;
  auto a = IpAddress::parse(addr->get_ref<const std::string&>());
  uint64_t n = len->get<uint64_t>();
  if (!a || a->family != IpFamily::V4 || n > 32) return std::nullopt;
  Cidr c{*a, static_cast<uint8_t>(n)};
  if (!(c.network() == c.address)) return std::nullopt;
  return c;
}

// One rule as nftNatLoadCommands writes it → (subnet, egress); nullopt for anything else.
std::optional<std::pair<Cidr, std::string>> natRule(const Json& rule) {
  const Json* exprs = member(rule, "expr");
  if (!exprs || !exprs->is_array() || exprs->size() != 3) return std::nullopt;
  const Json* saddr = matchRight((*exprs)[0], "payload", "field", "saddr");
  const Json* oif = matchRight((*exprs)[1], "meta", "key", "oifname");
  const Json* masq = member((*exprs)[2], "masquerade");
  if (!saddr || !oif || !oif->is_string() || !masq || !masq->is_null()) return std::nullopt;
  auto subnet = subnetOf(*saddr);
  const std::string& egress = oif->get_ref<const std::string&>();
  if (!subnet || !isValidInterfaceName(egress)) return std::nullopt;
  return std::pair{*subnet, egress};
}

bool chainAsDeclared(const Json& chain) {
  const Json* prio = member(chain, "prio");
  return isString(member(chain, "type"), "nat") && isString(member(chain, "hook"), "postrouting") &&
         isString(member(chain, "policy"), "accept") && prio && prio->is_number_integer() &&
         prio->get<int64_t>() == kSrcnatPriority;
}

std::string tableRef() { return std::string(kNftFamily) + " " + kNftTable; }

// The deletions of one bridge's listed rules and legacy chain.
Result<std::string> deletions(std::string_view bridge, const NftBridgeRules& old) {
  std::string out;
  for (uint64_t handle : old.handles)
    out += "delete rule " + tableRef() + " " + kNftChain + " handle " + std::to_string(handle) + "\n";
  if (old.legacy_chain) {
    auto chain = nftLegacyNatChain(bridge);
    if (!chain) return chain.error();
    // delete chain takes the chain's rules with it (no jump refers to it).
    out += "delete chain " + tableRef() + " " + *chain + "\n";
  }
  return out;
}

}  // namespace

Result<std::string> nftLegacyNatChain(std::string_view bridge) {
  if (auto p = interfaceNameProblem(bridge); !p.empty())
    return plainError("nftables chain for bridge '" + std::string(bridge) + "': " + p);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string chain(kLegacyChainPrefix);
  for (unsigned char c : bridge) {
    chain += kHex[c >> 4];
    chain += kHex[c & 0xf];
  }
  return chain;
}

Result<NftNatListing> decodeNftNatListing(std::string_view text) {
  auto items = nftjson::listingItems(text, kMaxNftListing);
  if (!items) return items.error();
  NftNatListing out;
  for (const Json& item : *items) {
    if (const Json* chain = member(item, "chain"); chain && inVnetdTable(*chain)) {
      const Json* name = member(*chain, "name");
      if (!name || !name->is_string()) continue;
      if (name->get_ref<const std::string&>() == kNftChain) {
        out.chain_listed = true;
        out.chain_as_declared = chainAsDeclared(*chain);
      } else if (std::string bridge = bridgeOfLegacyChain(name->get_ref<const std::string&>()); !bridge.empty()) {
        out.bridges[bridge].legacy_chain = true;
      }
      continue;
    }
    const Json* rule = member(item, "rule");
    if (!rule || !inVnetdTable(*rule)) continue;
    const Json* chain = member(*rule, "chain");
    if (!chain || !chain->is_string()) continue;
    const std::string& chain_name = chain->get_ref<const std::string&>();
    if (chain_name != kNftChain) {
      // The rules of a legacy chain go with it; anything else is someone else's.
      if (bridgeOfLegacyChain(chain_name).empty()) ++out.foreign_rules;
      continue;
    }
    std::string bridge = bridgeOfComment(member(*rule, "comment"));
    if (bridge.empty()) {
      ++out.foreign_rules;
      continue;
    }
    NftBridgeRules& rules = out.bridges[bridge];
    const Json* handle = member(*rule, "handle");
    if (handle && handle->is_number_unsigned())
      rules.handles.push_back(handle->get<uint64_t>());
    else
      rules.nat.recognised = false;  // cannot be deleted exactly: replaced by nothing, reported
    auto parsed = natRule(*rule);
    if (!parsed) {
      rules.nat.recognised = false;
      continue;
    }
    if (rules.nat.subnets.empty() && rules.nat.egress.empty()) rules.nat.egress = parsed->second;
    else if (rules.nat.egress != parsed->second) rules.nat.recognised = false;
    rules.nat.subnets.push_back(parsed->first);
  }
  for (auto& [bridge, rules] : out.bridges)
    if (rules.legacy_chain || (!rules.handles.empty() && !out.chain_as_declared)) rules.nat.recognised = false;
  return out;
}

Result<std::string> nftNatLoadCommands(std::string_view bridge, std::string_view egress,
                                       const std::vector<Cidr>& subnets, const NftBridgeRules& old) {
  if (auto p = interfaceNameProblem(bridge); !p.empty())
    return plainError("NAT bridge '" + std::string(bridge) + "': " + p);
  // Interface names are [A-Za-z0-9_.-]: nothing that could end the quoted strings below.
  if (auto p = interfaceNameProblem(egress); !p.empty())
    return plainError("NAT egress interface '" + std::string(egress) + "': " + p);
  std::string rules;
  for (const Cidr& subnet : subnets) {
    if (subnet.address.family != IpFamily::V4)
      return plainError("NAT is for IPv4 subnets only; " + subnet.toString() + " would be routed, not translated");
    rules += "add rule " + tableRef() + " " + kNftChain + " ip saddr " + subnet.network().toString() + "/" +
             std::to_string(subnet.prefix) + " oifname \"" + std::string(egress) + "\" masquerade comment \"" +
             std::string(kNftCommentPrefix) + std::string(bridge) + "\"\n";
  }
  auto del = deletions(bridge, old);
  if (!del) return del.error();
  return "add table " + tableRef() + "\n" + "add chain " + tableRef() + " " + kNftChain +
         " { type nat hook postrouting priority srcnat; policy accept; }\n" + *del + rules;
}

Result<std::string> nftNatRemoveCommands(std::string_view bridge, const NftBridgeRules& old) {
  if (auto p = interfaceNameProblem(bridge); !p.empty())
    return plainError("NAT bridge '" + std::string(bridge) + "': " + p);
  return deletions(bridge, old);
}

Error nftError(const std::string& what, std::string_view buffer) {
  std::string line;
  while (!buffer.empty() && line.empty()) {
    size_t eol = buffer.find('\n');
    line = trimWhitespace(buffer.substr(0, eol));
    buffer = eol == std::string_view::npos ? std::string_view() : buffer.substr(eol + 1);
  }
  if (line.empty()) line = "libnftables failed without an error message";
  for (int code : {ENOENT, EPERM, EACCES}) {
    const std::string text = std::strerror(code);
    size_t at = line.rfind(text);
    if (at == std::string::npos) continue;
    if (at + text.size() == line.size() && at >= 2 && line.compare(at - 2, 2, ": ") == 0)
      return Error{code, what + ": " + line.substr(0, at - 2)};
    return Error{code, what + ": " + line};
  }
  return Error{EIO, what + ": " + line};
}

}  // namespace vnetd::platform::lnx
