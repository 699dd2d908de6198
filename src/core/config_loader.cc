// TOML text -> validated Config, or every problem found, one line each.
//
// The only translation unit that includes toml++, and the only place in vnetd where
// exceptions are allowed: toml++ reports syntax errors by throwing, and everything is
// caught in parseConfig() so that nothing escapes to callers.
//
// Loading runs in two phases. The first walks the TOML tree section by section and
// checks what a single value can tell (type, range, syntax, unknown keys). The second
// checks relations between sections (references, subnets, duplicates, name
// collisions). A value that failed the first phase is left unset so that it does not
// cause follow-up errors in the second: one mistake, one line.
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <limits>
#include <span>
#include <utility>

#include "core/config.h"
#include "core/hash.h"
#include "vnetd/build_config.h"

namespace vnetd {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::string_view kTopLevelTables[] = {"daemon", "metrics", "capture",      "bridge",
                                                "vlan",   "jail",    "jail_defaults"};
constexpr std::string_view kDaemonKeys[] = {"control_socket",
                                            "control_group",
                                            "state_dir",
                                            "pidfile",
                                            "log_level",
                                            "host_id",
                                            "orphan_grace_seconds",
                                            "reconcile_interval_seconds"};
constexpr std::string_view kMetricsKeys[] = {"listen", "path"};
constexpr std::string_view kCaptureKeys[] = {"enabled",     "snaplen",
                                             "buffer_size", "flow_idle_timeout",
                                             "max_flows",   "flight_recorder_packets"};
constexpr std::string_view kBridgeKeys[] = {"interface", "address", "address6", "mtu",
                                            "uplinks",   "private", "nat"};
constexpr std::string_view kVlanKeys[] = {"parent", "tag"};
constexpr std::string_view kJailKeys[] = {"interface", "limits"};
constexpr std::string_view kInterfaceKeys[] = {"bridge",   "address", "address6", "gateway",
                                               "gateway6", "mtu",     "mac",      "name"};
constexpr int64_t kMinMtu = 576;
constexpr int64_t kMaxMtu = 65535;
constexpr int64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMinCaptureBuffer = int64_t{64} << 10;
constexpr int64_t kMaxCaptureBuffer = int64_t{1} << 30;
constexpr int64_t kMaxFlows = int64_t{16} << 20;
// FreeBSD's sun_path is 104 bytes (Linux: 108) including the NUL.
constexpr size_t kMaxSocketPathLength = 103;
constexpr size_t kMaxGroupNameLength = 32;
// User text echoed in a message is cut here: a message must stay one readable line.
constexpr size_t kMaxShownLength = 64;
constexpr size_t kMaxSyntaxErrorLength = 400;
constexpr size_t kMaxSuggestionDistance = 2;

struct Pos {
  int line = 0;
  int column = 0;
};

Pos posOf(const toml::source_region& region) {
  auto clamp = [](toml::source_index v) {
    return static_cast<int>(std::min<toml::source_index>(v, std::numeric_limits<int>::max()));
  };
  return Pos{clamp(region.begin.line), clamp(region.begin.column)};
}

// Printable form of user text: control bytes escaped, long text cut (on a UTF-8
// character boundary), so that every error stays on one line.
std::string show(std::string_view text, bool escape_quotes = false,
                 size_t max_length = kMaxShownLength) {
  size_t n = text.size();
  bool cut = false;
  if (n > max_length) {
    n = max_length;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
    cut = true;
  }
  std::string out;
  for (char c : text.substr(0, n)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else if (escape_quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  return out;
}

std::string quoted(std::string_view text) { return "'" + show(text) + "'"; }

// A table key as it would be written in a TOML header: bare when possible.
std::string tomlKey(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return bare ? std::string(key) : "\"" + show(key, true) + "\"";
}

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

bool contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Levenshtein distance, or limit + 1 as soon as it must exceed `limit`.
size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  size_t diff = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (diff > limit) return limit + 1;
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    size_t best = row[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
      best = std::min(best, row[j]);
    }
    if (best > limit) return limit + 1;
  }
  return row[b.size()];
}

template <typename Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  std::optional<std::string> best;
  size_t best_distance = kMaxSuggestionDistance + 1;
  for (const auto& candidate : candidates) {
    size_t d = editDistance(word, candidate, kMaxSuggestionDistance);
    // A one- or two-letter word is within distance 2 of too many things to be a hint.
    if (d < best_distance && d < word.size()) {
      best = std::string(candidate);
      best_distance = d;
    }
  }
  return best;
}

std::string joined(Keys keys) {
  std::string out;
  for (std::string_view k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

// "a, b, c" of user-defined table keys, shortened: this is a hint, not a listing.
std::string definedNames(const std::vector<std::string>& names) {
  constexpr size_t kMaxListed = 8;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxListed; ++i)
    out += (i ? ", " : "") + show(names[i]);
  if (names.size() > kMaxListed) out += ", ...";
  return out;
}

std::string keySuggestion(std::string_view word, Keys valid) {
  if (auto best = closest(word, valid)) return "did you mean '" + *best + "'?";
  return "valid keys: " + joined(valid);
}


std::string sizeString(int64_t bytes) {
  if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "G";
  if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes % (int64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

bool isHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

// "host:port" or "[v6]:port" as evhttp binds it. Returns {problem, hint}; an empty
// problem means the value is fine.
std::pair<std::string, std::string> listenProblem(std::string_view value) {
  constexpr const char* kV6Hint = "write IPv6 as [address]:port, e.g. [::1]:10090";
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return {"has no closing ']'", kV6Hint};
    auto address = IpAddress::parse(value.substr(1, close - 1));
    if (!address || address->family != IpFamily::V6)
      return {"has an invalid IPv6 address", kV6Hint};
    if (close + 1 >= value.size() || value[close + 1] != ':') return {"has no port", kV6Hint};
    port = value.substr(close + 2);
  } else {
    size_t colon = value.rfind(':');
    if (colon == std::string_view::npos)
      return {"has no port", "use host:port, e.g. 127.0.0.1:10090"};
    std::string_view host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return {"has an IPv6 address without brackets", kV6Hint};
    if (host.empty()) return {"has no host", "use 0.0.0.0:10090 to listen on every IPv4 address"};
    bool numeric = std::all_of(host.begin(), host.end(),
                               [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    bool ok = numeric ? IpAddress::parse(host).has_value()
                      : host.size() <= 253 && host.front() != '-' && host.front() != '.' &&
                            std::all_of(host.begin(), host.end(), isHostNameChar);
    if (!ok) return {"has an invalid host", "use an IPv4 address or a host name, e.g. 127.0.0.1"};
  }
  auto number = parseBinaryAmount(port, "");
  // Port 0 asks the kernel for a free port (tests, several daemons on one host); the port
  // in use is logged and shown by `status`.
  if (port.size() > 5 || !number || *number > 65535)
    return {"has an invalid port", "use a port in 1..65535, or 0 for any free port"};
  return {};
}

std::string groupNameProblem(std::string_view name) {
  if (name.size() > kMaxGroupNameLength) return "is too long";
  if (!name.empty() && name.front() == '-') return "must not start with '-'";
  if (!std::all_of(name.begin(), name.end(), [](char c) { return isHostNameChar(c) || c == '_'; }))
    return "contains characters other than A-Z a-z 0-9 _ . -";
  return {};
}

// The part of each config struct that only the loader needs: where things were
// written (for messages) and whether a key was present at all (a present but invalid
// value is already reported and must not also count as "missing").
struct BridgeInfo {
  Pos key;
  Pos interface;
  bool interface_given = false;
  Pos address;
  bool address_given = false;
  Pos address6;
  bool mtu_given = false;
  Pos nat;
  std::vector<std::pair<std::string, Pos>> uplinks;  // valid ones, as written
};

struct VlanInfo {
  Pos key;
  Pos tag;
};

struct InterfaceInfo {
  std::string who;  // "jail 'web' interface 0"
  Pos table;
  Pos bridge;
  Pos address;
  bool address_given = false;
  Pos address6;
  bool address6_given = false;
  Pos gateway;
  bool gateway_given = false;
  Pos gateway6;
  bool gateway6_given = false;
  Pos mtu;
  Pos mac;
  Pos name;
  bool name_given = false;
};

struct JailInfo {
  bool name_valid = false;
  std::vector<InterfaceInfo> interfaces;  // parallel to JailConfig::interfaces
};

struct Scope {
  std::string name;  // how messages name the table: "[capture]", "[jail.web] interface 0"
  std::string ref(std::string_view key) const { return name + " " + std::string(key); }
};

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  ConfigLoadResult run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(source_));
    } catch (const toml::parse_error& e) {
      // A syntax error leaves no tree to check further: it is the only error.
      error(posOf(e.source()), show(e.description(), false, kMaxSyntaxErrorLength));
      return finish();
    }
    Config& c = config_;
    c.source = source_;
    c.daemon.control_socket = build::kDefaultControlSocket;
    c.daemon.state_dir = build::kDefaultStateDir;
    c.daemon.pidfile = build::kDefaultPidfile;

    checkTopLevel(root);
    if (const toml::table* t = section(root, "daemon")) loadDaemon(*t);
    if (const toml::table* t = section(root, "metrics")) loadMetrics(*t);
    if (const toml::table* t = section(root, "capture")) loadCapture(*t);
    if (const toml::table* t = section(root, "vlan")) {
      forEachSubtable(*t, "vlan", [&](const std::string& key, Pos key_pos, const toml::table& v) {
        loadVlan(key, key_pos, v);
      });
    }
    if (const toml::table* t = section(root, "bridge")) {
      forEachSubtable(*t, "bridge", [&](const std::string& key, Pos key_pos, const toml::table& b) {
        loadBridge(key, key_pos, b);
      });
    }
    if (const toml::table* t = section(root, "jail_defaults")) {
      JailConfig jail;
      loadJail(std::nullopt, Pos{}, *t, jail, defaults_info_);
      c.jail_defaults = std::move(jail);
    }
    if (const toml::table* t = section(root, "jail")) {
      forEachSubtable(*t, "jail", [&](const std::string& key, Pos key_pos, const toml::table& j) {
        JailConfig jail;
        loadJail(key, key_pos, j, jail, jail_info_[key]);
        c.jails[key] = std::move(jail);
      });
    }

    checkBridges();
    checkVlans();
    if (c.jail_defaults) checkInterfaces(*c.jail_defaults, defaults_info_);
    for (auto& [name, jail] : c.jails) checkInterfaces(jail, jail_info_[name]);
    checkDuplicateAddresses();
    checkInterfaceNames();
    return finish();
  }

  // For failures outside the tree walk (out of memory): one line, no position.
  ConfigLoadResult fail(const std::string& message) {
    errors_.clear();
    error(Pos{}, message);
    return finish();
  }

 private:
  void error(Pos pos, std::string message, std::string hint = {}) {
    ConfigError e;
    e.file = source_;
    e.line = pos.line;
    e.column = pos.column;
    e.message = std::move(message);
    e.hint = std::move(hint);
    errors_.push_back(std::move(e));
  }

  ConfigLoadResult finish() {
    ConfigLoadResult result;
    if (errors_.empty()) {
      result.config = std::move(config_);
    } else {
      std::stable_sort(errors_.begin(), errors_.end(),
                       [](const ConfigError& a, const ConfigError& b) {
                         return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                       });
      result.errors = std::move(errors_);
    }
    return result;
  }

  // ---- Generic helpers ------------------------------------------------------------

  static Pos at(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    return posOf(n ? n->source() : t.source());
  }

  void typeError(const toml::node& node, std::string_view expected, const std::string& what,
                 std::string hint = {}) {
    error(posOf(node.source()),
          "expected " + std::string(expected) + " for " + what + ", got " + typeName(node.type()),
          std::move(hint));
  }

  void checkKeys(const toml::table& t, const Scope& scope, Keys allowed) {
    for (auto&& [key, node] : t) {
      if (contains(allowed, key.str())) continue;
      error(posOf(key.source()), "unknown key " + quoted(key.str()) + " in " + scope.name,
            keySuggestion(key.str(), allowed));
    }
  }

  void checkTopLevel(const toml::table& root) {
    for (auto&& [key, node] : root) {
      const std::string k(key.str());
      Pos pos = posOf(key.source());
      if (contains(kTopLevelTables, k)) {
        if (!node.is_table()) typeError(node, "a table", "[" + k + "]");
        continue;
      }
      std::string hint;
      std::string home = node.is_table() ? std::string() : tableOfKey(k);
      if (!home.empty()) {
        hint = "it belongs in " + home;
      } else if (auto best = closest(k, kTopLevelTables)) {
        hint = "did you mean [" + *best + "]?";
      } else {
        hint = "valid tables: " + joined(kTopLevelTables);
      }
      if (node.is_table()) {
        error(pos, "unknown table [" + tomlKey(k) + "]", hint);
      } else {
        error(pos, "unknown top-level key " + quoted(k), hint);
      }
    }
  }

  // "[capture]" for a key that belongs there, to explain a key written above every table.
  static std::string tableOfKey(std::string_view key) {
    static constexpr std::pair<std::string_view, Keys> kSections[] = {
        {"daemon", kDaemonKeys}, {"metrics", kMetricsKeys}, {"capture", kCaptureKeys}};
    for (const auto& [name, keys] : kSections) {
      if (contains(keys, key)) return "[" + std::string(name) + "]";
    }
    return {};
  }

  static const toml::table* section(const toml::table& root, std::string_view name) {
    const toml::node* n = root.get(name);
    return n ? n->as_table() : nullptr;
  }

  template <typename Fn>
  void forEachSubtable(const toml::table& parent, std::string_view kind, Fn&& fn) {
    for (auto&& [key, node] : parent) {
      if (const toml::table* t = node.as_table()) {
        fn(std::string(key.str()), posOf(key.source()), *t);
      } else {
        typeError(node, "a table", "[" + std::string(kind) + "." + tomlKey(key.str()) + "]");
      }
    }
  }

  std::optional<std::string> getString(const toml::table& t, std::string_view key,
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

  // No key of the schema takes control characters; rejecting them here also keeps
  // them out of paths, names and messages.
  std::optional<std::string> checkedString(const std::string& value, Pos pos,
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

  std::optional<int64_t> getInt(const toml::table& t, std::string_view key, const Scope& scope,
                                int64_t min, int64_t max) {
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

  std::optional<uint32_t> getUint32(const toml::table& t, std::string_view key, const Scope& scope,
                                    int64_t min, int64_t max) {
    auto v = getInt(t, key, scope, min, max);
    return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
  }

  std::optional<bool> getBool(const toml::table& t, std::string_view key, const Scope& scope) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const toml::value<bool>* v = n->as_boolean();
    if (!v) {
      typeError(*n, "a boolean", scope.ref(key));
      return std::nullopt;
    }
    return v->get();
  }

  std::optional<std::string> getAbsolutePath(const toml::table& t, std::string_view key,
                                             const Scope& scope, const char* example) {
    auto v = getString(t, key, scope);
    if (v && (v->empty() || v->front() != '/')) {
      error(at(t, key), scope.ref(key) + " " + quoted(*v) + " is not an absolute path",
            std::string("start it with '/', e.g. ") + example);
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> getInterfaceName(const toml::table& t, std::string_view key,
                                              const Scope& scope) {
    auto v = getString(t, key, scope);
    if (!v) return std::nullopt;
    if (std::string problem = interfaceNameProblem(*v); !problem.empty()) {
      error(at(t, key), scope.ref(key) + " " + quoted(*v) + ": " + problem);
      return std::nullopt;
    }
    return v;
  }

  static const char* familyName(IpFamily f) { return f == IpFamily::V4 ? "IPv4" : "IPv6"; }

  // The key holding the other family: address <-> address6, gateway <-> gateway6.
  static std::string otherFamilyKey(std::string_view key, IpFamily f) {
    return f == IpFamily::V4 ? std::string(key) + "6" : std::string(key.substr(0, key.size() - 1));
  }

  // A host address with prefix length, e.g. a gateway on a bridge or a jail address.
  std::optional<Cidr> parseHostCidr(const std::string& text, Pos pos, const std::string& what,
                                    std::string_view key, IpFamily family) {
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

  std::optional<Cidr> getHostCidr(const toml::table& t, std::string_view key, const Scope& scope,
                                  IpFamily family) {
    auto text = getString(t, key, scope);
    if (!text) return std::nullopt;
    return parseHostCidr(*text, at(t, key), scope.ref(key), key, family);
  }

  std::optional<IpAddress> getAddress(const toml::table& t, std::string_view key,
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

  // ---- Sections ---------------------------------------------------------------------

  void loadDaemon(const toml::table& t) {
    Scope s{"[daemon]"};
    checkKeys(t, s, kDaemonKeys);
    DaemonConfig& d = config_.daemon;
    if (auto v = getAbsolutePath(t, "control_socket", s, build::kDefaultControlSocket)) {
      if (v->size() > kMaxSocketPathLength) {
        error(at(t, "control_socket"),
              s.ref("control_socket") + " is " + std::to_string(v->size()) + " characters long",
              "a unix socket path has at most " + std::to_string(kMaxSocketPathLength));
      } else {
        d.control_socket = *v;
      }
    }
    if (auto v = getString(t, "control_group", s)) {
      if (std::string problem = groupNameProblem(*v); !problem.empty()) {
        error(at(t, "control_group"), s.ref("control_group") + " " + quoted(*v) + " " + problem,
              "use a group name from /etc/group, e.g. wheel");
      } else {
        d.control_group = *v;
      }
    }
    if (auto v = getAbsolutePath(t, "state_dir", s, build::kDefaultStateDir)) d.state_dir = *v;
    if (auto v = getAbsolutePath(t, "pidfile", s, build::kDefaultPidfile)) d.pidfile = *v;
    if (auto v = getString(t, "log_level", s)) {
      if (auto level = log::parseLevel(*v)) {
        d.log_level = *level;
      } else {
        error(at(t, "log_level"), s.ref("log_level") + " " + quoted(*v) + " is not a log level",
              "use error, warning, info or debug");
      }
    }
    if (auto v = getString(t, "host_id", s)) d.host_id = *v;
    if (auto v = getUint32(t, "orphan_grace_seconds", s, 0, kMaxUint32))
      d.orphan_grace_seconds = *v;
    if (auto v = getUint32(t, "reconcile_interval_seconds", s, 1, kMaxUint32))
      d.reconcile_interval_seconds = *v;
  }

  void loadMetrics(const toml::table& t) {
    Scope s{"[metrics]"};
    checkKeys(t, s, kMetricsKeys);
    if (auto v = getString(t, "listen", s)) {
      auto [problem, hint] = listenProblem(*v);
      if (problem.empty()) {
        config_.metrics.listen = *v;
      } else {
        error(at(t, "listen"), s.ref("listen") + " " + quoted(*v) + " " + problem, hint);
      }
    }
    if (auto v = getString(t, "path", s)) {
      if (v->empty() || v->front() != '/') {
        error(at(t, "path"), s.ref("path") + " " + quoted(*v) + " must start with '/'",
              "e.g. /metrics");
      } else if (v->find_first_of(" ?#") != std::string::npos) {
        error(at(t, "path"), s.ref("path") + " " + quoted(*v) + " contains ' ', '?' or '#'",
              "use a plain path, e.g. /metrics");
      } else {
        config_.metrics.path = *v;
      }
    }
  }

  void loadCapture(const toml::table& t) {
    Scope s{"[capture]"};
    checkKeys(t, s, kCaptureKeys);
    CaptureConfig& c = config_.capture;
    if (auto v = getBool(t, "enabled", s)) c.enabled = *v;
    if (auto v = getUint32(t, "snaplen", s, 64, 65535)) c.snaplen = *v;
    if (auto v = getSize(t, "buffer_size", s, kMinCaptureBuffer, kMaxCaptureBuffer))
      c.buffer_bytes = *v;
    if (auto v = getUint32(t, "flow_idle_timeout", s, 1, kMaxUint32))
      c.flow_idle_timeout_seconds = *v;
    if (auto v = getUint32(t, "max_flows", s, 1, kMaxFlows)) c.max_flows = *v;
    if (auto v = getUint32(t, "flight_recorder_packets", s, 0, 1000000))
      c.flight_recorder_packets = *v;
  }

  // Bytes as an integer, or a string with a K/M/G suffix ("4M").
  std::optional<uint32_t> getSize(const toml::table& t, std::string_view key, const Scope& scope,
                                  int64_t min, int64_t max) {
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
            "allowed: " + sizeString(min) + ".." + sizeString(max));
      return std::nullopt;
    }
    return static_cast<uint32_t>(bytes);
  }

  void loadVlan(const std::string& key, Pos key_pos, const toml::table& t) {
    Scope s{"[vlan." + tomlKey(key) + "]"};
    checkKeys(t, s, kVlanKeys);
    VlanConfig vlan;
    VlanInfo& info = vlan_info_[key];
    info.key = key_pos;
    info.tag = at(t, "tag");
    if (std::string problem = interfaceNameProblem(key); !problem.empty()) {
      error(key_pos, "vlan key " + quoted(key) + " is not a valid interface name: " + problem,
            "the key is the kernel name of the vlan, e.g. [vlan.vlan100]");
    } else {
      vlan.name = key;
    }
    if (!t.contains("parent")) {
      error(posOf(t.source()), s.name + " is missing parent",
            "add parent = \"<interface>\", e.g. \"em0\"");
    } else if (auto v = getInterfaceName(t, "parent", s)) {
      vlan.parent = *v;
    }
    if (!t.contains("tag")) {
      error(posOf(t.source()), s.name + " is missing tag", "add tag = <1..4094>");
    } else if (auto v = getInt(t, "tag", s, 1, 4094)) {
      vlan.tag = static_cast<uint16_t>(*v);
    }
    config_.vlans[key] = std::move(vlan);
  }

  void loadBridge(const std::string& key, Pos key_pos, const toml::table& t) {
    Scope s{"[bridge." + tomlKey(key) + "]"};
    checkKeys(t, s, kBridgeKeys);
    BridgeConfig bridge;
    bridge.name = key;
    BridgeInfo& info = bridge_info_[key];
    info.key = key_pos;
    info.interface = at(t, "interface");
    info.interface_given = t.contains("interface");
    if (info.interface_given) {
      if (auto v = getInterfaceName(t, "interface", s)) bridge.interface = *v;
    } else if (std::string problem = interfaceNameProblem(key); !problem.empty()) {
      error(key_pos, "bridge key " + quoted(key) + " is not a valid interface name: " + problem,
            "set interface = \"<kernel name>\" in " + s.name + ", e.g. \"bridge0\"");
    } else {
      bridge.interface = key;
    }
    info.address = at(t, "address");
    info.address_given = t.contains("address");
    bridge.address = getHostCidr(t, "address", s, IpFamily::V4);
    info.address6 = at(t, "address6");
    bridge.address6 = getHostCidr(t, "address6", s, IpFamily::V6);
    info.mtu_given = t.contains("mtu");
    bridge.mtu = getUint32(t, "mtu", s, kMinMtu, kMaxMtu);
    if (const toml::node* n = t.get("uplinks")) {
      if (const toml::array* list = n->as_array()) {
        for (size_t i = 0; i < list->size(); ++i) {
          const toml::node& element = *list->get(i);
          std::string what = s.ref("uplinks") + "[" + std::to_string(i) + "]";
          Pos pos = posOf(element.source());
          const toml::value<std::string>* v = element.as_string();
          if (!v) {
            typeError(element, "a string", what);
            continue;
          }
          auto uplink = checkedString(v->get(), pos, what);
          if (!uplink) continue;
          if (!uplink->starts_with("vlan:")) {
            if (std::string problem = interfaceNameProblem(*uplink); !problem.empty()) {
              error(pos, what + " " + quoted(*uplink) + ": " + problem,
                    "use a host interface name or \"vlan:<key of a [vlan.*] table>\"");
              continue;
            }
          }
          bridge.uplinks.push_back(*uplink);
          info.uplinks.emplace_back(*uplink, pos);
        }
      } else {
        typeError(*n, "an array of strings", s.ref("uplinks"), "e.g. uplinks = [\"em0\"]");
      }
    }
    if (auto v = getBool(t, "private", s)) bridge.private_members = *v;
    info.nat = at(t, "nat");
    if (auto v = getInterfaceName(t, "nat", s)) bridge.nat = *v;
    config_.bridges[key] = std::move(bridge);
  }

  // `name` is nullopt for [jail_defaults].
  void loadJail(const std::optional<std::string>& name, Pos key_pos, const toml::table& t,
                JailConfig& jail, JailInfo& info) {
    bool defaults = !name.has_value();
    std::string path = defaults ? "jail_defaults" : "jail." + tomlKey(*name);
    Scope s{"[" + path + "]"};
    std::string who = defaults ? s.name : "jail " + quoted(*name);
    checkKeys(t, s, kJailKeys);
    if (!defaults) {
      jail.name = *name;
      if (std::string problem = jailNameProblem(*name); !problem.empty()) {
        error(key_pos, "invalid [jail] key " + quoted(*name) + ": " + problem);
      } else {
        info.name_valid = true;
      }
    }

    const toml::node* n = t.get("interface");
    const toml::array* list = n ? n->as_array() : nullptr;
    if (n && !list) {
      typeError(*n, "an array of tables", s.ref("interface"),
                n->is_table() ? "write [[" + path + ".interface]] with double brackets" : "");
    } else if (!list || list->empty()) {
      error(list ? posOf(list->source()) : posOf(t.source()), who + " has no interfaces",
            "add a [[" + path + ".interface]] table with bridge = \"<bridge>\"");
    } else {
      for (size_t i = 0; i < list->size(); ++i) {
        const toml::node& element = *list->get(i);
        if (i >= kMaxInterfacesPerJail) {
          error(posOf(element.source()),
                who + " has " + std::to_string(list->size()) + " interfaces",
                "at most " + std::to_string(kMaxInterfacesPerJail));
          break;
        }
        const auto index = static_cast<unsigned>(i);
        if (const toml::table* iface = element.as_table()) {
          loadInterface(*iface, index, s, who, defaults, jail, info);
        } else {
          typeError(element, "a table", s.ref("interface") + " " + std::to_string(i));
        }
      }
    }

    if (const toml::node* limits = t.get("limits")) {
      if (const toml::table* lt = limits->as_table()) {
        loadLimits(*lt, Scope{"[" + path + ".limits]"}, jail);
      } else {
        typeError(*limits, "a table", "[" + path + ".limits]");
      }
    }
  }

  void loadInterface(const toml::table& t, unsigned index, const Scope& jail_scope,
                     const std::string& jail_who, bool defaults, JailConfig& jail,
                     JailInfo& jail_info) {
    Scope s{jail_scope.name + " interface " + std::to_string(index)};
    checkKeys(t, s, kInterfaceKeys);
    InterfaceConfig iface;
    iface.index = index;
    InterfaceInfo info;
    info.who = jail_who + " interface " + std::to_string(index);
    info.table = posOf(t.source());

    info.bridge = at(t, "bridge");
    if (!t.contains("bridge")) {
      error(info.table, s.name + " is missing bridge",
            "add bridge = \"<key of a [bridge.*] table>\"");
    } else if (auto v = getString(t, "bridge", s)) {
      iface.bridge = *v;
    }

    info.address = at(t, "address");
    info.address_given = t.contains("address");
    if (const toml::node* n = t.get("address"); n && n->value<std::string>() == "auto") {
      iface.address_auto = true;
    } else if (defaults && n) {
      error(info.address, s.ref("address") + " would give every jail the same address",
            "use address = \"auto\"");
    } else {
      iface.address = getHostCidr(t, "address", s, IpFamily::V4);
    }

    info.address6 = at(t, "address6");
    info.address6_given = t.contains("address6");
    if (defaults && info.address6_given) {
      error(info.address6, s.ref("address6") + " would give every jail the same address",
            "set address6 in each [jail.<name>] instead");
    } else {
      iface.address6 = getHostCidr(t, "address6", s, IpFamily::V6);
    }

    info.gateway = at(t, "gateway");
    info.gateway_given = t.contains("gateway");
    iface.gateway = getAddress(t, "gateway", s, IpFamily::V4);
    info.gateway6 = at(t, "gateway6");
    info.gateway6_given = t.contains("gateway6");
    iface.gateway6 = getAddress(t, "gateway6", s, IpFamily::V6);

    info.mtu = at(t, "mtu");
    iface.mtu = getUint32(t, "mtu", s, kMinMtu, kMaxMtu);

    info.mac = at(t, "mac");
    if (defaults && t.contains("mac")) {
      error(info.mac, s.ref("mac") + " would give every jail the same MAC",
            "remove it: every jail gets its own derived MAC");
    } else if (auto v = getString(t, "mac", s)) {
      auto mac = MacAddress::parse(*v);
      if (!mac) {
        error(info.mac, s.ref("mac") + " " + quoted(*v) + " is not a valid MAC address",
              "expected xx:xx:xx:xx:xx:xx, e.g. 02:00:c6:12:00:0a");
      } else if (mac->isMulticast()) {
        error(info.mac, s.ref("mac") + " " + mac->toString() + " is a multicast address",
              "the first octet must be even, e.g. 02:00:c6:12:00:0a");
      } else if (*mac == MacAddress{}) {
        error(info.mac, s.ref("mac") + " " + mac->toString() + " is all zeros",
              "use a locally administered address, e.g. 02:00:c6:12:00:0a");
      } else {
        iface.mac = *mac;
      }
    }

    info.name = at(t, "name");
    info.name_given = t.contains("name");
    if (defaults && info.name_given) {
      error(info.name, s.ref("name") + " would give every jail the same interface name",
            "remove it: every jail gets its own generated name");
    } else if (auto v = getInterfaceName(t, "name", s)) {
      iface.jail_side_name = *v;
    }

    // Generated names need a valid jail name (and exist only for real jails).
    if (jail_info.name_valid) {
      iface.host_side_name = interfaceName(jail.name, index, Side::A);
      if (!info.name_given) iface.jail_side_name = interfaceName(jail.name, index, Side::B);
    }
    jail.interfaces.push_back(std::move(iface));
    jail_info.interfaces.push_back(std::move(info));
  }

  void loadLimits(const toml::table& t, const Scope& s, JailConfig& jail) {
    for (auto&& [key, node] : t) {
      const std::string name(key.str());
      const RctlResource* resource = findRctlResource(name);
      if (!resource) {
        std::vector<std::string_view> names;
        for (const RctlResource& r : rctlResources()) names.push_back(r.name);
        auto best = closest(name, names);
        error(posOf(key.source()), "unknown rctl resource " + quoted(name) + " in " + s.name,
              best ? "did you mean '" + *best + "'?" : "see rctl(8) for resource names");
        continue;
      }
      Pos pos = posOf(node.source());
      std::string what = s.ref(name);
      std::string value;
      if (const toml::value<int64_t>* i = node.as_integer()) {
        value = std::to_string(i->get());
      } else if (const toml::value<std::string>* str = node.as_string()) {
        auto checked = checkedString(str->get(), pos, what);
        if (!checked) continue;
        value = *checked;
      } else {
        typeError(node, "an integer or a string", what);
        continue;
      }
      if (auto limit = rctlLimit(*resource, value, pos, what)) jail.limits[name] = *limit;
    }
  }

  // `value` is "<amount>" (the resource's default action) or "<action>=<amount>", as in
  // an rctl(8) rule. Every refusal names the resource and says what to write instead.
  std::optional<RctlLimit> rctlLimit(const RctlResource& r, const std::string& value, Pos pos,
                                     const std::string& what) {
    const std::string name(r.name);
    std::string_view action = r.default_action;
    std::string_view amount_text = value;
    // An example of what works, with the amount as written: `readbps = "throttle=100M"`.
    auto example = [&](std::string_view a) {
      return name + " = \"" + std::string(a) + "=" + show(amount_text, true) + "\"";
    };
    // What this resource accepts instead, for a hint.
    auto alternative = [&]() -> std::string {
      if (r.actions & kRctlThrottle) return "use throttle, e.g. " + example("throttle");
      if (!r.default_action.empty())
        return "use " + std::string(r.default_action) + ", e.g. " + example(r.default_action);
      return "use log, devctl or a signal, e.g. " + example("sigkill");
    };
    if (size_t eq = value.find('='); eq != std::string::npos) {
      action = std::string_view(value).substr(0, eq);
      amount_text = std::string_view(value).substr(eq + 1);
      if (rctlActionFamily(action) == 0) {
        std::vector<std::string_view> allowed;
        for (std::string_view a : rctlActionNames())
          if (rctlAllows(r, a)) allowed.push_back(a);
        auto best = closest(action, allowed);
        error(pos, what + " " + quoted(value) + " has unknown rctl action " + quoted(action),
              best ? "did you mean '" + *best + "'?" : alternative());
        return std::nullopt;
      }
      if (!rctlAllows(r, action)) {
        error(pos, what + " " + quoted(value) + ": rctl cannot " + std::string(action) + " " + name,
              alternative());
        return std::nullopt;
      }
    }
    auto amount = parseRctlAmount(amount_text);
    if (!amount) {
      error(pos, what + " " + quoted(value) + " is not a valid amount",
            action == r.default_action
                ? "use a non-negative number with an optional K, M, G or T suffix, e.g. \"2G\""
                : "write " + std::string(action) +
                      "=<non-negative number with an optional K, M, G or T suffix>");
      return std::nullopt;
    }
    if (*amount > r.max_amount) {
      error(pos, what + " " + quoted(value) + " is more than rctl accepts",
            "at most " + std::to_string(r.max_amount) + " " + std::string(r.unit));
      return std::nullopt;
    }
    if (action.empty()) {
      error(pos,
            what + " " + quoted(value) + " needs an action: rctl can neither deny nor throttle " +
                name,
            "write " + example("sigkill") + ", or log=, devctl= or another signal");
      return std::nullopt;
    }
    return RctlLimit{std::string(action), *amount};
  }

  // ---- Relations between sections ------------------------------------------------

  void checkBridges() {
    std::vector<std::pair<const std::string*, Cidr>> v4_subnets, v6_subnets;
    for (const auto& entry : config_.bridges) {
      // Not a structured binding: the lambda below captures the key (clang < 16).
      const std::string& key = entry.first;
      const BridgeConfig& bridge = entry.second;
      const BridgeInfo& info = bridge_info_[key];
      for (const auto& [uplink, pos] : info.uplinks) {
        if (!uplink.starts_with("vlan:")) continue;
        std::string vlan = uplink.substr(5);
        if (config_.vlans.count(vlan)) continue;
        std::vector<std::string> names;
        for (const auto& [name, v] : config_.vlans) names.push_back(name);
        std::string hint = names.empty() ? "define it in a [vlan." + tomlKey(vlan) + "] table"
                                         : "defined vlans: " + definedNames(names);
        if (auto best = closest(vlan, names)) hint = "did you mean 'vlan:" + show(*best) + "'?";
        error(pos,
              "uplink " + quoted(uplink) + " of bridge " + quoted(key) +
                  " refers to undefined vlan " + quoted(vlan),
              hint);
      }
      if (!bridge.nat.empty() && !bridge.address && !info.address_given) {
        error(info.nat, "nat on bridge " + quoted(key) + " needs an IPv4 address on the bridge",
              "set address in [bridge." + tomlKey(key) + "], e.g. \"198.18.0.1/24\"");
      }
      auto overlaps = [&](const std::optional<Cidr>& subnet, Pos pos, auto& seen) {
        if (!subnet) return;
        for (const auto& [other_key, other] : seen) {
          if (!subnet->overlaps(other)) continue;
          error(pos,
                "subnet " + Cidr{subnet->network(), subnet->prefix}.toString() + " of bridge " +
                    quoted(key) + " overlaps subnet " +
                    Cidr{other.network(), other.prefix}.toString() + " of bridge " +
                    quoted(*other_key),
                "give each bridge its own subnet");
          return;
        }
        seen.emplace_back(&key, *subnet);
      };
      overlaps(bridge.address, info.address, v4_subnets);
      overlaps(bridge.address6, info.address6, v6_subnets);
    }
  }

  void checkVlans() {
    std::map<std::pair<std::string, uint16_t>, std::string> seen;
    for (const auto& [key, vlan] : config_.vlans) {
      if (vlan.parent.empty() || vlan.tag == 0) continue;
      auto [it, inserted] = seen.emplace(std::pair(vlan.parent, vlan.tag), key);
      if (inserted) continue;
      error(vlan_info_[key].tag,
            "vlan " + quoted(key) + " has the same parent " + vlan.parent + " and tag " +
                std::to_string(vlan.tag) + " as vlan " + quoted(it->second),
            "a parent can carry each tag once");
    }
  }

  static std::string subnetOf(const Cidr& c) { return Cidr{c.network(), c.prefix}.toString(); }

  // Jail address vs. the bridge's subnet: same subnet, same prefix.
  void checkInBridgeSubnet(const Cidr& address, const Cidr& bridge_subnet, Pos pos,
                           const std::string& who, const std::string& bridge, bool auto_ok) {
    std::string subnet = subnetOf(bridge_subnet);
    std::string label = address.address.family == IpFamily::V4 ? "address " : "address6 ";
    if (!bridge_subnet.contains(address.address)) {
      error(pos,
            label + address.toString() + " of " + who + " is outside bridge " + quoted(bridge) +
                " subnet " + subnet,
            "use an address in " + subnet + (auto_ok ? " or \"auto\"" : ""));
    } else if (address.prefix != bridge_subnet.prefix) {
      error(pos,
            label + address.toString() + " of " + who + " has prefix length /" +
                std::to_string(address.prefix) + " but bridge " + quoted(bridge) + " subnet is " +
                subnet,
            "use " + address.address.toString() + "/" + std::to_string(bridge_subnet.prefix));
    }
  }

  // Gateway vs. the interface's own subnet.
  void checkGateway(const std::optional<IpAddress>& gateway, bool gateway_given, Pos pos,
                    const std::optional<Cidr>& subnet, const std::optional<Cidr>& own,
                    bool address_given, const std::string& key, const std::string& who) {
    if (!gateway) return;
    if (!subnet) {
      // An invalid address is already reported; only a missing one is news.
      if (!address_given && gateway_given) {
        std::string address_key = key == "gateway" ? "address" : "address6";
        error(pos,
              key + " " + gateway->toString() + " of " + who + " needs an " + address_key +
                  " on the same interface",
              "set " + address_key + ", or remove " + key);
      }
      return;
    }
    if (!subnet->contains(*gateway)) {
      error(pos,
            key + " " + gateway->toString() + " of " + who + " is outside its subnet " +
                subnetOf(*subnet),
            "use an address in " + subnetOf(*subnet) + ", or remove " + key +
                " to use the bridge address");
    } else if (own && own->address == *gateway) {
      error(pos, key + " " + gateway->toString() + " of " + who + " is the interface's own address",
            "use the router's address, e.g. the bridge address");
    }
  }

  void checkInterfaces(JailConfig& jail, JailInfo& jail_info) {
    for (size_t i = 0; i < jail.interfaces.size(); ++i) {
      InterfaceConfig& iface = jail.interfaces[i];
      const InterfaceInfo& info = jail_info.interfaces[i];
      if (iface.bridge.empty()) continue;  // missing or mistyped: already reported
      auto it = config_.bridges.find(iface.bridge);
      if (it == config_.bridges.end()) {
        std::vector<std::string> names;
        for (const auto& [name, b] : config_.bridges) names.push_back(name);
        std::string hint = names.empty()
                               ? "define it in a [bridge." + tomlKey(iface.bridge) + "] table"
                               : "defined bridges: " + definedNames(names);
        if (auto best = closest(iface.bridge, names)) hint = "did you mean '" + show(*best) + "'?";
        error(info.bridge, info.who + " refers to undefined bridge " + quoted(iface.bridge), hint);
        continue;
      }
      const BridgeConfig& bridge = it->second;
      const BridgeInfo& bridge_info = bridge_info_[iface.bridge];
      const std::string bridge_table = "[bridge." + tomlKey(iface.bridge) + "]";

      // IPv4.
      if (iface.address_auto && !bridge.address && !bridge_info.address_given) {
        error(info.address,
              "address \"auto\" of " + info.who + " needs an IPv4 address on bridge " +
                  quoted(iface.bridge),
              "set address in " + bridge_table + ", or give a static address");
      }
      if (iface.address && bridge.address)
        checkInBridgeSubnet(*iface.address, *bridge.address, info.address, info.who, iface.bridge,
                            true);
      std::optional<Cidr> subnet = iface.address;
      if (!subnet && iface.address_auto) subnet = bridge.address;
      checkGateway(iface.gateway, info.gateway_given, info.gateway, subnet, iface.address,
                   info.address_given, "gateway", info.who);
      if (!info.gateway_given && subnet && bridge.address) iface.gateway = bridge.address->address;

      // IPv6 (no "auto": SLAAC or static only).
      if (iface.address6 && bridge.address6)
        checkInBridgeSubnet(*iface.address6, *bridge.address6, info.address6, info.who,
                            iface.bridge, false);
      checkGateway(iface.gateway6, info.gateway6_given, info.gateway6, iface.address6,
                   iface.address6, info.address6_given, "gateway6", info.who);
      if (!info.gateway6_given && iface.address6 && bridge.address6)
        iface.gateway6 = bridge.address6->address;

      // Every member of a bridge runs at the bridge's MTU (FreeBSD forces members to it), so
      // a per-interface value can only restate it or contradict it.
      if (iface.mtu) {
        if (bridge.mtu && *iface.mtu != *bridge.mtu) {
          error(info.mtu,
                "mtu " + std::to_string(*iface.mtu) + " of " + info.who + " differs from bridge " +
                    quoted(iface.bridge) + " mtu " + std::to_string(*bridge.mtu),
                "remove the key: bridge members always use the bridge mtu");
        } else if (!bridge.mtu && !bridge_info.mtu_given) {
          error(info.mtu,
                "mtu " + std::to_string(*iface.mtu) + " of " + info.who + " is set but bridge " +
                    quoted(iface.bridge) + " has no mtu",
                "remove the key and set mtu in " + bridge_table + " instead");
        }
      } else {
        iface.mtu = bridge.mtu;
      }
    }
  }

  void checkDuplicateAddresses() {
    std::map<IpAddress, std::string> owners;
    std::map<MacAddress, std::string> mac_owners;
    for (const auto& [key, bridge] : config_.bridges) {
      // Two bridges with one address also overlap, which is reported already.
      if (bridge.address) owners.emplace(bridge.address->address, "bridge " + quoted(key));
      if (bridge.address6) owners.emplace(bridge.address6->address, "bridge " + quoted(key));
    }
    auto claim = [&](const std::optional<Cidr>& address, Pos pos, const std::string& who,
                     const char* label, const char* hint) {
      if (!address) return;
      auto [it, inserted] = owners.emplace(address->address, who);
      if (!inserted) {
        error(pos,
              std::string(label) + " " + address->toString() + " of " + who +
                  " is already used by " + it->second,
              hint);
      }
    };
    for (const auto& [name, jail] : config_.jails) {
      const JailInfo& jail_info = jail_info_[name];
      for (size_t i = 0; i < jail.interfaces.size(); ++i) {
        const InterfaceConfig& iface = jail.interfaces[i];
        const InterfaceInfo& info = jail_info.interfaces[i];
        claim(iface.address, info.address, info.who, "address",
              "choose another address or \"auto\"");
        claim(iface.address6, info.address6, info.who, "address6", "choose another address");
        if (iface.mac) {
          auto [it, inserted] = mac_owners.emplace(*iface.mac, info.who);
          if (!inserted) {
            error(info.mac,
                  "mac " + iface.mac->toString() + " of " + info.who + " is already used by " +
                      it->second,
                  "choose another MAC, or remove the key to get a derived one");
          }
        }
      }
    }
  }

  // Every kernel interface name vnetd creates or uses on the host must be unique. The
  // jail side is named on the host too (it is created there, then moved), so jail-side
  // names are unique across jails. Generated names are claimed first so that a clash
  // is reported at the value the administrator chose.
  void checkInterfaceNames() {
    std::map<std::string, std::string> owners;
    auto claim = [&](const std::string& name, const std::string& owner, Pos pos,
                     const std::string& hint) {
      if (name.empty()) return;
      auto [it, inserted] = owners.emplace(name, owner);
      if (inserted) return;
      error(
          pos,
          "interface name " + quoted(name) + " for " + owner + " is already used by " + it->second,
          hint);
    };
    auto each_interface = [&](auto&& fn) {
      for (const auto& [name, jail] : config_.jails) {
        const JailInfo& jail_info = jail_info_[name];
        for (size_t i = 0; i < jail.interfaces.size(); ++i)
          fn(jail.interfaces[i], jail_info.interfaces[i]);
      }
    };
    each_interface([&](const InterfaceConfig& iface, const InterfaceInfo& info) {
      claim(iface.host_side_name, "the host side of " + info.who, info.table,
            "rename one of the jails");
    });
    each_interface([&](const InterfaceConfig& iface, const InterfaceInfo& info) {
      if (!info.name_given)
        claim(iface.jail_side_name, "the jail side of " + info.who, info.table,
              "rename one of the jails");
    });
    for (const auto& [key, bridge] : config_.bridges) {
      const BridgeInfo& info = bridge_info_[key];
      claim(bridge.interface, "bridge " + quoted(key),
            info.interface_given ? info.interface : info.key,
            "give each bridge its own interface name");
    }
    for (const auto& [key, vlan] : config_.vlans) {
      claim(vlan.name, "vlan " + quoted(key), vlan_info_[key].key,
            "rename the [vlan." + tomlKey(key) + "] table");
    }
    std::map<std::string, std::string> vlan_users;
    for (const auto& [key, bridge] : config_.bridges) {
      for (const auto& [uplink, pos] : bridge_info_[key].uplinks) {
        if (uplink.starts_with("vlan:")) {
          auto [it, inserted] = vlan_users.emplace(uplink.substr(5), key);
          if (!inserted && config_.vlans.count(it->first)) {
            error(pos,
                  "vlan " + quoted(it->first) + " is already an uplink of bridge " +
                      quoted(it->second),
                  "an interface can be a member of one bridge only");
          }
          continue;
        }
        std::string hint = "an interface can be a member of one bridge only";
        if (config_.vlans.count(uplink)) hint = "write \"vlan:" + uplink + "\" to use the vlan";
        claim(uplink, "an uplink of bridge " + quoted(key), pos, hint);
      }
    }
    each_interface([&](const InterfaceConfig& iface, const InterfaceInfo& info) {
      if (info.name_given)
        claim(iface.jail_side_name, "the jail side of " + info.who, info.name,
              "choose another name");
    });
  }

  std::string source_;
  Config config_;
  std::vector<ConfigError> errors_;
  std::map<std::string, BridgeInfo> bridge_info_;
  std::map<std::string, VlanInfo> vlan_info_;
  std::map<std::string, JailInfo> jail_info_;
  JailInfo defaults_info_;
};

}  // namespace

std::string configDigest(std::string_view text) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(StableHash().add(text).digest()));
  return hex;
}

ConfigLoadResult parseConfig(std::string_view text, const std::string& source_name) {
  try {
    ConfigLoadResult r = Loader(source_name).run(text);
    if (r.config) r.config->digest = configDigest(text);
    return r;
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here; the loader reports bad input as errors.
    try {
      return Loader(source_name).fail(std::string("cannot load configuration: ") + e.what());
    } catch (...) {
      return ConfigLoadResult{};
    }
  } catch (...) {
    return ConfigLoadResult{};
  }
}

std::optional<uint64_t> parseBinaryAmount(std::string_view text, std::string_view suffixes) {
  unsigned shift = 0;
  if (!text.empty()) {
    char last = text.back();
    if (last >= 'a' && last <= 'z') last = static_cast<char>(last - 'a' + 'A');
    size_t i = suffixes.find(last);
    if (i != std::string_view::npos) {
      shift = static_cast<unsigned>(10 * (i + 1));
      text.remove_suffix(1);
    }
  }
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace vnetd
