#include "cli/vnetctl/status_view.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/naming.h"

namespace vnetd::cli {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

// Typed, non-throwing access to the reply: nlohmann's get<>/operator[] throw on a type
// mismatch, so every read checks the type first and a wrong type reads as "absent".
const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}
std::optional<std::string> getString(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get_ref<const std::string&>();
}
std::optional<bool> getBool(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}
std::optional<int64_t> getInt(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  if (!v || !v->is_number_integer()) return std::nullopt;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return v->get<int64_t>();
}
std::optional<uint64_t> getUnsigned(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  if (!v || !v->is_number_unsigned()) return std::nullopt;
  return v->get<uint64_t>();
}
std::optional<double> getDouble(const Json& obj, const char* key) {
  const Json* v = member(obj, key);
  if (!v || !v->is_number()) return std::nullopt;
  double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}
std::vector<std::string> getStrings(const Json& obj, const char* key) {
  std::vector<std::string> out;
  const Json* v = member(obj, key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : *v)
    if (e.is_string()) out.push_back(e.get_ref<const std::string&>());
  return out;
}
std::optional<uint32_t> getU32(const Json& obj, const char* key) {
  auto v = getUnsigned(obj, key);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

Error malformed(const std::string& what) { return plainError("malformed status reply from vnetd: " + what); }

std::optional<Counters> decodeCounters(const Json& obj) {
  const Json* c = member(obj, "counters");
  if (!c || !c->is_object()) return std::nullopt;
  Counters k;
  struct Field {
    const char* name;
    uint64_t Counters::*field;
  };
  static constexpr Field kFields[] = {
      {"rx_bytes", &Counters::rx_bytes},     {"rx_packets", &Counters::rx_packets},
      {"rx_errors", &Counters::rx_errors},   {"rx_dropped", &Counters::rx_dropped},
      {"tx_bytes", &Counters::tx_bytes},     {"tx_packets", &Counters::tx_packets},
      {"tx_errors", &Counters::tx_errors},   {"tx_dropped", &Counters::tx_dropped}};
  for (const auto& f : kFields) {
    auto v = getUnsigned(*c, f.name);
    if (!v) return std::nullopt;  // a partial set of counters would make wrong rates
    k.*f.field = *v;
  }
  return k;
}

std::optional<Rates> decodeRates(const Json& obj) {
  const Json* r = member(obj, "rates");
  if (!r || !r->is_object()) return std::nullopt;
  auto rx_bps = getDouble(*r, "rx_bps"), tx_bps = getDouble(*r, "tx_bps");
  auto rx_pps = getDouble(*r, "rx_pps"), tx_pps = getDouble(*r, "tx_pps");
  auto seconds = getDouble(*r, "seconds");
  if (!rx_bps || !tx_bps || !rx_pps || !tx_pps || !seconds) return std::nullopt;
  if (*rx_bps < 0 || *tx_bps < 0 || *rx_pps < 0 || *tx_pps < 0 || *seconds <= 0) return std::nullopt;
  return Rates{*rx_bps, *tx_bps, *rx_pps, *tx_pps, *seconds};
}

// `jail` is already validated: it may appear in the message.
Result<InterfaceStatus> decodeInterface(const Json& i, const std::string& jail) {
  const std::string where = "jail '" + jail + "': ";
  if (!i.is_object()) return malformed(where + "an interface is not an object");
  InterfaceStatus s;
  auto host = getString(i, "host_name");
  if (!host) return malformed(where + "an interface has no host_name");
  auto jail_side = getString(i, "jail_name");
  if (!jail_side) return malformed(where + "an interface has no jail_name");
  s.host_name = *host;
  s.jail_name = *jail_side;
  s.bridge = getString(i, "bridge").value_or("");  // "" = not bridged
  for (const auto& [field, name] : {std::pair{"host_name", &s.host_name}, std::pair{"jail_name", &s.jail_name},
                                    std::pair{"bridge", &s.bridge}}) {
    if (field == std::string_view("bridge") && name->empty()) continue;
    if (auto problem = interfaceNameProblem(*name); !problem.empty()) return malformed(where + field + ": " + problem);
  }
  auto index = getU32(i, "index");
  s.index = index.value_or(0);
  s.host_mac = getString(i, "host_mac").value_or("");
  s.jail_mac = getString(i, "jail_mac").value_or("");
  s.addresses = getStrings(i, "addresses");
  if (const Json* h = member(i, "host")) {
    s.host_present = getBool(*h, "present").value_or(false);
    s.host_up = getBool(*h, "up").value_or(false);
    s.host_running = getBool(*h, "running").value_or(false);
    s.in_bridge = getBool(*h, "in_bridge").value_or(false);
    s.mtu = getU32(*h, "mtu");
  }
  if (const Json* j = member(i, "jail")) {
    s.jail_present = getBool(*j, "present").value_or(false);
    s.jail_up = getBool(*j, "up").value_or(false);
    s.jail_running = getBool(*j, "running").value_or(false);
    s.jail_addresses = getStrings(*j, "addresses");
  }
  if (s.host_present) s.counters = decodeCounters(i);
  s.rates = decodeRates(i);
  s.expose = getStrings(i, "expose");
  return s;
}

Result<JailStatus> decodeJail(const Json& j) {
  if (!j.is_object()) return malformed("a jail is not an object");
  JailStatus s;
  auto name = getString(j, "name");
  if (!name) return malformed("a jail has no name");
  // The problem, not the name: a bad name may hold anything, a newline included.
  if (auto problem = jailNameProblem(*name); !problem.empty()) return malformed(problem);
  s.name = *name;
  s.phase = getString(j, "phase").value_or("");
  s.updated_at = getInt(j, "updated_at").value_or(0);
  s.running = getBool(j, "running").value_or(false);
  if (s.running) s.jid = getInt(j, "jid");
  s.flows = getUnsigned(j, "flows");
  s.flows_sample = getUnsigned(j, "flows_sample");
  if (const Json* ifs = member(j, "interfaces")) {
    if (!ifs->is_array()) return malformed("jail '" + s.name + "': interfaces is not a list");
    for (const auto& i : *ifs) {
      auto d = decodeInterface(i, s.name);
      if (!d) return d.error();
      s.interfaces.push_back(std::move(*d));
    }
  }
  return s;
}

Result<BridgeStatus> decodeBridge(const Json& b) {
  if (!b.is_object()) return malformed("a bridge is not an object");
  BridgeStatus s;
  auto name = getString(b, "name");
  if (!name) return malformed("a bridge has no name");
  s.name = *name;
  s.interface = getString(b, "interface").value_or(s.name);
  // The key may be any TOML key (printed through printable()); the interface is a kernel name.
  if (auto problem = interfaceNameProblem(s.interface); !problem.empty())
    return malformed("bridge '" + printable(s.name) + "': " + problem);
  s.present = getBool(b, "present").value_or(false);
  if (s.present) {
    s.up = getBool(b, "up");
    s.mtu = getU32(b, "mtu");
    s.addresses = getStrings(b, "addresses");
    s.jail_members = getUnsigned(b, "jail_members");
  }
  return s;
}

std::string uptime(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  int64_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
  char buf[64];
  if (d > 0) std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(d), static_cast<long long>(h));
  else if (h > 0) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(h), static_cast<long long>(m));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(m), static_cast<long long>(s));
  return buf;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  for (const auto& e : v)
    if (e == x) return true;
  return false;
}

// Width of a cell on a terminal. Names are ASCII by validation; anything else counts as
// one column per code point, which is right for the Latin text an address or MAC never
// contains anyway.
size_t displayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::vector<std::string> alignedLines(const std::vector<std::vector<std::string>>& rows,
                                      const std::vector<bool>& right, size_t gap) {
  std::vector<size_t> widths;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (widths.size() <= c) widths.resize(c + 1, 0);
      widths[c] = std::max(widths[c], displayWidth(r[c]));
    }
  std::vector<std::string> lines;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      size_t pad = widths[c] - displayWidth(r[c]);
      bool alignRight = c < right.size() && right[c];
      if (alignRight) line.append(pad, ' ');
      line += r[c];
      if (!alignRight) line.append(pad, ' ');
      if (c + 1 < r.size()) line.append(gap, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : printable(s); }

bool isLinkLocal6(const std::string& a) {
  // fe80::/10: fe80 .. febf as the first group.
  if (a.size() < 5 || a[4] != ':') return false;
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  return lower(a[0]) == 'f' && lower(a[1]) == 'e' && std::string("89ab").find(lower(a[2])) != std::string::npos;
}

}  // namespace

const char* linkStateName(LinkState s) {
  switch (s) {
    case LinkState::Up: return "up";
    case LinkState::Down: return "down";
    case LinkState::Absent: return "absent";
  }
  return "?";
}

LinkState InterfaceStatus::link(bool jail_running_now) const {
  if (!host_present) return LinkState::Absent;
  if (jail_running_now && !jail_present) return LinkState::Absent;
  if (jail_running_now && jail_up && jail_running) return LinkState::Up;
  return LinkState::Down;
}

Result<StatusSnapshot> decodeStatusReply(std::string_view line) {
  Json doc = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return malformed("not a JSON object");
  auto v = getInt(doc, "v");
  if (!v) return malformed("no protocol version");
  if (*v != 1) return plainError("vnetd speaks control protocol version " + std::to_string(*v) +
                                 ", this vnetctl version 1: use the vnetctl of the same release");
  auto ok = getBool(doc, "ok");
  if (!ok) return malformed("no \"ok\"");
  if (!*ok) return plainError(getString(doc, "error").value_or("vnetd refused the request without saying why"));

  StatusSnapshot s;
  const Json* d = member(doc, "daemon");
  if (!d || !d->is_object()) return malformed("no daemon section");
  s.daemon.version = getString(*d, "version").value_or("");
  s.daemon.pid = getInt(*d, "pid").value_or(0);
  s.daemon.config = getString(*d, "config").value_or("");
  s.daemon.config_digest = getString(*d, "config_digest").value_or("");
  s.daemon.metrics_url = getString(*d, "metrics_url").value_or("");
  s.daemon.uptime_seconds = getInt(*d, "uptime_seconds").value_or(0);

  const Json* jails = member(doc, "jails");
  if (!jails || !jails->is_array()) return malformed("no jails list");
  for (const auto& j : *jails) {
    auto js = decodeJail(j);
    if (!js) return js.error();
    s.jails.push_back(std::move(*js));
  }
  const Json* bridges = member(doc, "bridges");
  if (!bridges || !bridges->is_array()) return malformed("no bridges list");
  for (const auto& b : *bridges) {
    auto bs = decodeBridge(b);
    if (!bs) return bs.error();
    s.bridges.push_back(std::move(*bs));
  }
  return s;
}

std::string formatSi(std::optional<double> value) {
  if (!value || !std::isfinite(*value) || *value < 0) return "-";
  double v = *value;
  static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T", "P", "E"};
  size_t i = 0;
  // Rounding decides the prefix: 999.6 prints as "1.00k", not "1000".
  while (i + 1 < std::size(kSuffix) && std::round(v) >= 1000) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  if (i == 0) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v < 9.995) std::snprintf(buf, sizeof buf, "%.2f%s", v, kSuffix[i]);
  else if (v < 99.95) std::snprintf(buf, sizeof buf, "%.1f%s", v, kSuffix[i]);
  else std::snprintf(buf, sizeof buf, "%.0f%s", v, kSuffix[i]);
  return buf;
}

std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string alignColumns(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right,
                         size_t gap) {
  std::string out;
  for (const auto& l : alignedLines(rows, right, gap)) out += l + "\n";
  return out;
}

std::string renderStatusTable(const StatusSnapshot& s) {
  std::string out;
  {
    const auto& d = s.daemon;
    out += "vnetd " + orDash(d.version) + ", pid " + std::to_string(d.pid) + ", up " + uptime(d.uptime_seconds);
    if (!d.config.empty()) out += ", config " + printable(d.config);
    out += "\n";
    if (!d.metrics_url.empty()) out += "metrics " + printable(d.metrics_url) + "\n";
    out += "\n";
  }

  if (s.jails.empty()) {
    out += "No jails are recorded by vnetd.\n";
  } else {
    // Line 1 of each interface: who and which pair; line 2, indented: where and how much.
    // Split so that a typical entry fits 80 columns even with Linux's 10-digit "jids"
    // (namespace inode numbers) — one line would need ~100.
    std::vector<std::vector<std::string>> first = {{"JAIL", "JID", "UP", "HOST-IF", "JAIL-IF", "LINK"}};
    std::vector<std::vector<std::vector<std::string>>> second;  // per interface: its lines
    second.push_back({{"BRIDGE", "ADDRESS(ES)", "MAC", "RX-bit/s", "TX-bit/s"}});
    for (const auto& j : s.jails) {
      const std::string jid = j.jid ? std::to_string(*j.jid) : "-";
      const std::string up = j.running ? "yes" : "no";
      if (j.interfaces.empty()) {
        first.push_back({printable(j.name), jid, up, "-", "-", "-"});
        second.push_back({{"-", "-", "-", "-", "-"}});
        continue;
      }
      for (const auto& i : j.interfaces) {
        std::optional<double> rx, tx;
        if (i.rates) rx = i.rates->rx_bps, tx = i.rates->tx_bps;
        first.push_back({printable(j.name), jid, up, orDash(i.host_name), orDash(i.jail_name),
                         linkStateName(i.link(j.running))});
        std::string bridge = orDash(i.bridge);
        if (!i.bridge.empty() && i.host_present && !i.in_bridge) bridge += "(out)";
        std::vector<std::string> addrs;
        for (const auto& a : i.addresses) {
          std::string cell = printable(a);
          // A running jail whose side is there but lacks an address vnetd gave it.
          if (j.running && i.jail_present && !contains(i.jail_addresses, a)) cell += "(missing)";
          addrs.push_back(cell);
        }
        if (addrs.empty()) addrs.push_back("-");
        std::vector<std::vector<std::string>> lines;
        lines.push_back({bridge, addrs[0], orDash(i.jail_mac), formatSi(rx), formatSi(tx)});
        for (size_t k = 1; k < addrs.size(); ++k) lines.push_back({"", addrs[k], "", "", ""});
        second.push_back(std::move(lines));
      }
    }
    auto l1 = alignedLines(first, {false, true, false, false, false, false}, 2);
    const size_t indent = 2;
    std::vector<std::vector<std::string>> flat;
    for (const auto& g : second)
      for (const auto& l : g) flat.push_back(l);
    auto l2 = alignedLines(flat, {false, false, false, true, true}, 2);
    size_t k = 0;
    for (size_t r = 0; r < l1.size(); ++r) {
      out += l1[r] + "\n";
      for (size_t n = 0; n < second[r].size(); ++n, ++k)
        if (!l2[k].empty()) out += std::string(indent, ' ') + l2[k] + "\n";
    }
  }

  // Issue 19: the jails' port forwards, one line each.
  std::vector<std::vector<std::string>> forwards = {{"JAIL", "JAIL-IF", "FORWARD (proto/[address:]port[:jail-port])"}};
  for (const auto& j : s.jails)
    for (const auto& i : j.interfaces)
      for (const auto& f : i.expose) forwards.push_back({printable(j.name), orDash(i.jail_name), printable(f)});
  if (forwards.size() > 1) out += "\n" + alignColumns(forwards, {false, false, false});

  if (!s.bridges.empty()) {
    out += "\n";
    std::vector<std::vector<std::string>> rows = {{"BRIDGE", "INTERFACE", "STATE", "MTU", "ADDRESS(ES)", "JAILS"}};
    for (const auto& b : s.bridges) {
      std::string state = !b.present ? "absent" : b.up.value_or(false) ? "up" : "down";
      std::string mtu = b.mtu ? std::to_string(*b.mtu) : "-";
      std::string members = b.jail_members ? std::to_string(*b.jail_members) : "-";
      // Link-local IPv6 addresses appear on every bridge by themselves: noise here (the
      // JSON keeps them).
      std::vector<std::string> addrs;
      for (const auto& a : b.addresses)
        if (!isLinkLocal6(a)) addrs.push_back(printable(a));
      if (addrs.empty()) addrs.push_back("-");
      rows.push_back({printable(b.name), printable(b.interface), state, mtu, addrs[0], members});
      for (size_t k = 1; k < addrs.size(); ++k) rows.push_back({"", "", "", "", addrs[k], ""});
    }
    out += alignColumns(rows, {false, false, false, true, false, true});
  }
  return out;
}

std::string renderStatusJson(const StatusSnapshot& s) {
  auto optU = [](const auto& v) -> OJson { return v ? OJson(*v) : OJson(nullptr); };
  OJson doc = OJson::object();
  doc["version"] = 1;
  doc["daemon"] = {{"version", s.daemon.version},
                   {"pid", s.daemon.pid},
                   {"uptime_seconds", s.daemon.uptime_seconds},
                   {"config", s.daemon.config},
                   {"config_digest", s.daemon.config_digest},
                   {"metrics_url", s.daemon.metrics_url}};
  OJson jails = OJson::array();
  for (const auto& j : s.jails) {
    OJson jo = OJson::object();
    jo["name"] = j.name;
    jo["jid"] = optU(j.jid);
    jo["running"] = j.running;
    jo["phase"] = j.phase;
    jo["updated_at"] = j.updated_at;
    jo["flows"] = optU(j.flows);
    if (j.flows_sample) jo["flows_sample"] = *j.flows_sample;
    OJson ifs = OJson::array();
    for (const auto& i : j.interfaces) {
      OJson io = OJson::object();
      io["index"] = i.index;
      io["host_interface"] = i.host_name;
      io["jail_interface"] = i.jail_name;
      io["bridge"] = i.bridge.empty() ? OJson(nullptr) : OJson(i.bridge);
      io["in_bridge"] = i.in_bridge;
      io["mac"] = i.jail_mac;
      io["host_mac"] = i.host_mac;
      io["addresses"] = i.addresses;
      io["jail_addresses"] = j.running && i.jail_present ? OJson(i.jail_addresses) : OJson(nullptr);
      io["link"] = linkStateName(i.link(j.running));
      io["host_present"] = i.host_present;
      io["host_up"] = i.host_up;
      io["jail_present"] = i.jail_present;
      io["mtu"] = optU(i.mtu);
      io["expose"] = i.expose;
      if (i.rates)
        io["rates"] = {{"rx_bits_per_second", i.rates->rx_bps},
                       {"tx_bits_per_second", i.rates->tx_bps},
                       {"rx_packets_per_second", i.rates->rx_pps},
                       {"tx_packets_per_second", i.rates->tx_pps},
                       {"interval_seconds", i.rates->seconds}};
      else
        io["rates"] = nullptr;
      if (i.counters) {
        const Counters& c = *i.counters;
        io["counters"] = {{"rx_bytes", c.rx_bytes},     {"rx_packets", c.rx_packets}, {"rx_errors", c.rx_errors},
                          {"rx_dropped", c.rx_dropped}, {"tx_bytes", c.tx_bytes},     {"tx_packets", c.tx_packets},
                          {"tx_errors", c.tx_errors},   {"tx_dropped", c.tx_dropped}};
      } else {
        io["counters"] = nullptr;
      }
      ifs.push_back(std::move(io));
    }
    jo["interfaces"] = std::move(ifs);
    jails.push_back(std::move(jo));
  }
  doc["jails"] = std::move(jails);
  OJson bridges = OJson::array();
  for (const auto& b : s.bridges) {
    OJson bo = OJson::object();
    bo["name"] = b.name;
    bo["interface"] = b.interface;
    bo["present"] = b.present;
    bo["up"] = optU(b.up);
    bo["mtu"] = optU(b.mtu);
    bo["addresses"] = b.addresses;
    bo["jail_members"] = optU(b.jail_members);
    bridges.push_back(std::move(bo));
  }
  doc["bridges"] = std::move(bridges);
  // Replace, not throw, on invalid UTF-8 in a name: the output must always be produced.
  return doc.dump(2, ' ', false, OJson::error_handler_t::replace) + "\n";
}

}  // namespace vnetd::cli
