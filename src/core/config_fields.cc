#include "core/config_fields.h"

#include <algorithm>
#include <limits>

#include "core/binary_amount.h"
#include "core/naming.h"

namespace vnetd {

using config_text::quoted;
using config_text::show;

namespace {

const char* typeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown type";
}

const char* familyName(IpFamily f) { return f == IpFamily::V4 ? "IPv4" : "IPv6"; }

// The key holding the other family: address <-> address6, gateway <-> gateway6.
std::string otherFamilyKey(std::string_view key, IpFamily f) {
  return f == IpFamily::V4 ? std::string(key) + "6" : std::string(key.substr(0, key.size() - 1));
}

}  // namespace

Pos posOf(const toml::source_region& region) {
  auto clamp = [](toml::source_index v) {
    return static_cast<int>(std::min<toml::source_index>(v, std::numeric_limits<int>::max()));
  };
  return Pos{clamp(region.begin.line), clamp(region.begin.column)};
}

Pos FieldReader::at(const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  return posOf(n ? n->source() : t.source());
}

void FieldReader::typeError(const toml::node& node, std::string_view expected,
                            const std::string& what, std::string hint) {
  error(posOf(node.source()),
        "expected " + std::string(expected) + " for " + what + ", got " + typeName(node.type()),
        std::move(hint));
}

void FieldReader::checkKeys(const toml::table& t, const Scope& scope, config_text::Keys allowed) {
  for (auto&& [key, node] : t) {
    if (config_text::contains(allowed, key.str())) continue;
    error(posOf(key.source()), "unknown key " + quoted(key.str()) + " in " + scope.name,
          config_text::keySuggestion(key.str(), allowed));
  }
}

std::optional<std::string> FieldReader::getString(const toml::table& t, std::string_view key,
                                                  const Scope& scope) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  const toml::value<std::string>* v = n->as_string();
  if (!v) {
    typeError(*n, "a string", scope.ref(key));
    return std::nullopt;
  }
  return checkedString(v->get(), posOf(n->source()), scope.ref(key));
}

std::optional<std::string> FieldReader::checkedString(const std::string& value, Pos pos,
                                                      const std::string& what) {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      error(pos, what + " contains control character " + show(std::string_view(&c, 1)),
            "remove it");
      return std::nullopt;
    }
  }
  return value;
}

std::optional<int64_t> FieldReader::getInt(const toml::table& t, std::string_view key,
                                           const Scope& scope, int64_t min, int64_t max) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  const toml::value<int64_t>* v = n->as_integer();
  if (!v) {
    typeError(*n, "an integer", scope.ref(key));
    return std::nullopt;
  }
  int64_t value = v->get();
  if (value < min || value > max) {
    error(posOf(n->source()), scope.ref(key) + " " + std::to_string(value) + " is out of range",
          "allowed: " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<uint32_t> FieldReader::getUint32(const toml::table& t, std::string_view key,
                                               const Scope& scope, int64_t min, int64_t max) {
  auto v = getInt(t, key, scope, min, max);
  return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
}

std::optional<bool> FieldReader::getBool(const toml::table& t, std::string_view key,
                                         const Scope& scope) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  const toml::value<bool>* v = n->as_boolean();
  if (!v) {
    typeError(*n, "a boolean", scope.ref(key));
    return std::nullopt;
  }
  return v->get();
}

std::optional<std::string> FieldReader::getAbsolutePath(const toml::table& t, std::string_view key,
                                                        const Scope& scope, const char* example) {
  auto v = getString(t, key, scope);
  if (v && (v->empty() || v->front() != '/')) {
    error(at(t, key), scope.ref(key) + " " + quoted(*v) + " is not an absolute path",
          std::string("start it with '/', e.g. ") + example);
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> FieldReader::getInterfaceName(const toml::table& t,
                                                         std::string_view key,
                                                         const Scope& scope) {
  auto v = getString(t, key, scope);
  if (!v) return std::nullopt;
  if (std::string problem = interfaceNameProblem(*v); !problem.empty()) {
    error(at(t, key), scope.ref(key) + " " + quoted(*v) + ": " + problem);
    return std::nullopt;
  }
  return v;
}

std::optional<Cidr> FieldReader::parseHostCidr(const std::string& text, Pos pos,
                                               const std::string& what, std::string_view key,
                                               IpFamily family) {
  const char* example = family == IpFamily::V4 ? "198.18.0.10/24" : "2001:db8::10/64";
  size_t slash = text.find('/');
  auto address = IpAddress::parse(std::string_view(text).substr(0, slash));
  if (address && address->family != family) {
    error(pos, what + " " + quoted(text) + " is an " + familyName(address->family) + " address",
          "use " + otherFamilyKey(key, family) + " for " + familyName(address->family));
    return std::nullopt;
  }
  if (address && slash == std::string::npos) {
    error(pos, what + " " + quoted(text) + " has no prefix length",
          "write it as " + text + (family == IpFamily::V4 ? "/24" : "/64"));
    return std::nullopt;
  }
  auto cidr = Cidr::parse(text);
  if (!cidr) {
    std::string hint = "expected an " + std::string(familyName(family)) +
                       " address with prefix length, e.g. " + example;
    if (text == "auto") hint = "\"auto\" is only supported for the IPv4 address";
    if (text == "auto" && family == IpFamily::V6)
      hint += "; address6 = \"slaac\" lets the jail configure IPv6 from router advertisements";
    if (text == "slaac") hint = "\"slaac\" is only supported for a jail interface's address6";
    error(pos, what + " " + quoted(text) + " is not a valid " + familyName(family) + " CIDR",
          hint);
    return std::nullopt;
  }
  if (cidr->prefix == 0) {
    error(pos,
          what + " " + cidr->toString() + " has prefix length /0, which covers every address",
          std::string("use the subnet's prefix length, e.g. ") + example);
    return std::nullopt;
  }
  // The network and broadcast addresses of a subnet cannot be an interface address.
  if (family == IpFamily::V4 && cidr->prefix <= 30) {
    uint32_t host_bits = static_cast<uint32_t>((uint64_t{1} << (32 - cidr->prefix)) - 1);
    uint32_t a = cidr->address.v4HostOrder();
    uint32_t network = a & ~host_bits;
    if (a == network || a == (network | host_bits)) {
      bool is_network = a == network;
      IpAddress suggestion = IpAddress::v4(is_network ? network + 1 : (network | host_bits) - 1);
      error(pos,
            what + " " + cidr->toString() + " is the " + (is_network ? "network" : "broadcast") +
                " address of its subnet",
            "use a host address such as " + Cidr{suggestion, cidr->prefix}.toString());
      return std::nullopt;
    }
  }
  return cidr;
}

std::optional<Cidr> FieldReader::getHostCidr(const toml::table& t, std::string_view key,
                                             const Scope& scope, IpFamily family) {
  auto text = getString(t, key, scope);
  if (!text) return std::nullopt;
  return parseHostCidr(*text, at(t, key), scope.ref(key), key, family);
}

std::optional<IpAddress> FieldReader::getAddress(const toml::table& t, std::string_view key,
                                                 const Scope& scope, IpFamily family) {
  auto text = getString(t, key, scope);
  if (!text) return std::nullopt;
  Pos pos = at(t, key);
  std::string what = scope.ref(key);
  if (size_t slash = text->find('/'); slash != std::string::npos) {
    if (Cidr::parse(*text)) {
      error(pos, what + " " + quoted(*text) + " must be an address without prefix length",
            "write " + text->substr(0, slash));
      return std::nullopt;
    }
  }
  auto address = IpAddress::parse(*text);
  if (address && address->family != family) {
    error(pos, what + " " + quoted(*text) + " is an " + familyName(address->family) + " address",
          "use " + otherFamilyKey(key, family) + " for " + familyName(address->family));
    return std::nullopt;
  }
  if (!address) {
    error(pos, what + " " + quoted(*text) + " is not a valid " + familyName(family) + " address",
          family == IpFamily::V4 ? "e.g. 198.18.0.1" : "e.g. 2001:db8::1");
    return std::nullopt;
  }
  return address;
}

std::optional<uint32_t> FieldReader::getSize(const toml::table& t, std::string_view key,
                                             const Scope& scope, int64_t min, int64_t max) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  Pos pos = posOf(n->source());
  std::string shown;
  int64_t bytes = 0;
  if (const toml::value<int64_t>* i = n->as_integer()) {
    bytes = i->get();
    shown = std::to_string(bytes);
  } else if (n->is_string()) {
    auto text = getString(t, key, scope);
    if (!text) return std::nullopt;
    auto amount = parseBinaryAmount(*text, "KMG");
    if (!amount) {
      error(pos, scope.ref(key) + " " + quoted(*text) + " is not a size",
            "use bytes or a number with a K, M or G suffix, e.g. \"4M\"");
      return std::nullopt;
    }
    bytes = *amount > static_cast<uint64_t>(max) ? max + 1 : static_cast<int64_t>(*amount);
    shown = *text;
  } else {
    typeError(*n, "an integer or a string", scope.ref(key));
    return std::nullopt;
  }
  if (bytes < min || bytes > max) {
    error(pos, scope.ref(key) + " " + show(shown) + " is out of range",
          "allowed: " + config_text::sizeString(min) + ".." + config_text::sizeString(max));
    return std::nullopt;
  }
  return static_cast<uint32_t>(bytes);
}

}  // namespace vnetd
