#include "core/config_sections.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "core/config_fields.h"
#include "core/config_text.h"
#include "core/listen_address.h"
#include "core/log.h"
#include "core/naming.h"
#include "core/rctl_resources.h"
#include "vnetd/build_config.h"

namespace vnetd {
namespace {

using config_text::closest;
using config_text::joined;
using config_text::Keys;
using config_text::quoted;
using config_text::show;
using config_text::tomlKey;

constexpr std::string_view kTopLevelTables[] = {"daemon", "metrics", "capture",      "bridge",
                                                "vlan",   "jail",    "jail_defaults"};
constexpr std::string_view kDaemonKeys[] = {"control_socket",
                                            "control_group",
                                            "state_dir",
                                            "pidfile",
                                            "log_level",
                                            "host_id",
                                            "orphan_grace_seconds",
                                            "reconcile_interval_seconds",
                                            "manage_forwarding"};
constexpr std::string_view kMetricsKeys[] = {"listen", "path"};
constexpr int64_t kMaxCaptureSample = 65536;
constexpr std::string_view kCaptureKeys[] = {"enabled",     "snaplen",
                                             "buffer_size", "flow_idle_timeout",
                                             "max_flows",   "flight_recorder_packets",
                                             "sample"};
constexpr std::string_view kBridgeKeys[] = {"interface", "address", "address6", "mtu",
                                            "uplinks",   "private", "nat",
                                            "router_advertisements"};
constexpr std::string_view kVlanKeys[] = {"parent", "tag"};
constexpr std::string_view kJailKeys[] = {"interface", "limits"};
constexpr std::string_view kInterfaceKeys[] = {"bridge",   "address", "address6", "gateway",
                                               "gateway6", "mtu",     "mac",      "name",
                                               "expose"};
constexpr int64_t kMinMtu = 576;
constexpr int64_t kMaxMtu = 65535;
constexpr int64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMinCaptureBuffer = int64_t{64} << 10;
constexpr int64_t kMaxCaptureBuffer = int64_t{1} << 30;
constexpr int64_t kMaxFlows = int64_t{16} << 20;
// FreeBSD's sun_path is 104 bytes (Linux: 108) including the NUL. The FreeBSD bound on
// every platform, so that a config checked on Linux says what FreeBSD would.
constexpr size_t kMaxSocketPathLength = 103;
constexpr size_t kMaxGroupNameLength = 32;

bool isGroupNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

std::string groupNameProblem(std::string_view name) {
  if (name.size() > kMaxGroupNameLength) return "is too long";
  if (!name.empty() && name.front() == '-') return "must not start with '-'";
  if (!std::all_of(name.begin(), name.end(), isGroupNameChar))
    return "contains characters other than A-Z a-z 0-9 _ . -";
  return {};
}

// "error, warning, info or debug": the names log::parseLevel() reads.
std::string logLevelNames() {
  constexpr log::Level kLevels[] = {log::Level::Error, log::Level::Warning, log::Level::Info,
                                    log::Level::Debug};
  std::string out;
  for (size_t i = 0; i < std::size(kLevels); ++i) {
    if (i > 0) out += i + 1 == std::size(kLevels) ? " or " : ", ";
    out += log::levelName(kLevels[i]);
  }
  return out;
}

class SectionReader {
 public:
  SectionReader(Config& config, ConfigPositions& positions, ConfigErrors& errors)
      : config_(config), positions_(positions), fields_(errors) {}

  void run(const toml::table& root) {
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
      loadJail(std::nullopt, Pos{}, *t, jail, positions_.jail_defaults);
      config_.jail_defaults = std::move(jail);
    }
    if (const toml::table* t = section(root, "jail")) {
      forEachSubtable(*t, "jail", [&](const std::string& key, Pos key_pos, const toml::table& j) {
        JailConfig jail;
        loadJail(key, key_pos, j, jail, positions_.jails[key]);
        config_.jails[key] = std::move(jail);
      });
    }
  }

 private:
  void error(Pos pos, std::string message, std::string hint = {}) {
    fields_.error(pos, std::move(message), std::move(hint));
  }
  static Pos at(const toml::table& t, std::string_view key) { return FieldReader::at(t, key); }

  void checkTopLevel(const toml::table& root) {
    for (auto&& [key, node] : root) {
      const std::string k(key.str());
      Pos pos = posOf(key.source());
      if (config_text::contains(kTopLevelTables, k)) {
        if (!node.is_table()) fields_.typeError(node, "a table", "[" + k + "]");
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
      if (config_text::contains(keys, key)) return "[" + std::string(name) + "]";
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
        fields_.typeError(node, "a table",
                          "[" + std::string(kind) + "." + tomlKey(key.str()) + "]");
      }
    }
  }

  void loadDaemon(const toml::table& t) {
    Scope s{"[daemon]"};
    fields_.checkKeys(t, s, kDaemonKeys);
    DaemonConfig& d = config_.daemon;
    if (auto v = fields_.getAbsolutePath(t, "control_socket", s, build::kDefaultControlSocket)) {
      if (v->size() > kMaxSocketPathLength) {
        error(at(t, "control_socket"),
              s.ref("control_socket") + " is " + std::to_string(v->size()) + " characters long",
              "a unix socket path has at most " + std::to_string(kMaxSocketPathLength));
      } else {
        d.control_socket = *v;
      }
    }
    if (auto v = fields_.getString(t, "control_group", s)) {
      if (std::string problem = groupNameProblem(*v); !problem.empty()) {
        error(at(t, "control_group"), s.ref("control_group") + " " + quoted(*v) + " " + problem,
              "use a group name from /etc/group, e.g. wheel");
      } else {
        d.control_group = *v;
      }
    }
    if (auto v = fields_.getAbsolutePath(t, "state_dir", s, build::kDefaultStateDir))
      d.state_dir = *v;
    if (auto v = fields_.getAbsolutePath(t, "pidfile", s, build::kDefaultPidfile)) d.pidfile = *v;
    if (auto v = fields_.getString(t, "log_level", s)) {
      if (auto level = log::parseLevel(*v)) {
        d.log_level = *level;
      } else {
        error(at(t, "log_level"), s.ref("log_level") + " " + quoted(*v) + " is not a log level",
              "use " + logLevelNames());
      }
    }
    if (auto v = fields_.getString(t, "host_id", s)) d.host_id = *v;
    if (auto v = fields_.getUint32(t, "orphan_grace_seconds", s, 0, kMaxUint32))
      d.orphan_grace_seconds = *v;
    if (auto v = fields_.getUint32(t, "reconcile_interval_seconds", s, 1, kMaxUint32))
      d.reconcile_interval_seconds = *v;
    if (auto v = fields_.getBool(t, "manage_forwarding", s)) d.manage_forwarding = *v;
  }

  void loadMetrics(const toml::table& t) {
    Scope s{"[metrics]"};
    fields_.checkKeys(t, s, kMetricsKeys);
    if (auto v = fields_.getString(t, "listen", s)) {
      ListenAddressParse listen = parseListenAddress(*v);
      if (listen.ok()) {
        config_.metrics.listen = *v;
      } else {
        error(at(t, "listen"), s.ref("listen") + " " + quoted(*v) + " " + listen.problem,
              listen.hint);
      }
    }
    if (auto v = fields_.getString(t, "path", s)) {
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
    fields_.checkKeys(t, s, kCaptureKeys);
    CaptureConfig& c = config_.capture;
    if (auto v = fields_.getBool(t, "enabled", s)) c.enabled = *v;
    if (auto v = fields_.getUint32(t, "snaplen", s, 64, 65535)) c.snaplen = *v;
    if (auto v = fields_.getSize(t, "buffer_size", s, kMinCaptureBuffer, kMaxCaptureBuffer))
      c.buffer_bytes = *v;
    if (auto v = fields_.getUint32(t, "flow_idle_timeout", s, 1, kMaxUint32))
      c.flow_idle_timeout_seconds = *v;
    if (auto v = fields_.getUint32(t, "max_flows", s, 1, kMaxFlows)) c.max_flows = *v;
    if (auto v = fields_.getUint32(t, "flight_recorder_packets", s, 0, 1000000))
      c.flight_recorder_packets = *v;
    // Any integer: the kernel filter compares a 32-bit hash with 2^32 / N, so N need not
    // be a power of two. 65536 keeps the estimates usable (a frame stands for N).
    if (auto v = fields_.getUint32(t, "sample", s, 1, kMaxCaptureSample)) c.sample = *v;
  }

  void loadVlan(const std::string& key, Pos key_pos, const toml::table& t) {
    Scope s{"[vlan." + tomlKey(key) + "]"};
    fields_.checkKeys(t, s, kVlanKeys);
    VlanConfig vlan;
    VlanPositions& info = positions_.vlans[key];
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
    } else if (auto v = fields_.getInterfaceName(t, "parent", s)) {
      vlan.parent = *v;
    }
    if (!t.contains("tag")) {
      error(posOf(t.source()), s.name + " is missing tag", "add tag = <1..4094>");
    } else if (auto v = fields_.getInt(t, "tag", s, 1, 4094)) {
      vlan.tag = static_cast<uint16_t>(*v);
    }
    config_.vlans[key] = std::move(vlan);
  }

  void loadBridge(const std::string& key, Pos key_pos, const toml::table& t) {
    Scope s{"[bridge." + tomlKey(key) + "]"};
    fields_.checkKeys(t, s, kBridgeKeys);
    BridgeConfig bridge;
    bridge.name = key;
    BridgePositions& info = positions_.bridges[key];
    info.key = key_pos;
    info.interface = at(t, "interface");
    info.interface_given = t.contains("interface");
    if (info.interface_given) {
      if (auto v = fields_.getInterfaceName(t, "interface", s)) bridge.interface = *v;
    } else if (std::string problem = interfaceNameProblem(key); !problem.empty()) {
      error(key_pos, "bridge key " + quoted(key) + " is not a valid interface name: " + problem,
            "set interface = \"<kernel name>\" in " + s.name + ", e.g. \"bridge0\"");
    } else {
      bridge.interface = key;
    }
    info.address = at(t, "address");
    info.address_given = t.contains("address");
    bridge.address = fields_.getHostCidr(t, "address", s, IpFamily::V4);
    info.address6 = at(t, "address6");
    bridge.address6 = fields_.getHostCidr(t, "address6", s, IpFamily::V6);
    info.mtu_given = t.contains("mtu");
    bridge.mtu = fields_.getUint32(t, "mtu", s, kMinMtu, kMaxMtu);
    if (const toml::node* n = t.get("uplinks")) {
      if (const toml::array* list = n->as_array()) {
        for (size_t i = 0; i < list->size(); ++i) {
          const toml::node& element = *list->get(i);
          std::string what = s.ref("uplinks") + "[" + std::to_string(i) + "]";
          Pos pos = posOf(element.source());
          const toml::value<std::string>* v = element.as_string();
          if (!v) {
            fields_.typeError(element, "a string", what);
            continue;
          }
          auto uplink = fields_.checkedString(v->get(), pos, what);
          if (!uplink) continue;
          if (!uplinkVlanKey(*uplink)) {
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
        fields_.typeError(*n, "an array of strings", s.ref("uplinks"), "e.g. uplinks = [\"em0\"]");
      }
    }
    if (auto v = fields_.getBool(t, "private", s)) bridge.private_members = *v;
    info.nat = at(t, "nat");
    if (auto v = fields_.getInterfaceName(t, "nat", s)) bridge.nat = *v;
    loadRouterAdvertisements(t, s, bridge, info);
    config_.bridges[key] = std::move(bridge);
  }

  // [bridge.X] router_advertisements (issue 19, SLAAC); the /64 rule is validateConfig's.
  void loadRouterAdvertisements(const toml::table& t, const Scope& s, BridgeConfig& bridge,
                                BridgePositions& info) {
    info.router_advertisements = at(t, "router_advertisements");
    info.address6_given = t.contains("address6");
    if (auto v = fields_.getBool(t, "router_advertisements", s)) bridge.router_advertisements = *v;
  }

  // address6 = "slaac" (issue 19): no address of its own, so [jail_defaults] may say it
  // too (every jail forms its own from its own MAC). True when the value was "slaac".
  bool loadSlaac(const toml::table& t, InterfaceConfig& iface) {
    const toml::node* n = t.get("address6");
    if (!n || n->value<std::string>() != "slaac") return false;
    iface.address6_slaac = true;
    return true;
  }

  // `name` is nullopt for [jail_defaults].
  void loadJail(const std::optional<std::string>& name, Pos key_pos, const toml::table& t,
                JailConfig& jail, JailPositions& info) {
    bool defaults = !name.has_value();
    std::string path = defaults ? "jail_defaults" : "jail." + tomlKey(*name);
    Scope s{"[" + path + "]"};
    std::string who = defaults ? s.name : "jail " + quoted(*name);
    fields_.checkKeys(t, s, kJailKeys);
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
      fields_.typeError(*n, "an array of tables", s.ref("interface"),
                        n->is_table() ? "write [[" + path + ".interface]] with double brackets"
                                      : "");
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
          fields_.typeError(element, "a table", s.ref("interface") + " " + std::to_string(i));
        }
      }
    }

    if (const toml::node* limits = t.get("limits")) {
      if (const toml::table* lt = limits->as_table()) {
        loadLimits(*lt, Scope{"[" + path + ".limits]"}, jail);
      } else {
        fields_.typeError(*limits, "a table", "[" + path + ".limits]");
      }
    }
  }

  void loadInterface(const toml::table& t, unsigned index, const Scope& jail_scope,
                     const std::string& jail_who, bool defaults, JailConfig& jail,
                     JailPositions& jail_info) {
    Scope s{jail_scope.name + " interface " + std::to_string(index)};
    fields_.checkKeys(t, s, kInterfaceKeys);
    InterfaceConfig iface;
    iface.index = index;
    InterfacePositions info;
    info.who = jail_who + " interface " + std::to_string(index);
    info.table = posOf(t.source());

    info.bridge = at(t, "bridge");
    if (!t.contains("bridge")) {
      error(info.table, s.name + " is missing bridge",
            "add bridge = \"<key of a [bridge.*] table>\"");
    } else if (auto v = fields_.getString(t, "bridge", s)) {
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
      iface.address = fields_.getHostCidr(t, "address", s, IpFamily::V4);
    }

    info.address6 = at(t, "address6");
    info.address6_given = t.contains("address6");
    if (loadSlaac(t, iface)) {
      // no static address: validateConfig checks gateway6 against it
    } else if (defaults && info.address6_given) {
      error(info.address6, s.ref("address6") + " would give every jail the same address",
            "set address6 in each [jail.<name>] instead");
    } else {
      iface.address6 = fields_.getHostCidr(t, "address6", s, IpFamily::V6);
    }

    info.gateway = at(t, "gateway");
    info.gateway_given = t.contains("gateway");
    iface.gateway = fields_.getAddress(t, "gateway", s, IpFamily::V4);
    info.gateway6 = at(t, "gateway6");
    info.gateway6_given = t.contains("gateway6");
    iface.gateway6 = fields_.getAddress(t, "gateway6", s, IpFamily::V6);

    info.mtu = at(t, "mtu");
    iface.mtu = fields_.getUint32(t, "mtu", s, kMinMtu, kMaxMtu);

    info.mac = at(t, "mac");
    if (defaults && t.contains("mac")) {
      error(info.mac, s.ref("mac") + " would give every jail the same MAC",
            "remove it: every jail gets its own derived MAC");
    } else if (auto v = fields_.getString(t, "mac", s)) {
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
    } else if (auto v = fields_.getInterfaceName(t, "name", s)) {
      iface.jail_side_name = *v;
    }

    loadExpose(t, s, defaults, iface, info);

    // Generated names need a valid jail name (and exist only for real jails).
    if (jail_info.name_valid) {
      iface.host_side_name = interfaceName(jail.name, index, Side::A);
      if (!info.name_given) iface.jail_side_name = interfaceName(jail.name, index, Side::B);
    }
    jail.interfaces.push_back(std::move(iface));
    jail_info.interfaces.push_back(std::move(info));
  }

  // Issue 19: `expose = ["tcp/8080:80", ...]` (core/expose.h grammar). Each element's error
  // points into the string when toml++ gives it a one-line plain form (no escapes), else at
  // the string.
  void loadExpose(const toml::table& t, const Scope& s, bool defaults, InterfaceConfig& iface,
                  InterfacePositions& info) {
    const toml::node* n = t.get("expose");
    if (!n) return;
    if (defaults) {
      error(posOf(n->source()), s.ref("expose") + " would give every jail the same external ports",
            "set expose in each [jail.<name>] instead");
      return;
    }
    const toml::array* list = n->as_array();
    if (!list) {
      fields_.typeError(*n, "an array of strings", s.ref("expose"), "e.g. expose = [\"tcp/8080:80\"]");
      return;
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& element = *list->get(i);
      std::string what = s.ref("expose") + "[" + std::to_string(i) + "]";
      Pos pos = posOf(element.source());
      const toml::value<std::string>* v = element.as_string();
      if (!v) {
        fields_.typeError(element, "a string", what, "e.g. \"tcp/8080:80\"");
        continue;
      }
      auto text = fields_.checkedString(v->get(), pos, what);
      if (!text) continue;
      ExposeParse parsed = parseExpose(*text);
      if (!parsed.rule) {
        const toml::source_region& r = element.source();
        Pos at = pos;
        // "..." or '...' on one line holding exactly the text: column of the offending byte.
        if (r.begin.line == r.end.line && r.end.column == r.begin.column + text->size() + 2)
          at.column += static_cast<int>(parsed.offset) + 1;
        error(at, what + " " + quoted(*text) + " " + parsed.problem, parsed.hint);
        continue;
      }
      iface.expose.push_back(*parsed.rule);
      info.expose.push_back(pos);
    }
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
        auto checked = fields_.checkedString(str->get(), pos, what);
        if (!checked) continue;
        value = *checked;
      } else {
        fields_.typeError(node, "an integer or a string", what);
        continue;
      }
      if (auto limit = rctlLimit(*resource, value, pos, what)) jail.limits[name] = *limit;
    }
  }

  // parseRctlLimit() (rctl_resources.h) decides; this says what to write instead. Every
  // refusal names the resource.
  std::optional<RctlLimit> rctlLimit(const RctlResource& r, const std::string& value, Pos pos,
                                     const std::string& what) {
    RctlLimitParse parsed = parseRctlLimit(r, value);
    const std::string name(r.name);
    const std::string action(parsed.action);
    // An example of what works, with the amount as written: `readbps = "throttle=100M"`.
    auto example = [&](std::string_view a) {
      return name + " = \"" + std::string(a) + "=" + show(parsed.amount, true) + "\"";
    };
    // What this resource accepts instead, for a hint.
    auto alternative = [&]() -> std::string {
      std::string_view instead = rctlSuggestedAction(r);
      if (!instead.empty()) return "use " + std::string(instead) + ", e.g. " + example(instead);
      return "use log, devctl or a signal, e.g. " + example("sigkill");
    };
    switch (parsed.problem) {
      case RctlLimitProblem::None:
        return parsed.limit;
      case RctlLimitProblem::UnknownAction: {
        std::vector<std::string_view> allowed;
        for (std::string_view a : rctlActionNames())
          if (rctlAllows(r, a)) allowed.push_back(a);
        auto best = closest(action, allowed);
        error(pos, what + " " + quoted(value) + " has unknown rctl action " + quoted(action),
              best ? "did you mean '" + *best + "'?" : alternative());
        return std::nullopt;
      }
      case RctlLimitProblem::ActionNotAllowed:
        error(pos, what + " " + quoted(value) + ": rctl cannot " + action + " " + name,
              alternative());
        return std::nullopt;
      case RctlLimitProblem::BadAmount:
        error(pos, what + " " + quoted(value) + " is not a valid amount",
              parsed.action == r.default_action
                  ? "use a non-negative number with an optional K, M, G or T suffix, e.g. \"2G\""
                  : "write " + action +
                        "=<non-negative number with an optional K, M, G or T suffix>");
        return std::nullopt;
      case RctlLimitProblem::AboveMaximum:
        error(pos, what + " " + quoted(value) + " is more than rctl accepts",
              "at most " + std::to_string(r.max_amount) + " " + std::string(r.unit));
        return std::nullopt;
      case RctlLimitProblem::NeedsAction:
        error(pos,
              what + " " + quoted(value) +
                  " needs an action: rctl can neither deny nor throttle " + name,
              "write " + example("sigkill") + ", or log=, devctl= or another signal");
        return std::nullopt;
    }
    return std::nullopt;
  }

  Config& config_;
  ConfigPositions& positions_;
  FieldReader fields_;
};

}  // namespace

std::span<const std::string_view> configTopLevelTables() { return kTopLevelTables; }

std::span<const ConfigTableSchema> configSchema() {
  // [jail_defaults] is read by loadJail() like a [jail.*] table, its interfaces by
  // loadInterface().
  static constexpr ConfigTableSchema kSchema[] = {
      {"daemon", kDaemonKeys}, {"metrics", kMetricsKeys},    {"capture", kCaptureKeys},
      {"vlan.*", kVlanKeys},   {"bridge.*", kBridgeKeys},    {"jail.*", kJailKeys},
      {"jail_defaults", kJailKeys}, {"jail.*.interface", kInterfaceKeys}};
  return kSchema;
}

void readSections(const toml::table& root, Config& config, ConfigPositions& positions,
                  ConfigErrors& errors) {
  SectionReader(config, positions, errors).run(root);
}

}  // namespace vnetd
