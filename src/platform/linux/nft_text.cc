#include "platform/linux/nft_text.h"

#include <nlohmann/json.hpp>

#include "core/naming.h"

namespace vnetd::platform::lnx {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kChainPrefix = "nat_";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The bridge a chain name stands for; "" for a chain vnetd did not name.
std::string bridgeOfChain(std::string_view chain) {
  if (chain.substr(0, kChainPrefix.size()) != kChainPrefix) return {};
  std::string_view hex = chain.substr(kChainPrefix.size());
  if (hex.empty() || hex.size() % 2 != 0) return {};
  std::string name;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]), lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    name += static_cast<char>(hi * 16 + lo);
  }
  return isValidInterfaceName(name) ? name : std::string();
}

const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool isString(const Json* v, std::string_view want) {
  return v && v->is_string() && v->get_ref<const std::string&>() == want;
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
// address (nft prints a /32 without a prefix).
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

// One rule as nftNatLoadScript writes it → (subnet, egress); nullopt for anything else.
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

Result<std::string> chainFor(std::string_view bridge, const char* what) {
  auto chain = nftNatChain(bridge);
  if (!chain) return withContext(chain.error(), what);
  return chain;
}

std::string chainDeclaration(const std::string& chain) {
  return std::string("table ") + kNftFamily + " " + kNftTable + " {\n  chain " + chain +
         " {\n    type nat hook postrouting priority srcnat; policy accept;\n  }\n}\n";
}

}  // namespace

Result<std::string> nftNatChain(std::string_view bridge) {
  if (auto p = interfaceNameProblem(bridge); !p.empty())
    return plainError("nftables chain for bridge '" + std::string(bridge) + "': " + p);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string chain(kChainPrefix);
  for (unsigned char c : bridge) {
    chain += kHex[c >> 4];
    chain += kHex[c & 0xf];
  }
  return chain;
}

Result<std::string> nftNatLoadScript(std::string_view bridge, std::string_view egress,
                                     const std::vector<Cidr>& subnets) {
  auto chain = chainFor(bridge, "NAT");
  if (!chain) return chain.error();
  // Interface names are [A-Za-z0-9_.-]: nothing that could end the quoted string.
  if (auto p = interfaceNameProblem(egress); !p.empty())
    return plainError("NAT egress interface '" + std::string(egress) + "': " + p);
  std::string rules;
  for (const Cidr& subnet : subnets) {
    if (subnet.address.family != IpFamily::V4)
      return plainError("NAT is for IPv4 subnets only; " + subnet.toString() + " would be routed, not translated");
    rules += "    ip saddr " + subnet.network().toString() + "/" + std::to_string(subnet.prefix) + " oifname \"" +
             std::string(egress) + "\" masquerade comment \"vnetd:bridge:" + std::string(bridge) + "\"\n";
  }
  std::string script = chainDeclaration(*chain);
  script += std::string("flush chain ") + kNftFamily + " " + kNftTable + " " + *chain + "\n";
  if (!rules.empty())
    script += std::string("table ") + kNftFamily + " " + kNftTable + " {\n  chain " + *chain + " {\n" + rules +
              "  }\n}\n";
  return script;
}

Result<std::string> nftNatRemoveScript(std::string_view bridge) {
  auto chain = chainFor(bridge, "NAT");
  if (!chain) return chain.error();
  return chainDeclaration(*chain) + "delete chain " + kNftFamily + " " + kNftTable + " " + *chain + "\n";
}

Result<std::map<std::string, BridgeNat>> decodeNftNatListing(std::string_view text) {
  if (text.size() > kMaxNftListing) return plainError("nft listing larger than " + std::to_string(kMaxNftListing) + " bytes");
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return plainError("nft listing is not JSON");
  const Json* items = member(doc, "nftables");
  if (!items || !items->is_array()) return plainError("nft listing has no \"nftables\" array");
  std::map<std::string, BridgeNat> out;
  for (const Json& item : *items) {
    const Json* rule = member(item, "rule");
    if (!rule) continue;
    if (!isString(member(*rule, "family"), kNftFamily) || !isString(member(*rule, "table"), kNftTable)) continue;
    const Json* chain = member(*rule, "chain");
    if (!chain || !chain->is_string()) continue;
    std::string bridge = bridgeOfChain(chain->get_ref<const std::string&>());
    if (bridge.empty()) continue;
    auto [it, first] = out.try_emplace(bridge);
    BridgeNat& nat = it->second;
    auto parsed = natRule(*rule);
    if (!parsed) {
      nat.recognised = false;
      continue;
    }
    if (first) nat.egress = parsed->second;
    else if (nat.egress != parsed->second) nat.recognised = false;
    nat.subnets.push_back(parsed->first);
  }
  return out;
}

}  // namespace vnetd::platform::lnx
