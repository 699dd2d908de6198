#include "cli/vnetctl/status_view.h"

#include <cerrno>
#include <functional>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/vnetctl/vnetctl.h"

namespace vnetd::cli {
namespace {

using Json = nlohmann::json;

// An interface as Daemon::statusReply writes it.
Json iface(const std::string& jail, const std::string& addr, const std::string& mac, bool with_rates = true) {
  Json i = {{"index", 0},
            {"host_name", "e0a_" + jail},
            {"jail_name", "e0b_" + jail},
            {"host_mac", "02:00:00:00:00:0a"},
            {"jail_mac", mac},
            {"bridge", "bridge0"},
            {"addresses", {addr}},
            {"host", {{"present", true}, {"up", true}, {"running", true}, {"mtu", 1500}, {"in_bridge", true}}},
            {"jail", {{"present", true}, {"up", true}, {"running", true}, {"addresses", {addr}}}},
            {"counters",
             {{"rx_bytes", 1000},
              {"rx_packets", 10},
              {"rx_errors", 0},
              {"rx_dropped", 1},
              {"tx_bytes", 2000},
              {"tx_packets", 20},
              {"tx_errors", 0},
              {"tx_dropped", 2}}}};
  if (with_rates)
    i["rates"] = {{"rx_bps", 12300000.0}, {"tx_bps", 1234.0}, {"rx_pps", 1000.0}, {"tx_pps", 3.0}, {"seconds", 2.0}};
  return i;
}

Json reply() {
  Json web = {{"name", "webserver"}, {"phase", "created"}, {"updated_at", 1700000000}, {"running", true},
              {"jid", 12},           {"flows", 7},         {"interfaces", {iface("webserver", "198.18.0.10/24", "02:58:a3:11:22:33")}}};
  Json db = {{"name", "db"},    {"phase", "created"}, {"updated_at", 1700000001}, {"running", true},
             {"jid", 3},        {"interfaces", {iface("db", "198.18.0.11/24", "02:58:a3:11:22:44", false)}}};
  // Recorded, not running: no jid, its side is not in any jail.
  Json cache = {{"name", "cache"}, {"phase", "prestart"}, {"updated_at", 1700000002}, {"running", false},
                {"interfaces", {iface("cache", "198.18.0.12/24", "02:58:a3:11:22:55", false)}}};
  cache["interfaces"][0]["jail"] = {{"present", false}};
  Json bridges = Json::array({{{"name", "jailnet"},
                               {"interface", "bridge0"},
                               {"present", true},
                               {"up", true},
                               {"mtu", 1500},
                               {"addresses", {"198.18.0.1/24", "fe80::6c78:ebff:fea8:d504/64"}},
                               {"jail_members", 3}},
                              {{"name", "dmz"}, {"interface", "bridge1"}, {"present", false}}});
  return {{"v", 1},
          {"ok", true},
          {"daemon",
           {{"version", "0.1.0"},
            {"pid", 4242},
            {"config", "/usr/local/etc/vnetd.toml"},
            {"config_digest", "0123456789abcdef"},
            {"uptime_seconds", 3725},
            {"metrics_url", "http://127.0.0.1:10090/metrics"}}},
          {"bridges", bridges},
          {"jails", {web, db, cache}},
          {"counters", Json::object()}};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(StatusView, DecodesTheDaemonsReply) {
  auto s = decodeStatusReply(reply().dump());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->daemon.pid, 4242);
  EXPECT_EQ(s->daemon.uptime_seconds, 3725);
  ASSERT_EQ(s->jails.size(), 3u);
  const auto& web = s->jails[0];
  EXPECT_EQ(web.name, "webserver");
  EXPECT_EQ(web.jid, 12);
  EXPECT_EQ(web.flows, 7u);
  ASSERT_EQ(web.interfaces.size(), 1u);
  const auto& i = web.interfaces[0];
  EXPECT_EQ(i.host_name, "e0a_webserver");
  EXPECT_EQ(i.jail_mac, "02:58:a3:11:22:33");
  ASSERT_TRUE(i.counters);
  EXPECT_EQ(i.counters->tx_dropped, 2u);
  ASSERT_TRUE(i.rates);
  EXPECT_DOUBLE_EQ(i.rates->rx_bps, 12300000.0);
  EXPECT_EQ(i.link(true), LinkState::Up);
  EXPECT_FALSE(s->jails[1].flows);
  EXPECT_FALSE(s->jails[1].interfaces[0].rates);
  EXPECT_FALSE(s->jails[2].jid);
  EXPECT_EQ(s->jails[2].interfaces[0].link(false), LinkState::Down);
  ASSERT_EQ(s->bridges.size(), 2u);
  EXPECT_EQ(s->bridges[0].jail_members, 3u);
  EXPECT_EQ(s->bridges[0].addresses.size(), 2u) << "decoded as sent; the table leaves link-local out";
  EXPECT_FALSE(s->bridges[1].present);
  EXPECT_FALSE(s->bridges[1].up);
}

TEST(StatusView, DaemonErrorsComeThroughAsTheyAreAndGarbageIsRejected) {
  auto e = decodeStatusReply(R"({"v":1,"ok":false,"error":"no jail 'x' is recorded by vnetd"})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "no jail 'x' is recorded by vnetd");

  for (const char* bad : {"", "null", "[]", "{", R"({"v":1})", R"({"v":"1","ok":true})",
                          R"({"v":1,"ok":true,"daemon":{},"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":{},"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":[1],"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":[{"name":5}],"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":[{"name":"a","interfaces":{}}],"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":[{"name":"a","interfaces":[{}]}],"bridges":[]})",
                          R"({"v":1,"ok":true,"daemon":{},"jails":[],"bridges":[{"up":true}]})"}) {
    auto r = decodeStatusReply(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message().rfind("malformed status reply from vnetd: ", 0), 0u) << r.error().message();
  }
  auto v2 = decodeStatusReply(R"({"v":2,"ok":true})");
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error().message().find("version 2"), std::string::npos);
}

TEST(StatusView, WrongTypesReadAsUnknownNeverThrow) {
  Json r = reply();
  auto& i = r["jails"][0]["interfaces"][0];
  i["counters"]["rx_bytes"] = "lots";  // a partial counter set is dropped as a whole
  i["rates"]["seconds"] = -1;          // nonsense rates are dropped
  i["host"]["mtu"] = 1e12;
  r["jails"][0]["jid"] = "12";
  r["jails"][0]["flows"] = -3;
  r["daemon"]["pid"] = Json::array();
  auto s = decodeStatusReply(r.dump());
  ASSERT_TRUE(s) << s.error().message();
  const auto& web = s->jails[0];
  EXPECT_FALSE(web.jid);
  EXPECT_FALSE(web.flows);
  EXPECT_FALSE(web.interfaces[0].counters);
  EXPECT_FALSE(web.interfaces[0].rates);
  EXPECT_FALSE(web.interfaces[0].mtu);
  EXPECT_EQ(s->daemon.pid, 0);
}

TEST(StatusView, FormatSiKeepsThreeSignificantDigitsInFiveCharacters) {
  EXPECT_EQ(formatSi(0.0), "0");
  EXPECT_EQ(formatSi(0.4), "0");
  EXPECT_EQ(formatSi(950.0), "950");
  EXPECT_EQ(formatSi(999.4), "999");
  EXPECT_EQ(formatSi(999.6), "1.00k");
  EXPECT_EQ(formatSi(1234.0), "1.23k");
  EXPECT_EQ(formatSi(9996.0), "10.0k");
  EXPECT_EQ(formatSi(12345.0), "12.3k");
  EXPECT_EQ(formatSi(99960.0), "100k");
  EXPECT_EQ(formatSi(123456.0), "123k");
  EXPECT_EQ(formatSi(999600.0), "1.00M");
  EXPECT_EQ(formatSi(12.3e6), "12.3M");
  EXPECT_EQ(formatSi(1.5e9), "1.50G");
  EXPECT_EQ(formatSi(4e13), "40.0T");
  EXPECT_EQ(formatSi(std::nullopt), "-");
  EXPECT_EQ(formatSi(-1.0), "-");
  EXPECT_EQ(formatSi(std::nan("")), "-");
  EXPECT_EQ(formatSi(HUGE_VAL), "-");
  for (double v = 0; v < 1e18; v = v * 1.7 + 1) EXPECT_LE(formatSi(v).size(), 5u) << v;
}

TEST(StatusView, AlignColumnsPadsToTheWidestCellAndCutsTrailingBlanks) {
  EXPECT_EQ(alignColumns({{"A", "NUM", "Z"}, {"long", "7", ""}, {"x", "12345", "end"}}, {false, true, false}),
            "A       NUM  Z\n"
            "long      7\n"
            "x     12345  end\n");
  EXPECT_EQ(alignColumns({}, {}), "");
}

TEST(StatusView, TableHasTwoAlignedLinesPerInterfaceWithinEightyColumns) {
  auto s = decodeStatusReply(reply().dump());
  ASSERT_TRUE(s);
  std::string t = renderStatusTable(*s);
  auto ls = lines(t);
  for (const auto& l : ls) {
    EXPECT_LE(l.size(), 80u) << l;
    EXPECT_TRUE(l.empty() || l.back() != ' ') << "no trailing blanks: '" << l << "'";
  }
  EXPECT_EQ(ls[0], "vnetd 0.1.0, pid 4242, up 1h02m, config /usr/local/etc/vnetd.toml");
  EXPECT_EQ(ls[1], "metrics http://127.0.0.1:10090/metrics");
  // Exact layout: columns as wide as their widest cell, numbers right-aligned, line 2
  // indented by two.
  const std::vector<std::string> want = {
      "JAIL       JID  UP   HOST-IF        JAIL-IF        LINK",
      "  BRIDGE   ADDRESS(ES)     MAC                RX-bit/s  TX-bit/s",
      "webserver   12  yes  e0a_webserver  e0b_webserver  up",
      "  bridge0  198.18.0.10/24  02:58:a3:11:22:33     12.3M     1.23k",
      "db           3  yes  e0a_db         e0b_db         up",
      "  bridge0  198.18.0.11/24  02:58:a3:11:22:44         -         -",
      "cache        -  no   e0a_cache      e0b_cache      down",
      "  bridge0  198.18.0.12/24  02:58:a3:11:22:55         -         -",
      "",
      "BRIDGE   INTERFACE  STATE    MTU  ADDRESS(ES)    JAILS",
      "jailnet  bridge0    up      1500  198.18.0.1/24      3",
      "dmz      bridge1    absent     -  -                  -",
  };
  ASSERT_GE(ls.size(), 3 + want.size()) << t;
  for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(ls[3 + k], want[k]) << t;
}

TEST(StatusView, TableMarksProblemsAndWidensForLongNames) {
  Json r = reply();
  auto& i = r["jails"][0]["interfaces"][0];
  i["host"]["in_bridge"] = false;
  i["addresses"].push_back("fd00:18::10/64");
  i["jail"]["addresses"] = {"198.18.0.10/24"};  // the v6 address is missing inside
  r["jails"][1]["interfaces"][0]["jail"] = {{"present", false}};
  r["jails"][1]["name"] = "a-jail-with-a-rather-long-name-for-sure";
  auto s = decodeStatusReply(r.dump());
  ASSERT_TRUE(s);
  std::string t = renderStatusTable(*s);
  auto ls = lines(t);
  EXPECT_NE(t.find("bridge0(out)  198.18.0.10/24"), std::string::npos) << t;
  bool v6_line = false;
  for (const auto& l : ls)
    if (l.find("fd00:18::10/64(missing)") != std::string::npos) {
      v6_line = true;
      EXPECT_EQ(l.find("02:"), std::string::npos) << "a further address gets its own line: " << l;
    }
  EXPECT_TRUE(v6_line) << t;
  bool long_row = false;
  for (const auto& l : ls)
    if (l.rfind("a-jail-with-a-rather-long-name-for-sure  ", 0) == 0) {
      long_row = true;
      EXPECT_TRUE(l.ends_with(" absent")) << "running jail without its side: " << l;
    }
  EXPECT_TRUE(long_row) << "never truncated:\n" << t;
}

TEST(StatusView, NoJailsAndHostileNames) {
  Json r = reply();
  r["jails"] = Json::array();
  auto s = decodeStatusReply(r.dump());
  ASSERT_TRUE(s);
  EXPECT_NE(renderStatusTable(*s).find("No jails are recorded by vnetd.\n"), std::string::npos);
  EXPECT_EQ(printable("a\x1b[2Jb\x7f"), "a?[2Jb?");
  // Names are validated (below); what has no naming rule reaches the terminal only
  // through printable().
  r = reply();
  r["jails"][0]["interfaces"][0]["jail_mac"] = "evil\x1b]0;title\x07";
  r["jails"][0]["interfaces"][0]["addresses"] = {"198.18.0.10/24\x1b[2J"};
  r["bridges"][1]["name"] = "dmz\x1b[31m";  // a bridge's key is any TOML key
  s = decodeStatusReply(r.dump());
  ASSERT_TRUE(s) << s.error().message();
  std::string t = renderStatusTable(*s);
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_NE(t.find("evil?]0;title?"), std::string::npos) << t;
  EXPECT_NE(t.find("198.18.0.10/24?[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("dmz?[31m"), std::string::npos) << t;
}

// Jail and interface names end up in terminals and in vnetctl doctor's printed fix
// commands (`ip link set dev NAME up`): a reply naming one badly is malformed, and the
// message says what is wrong without repeating the bad name.
TEST(StatusView, NamesVnetdWouldNotMakeAreAMalformedReply) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string what;  // after "malformed status reply from vnetd: "
  };
  const std::string chars = " (allowed: A-Z a-z 0-9 _ . -)";
  auto web = [](Json& r) -> Json& { return r["jails"][0]["interfaces"][0]; };
  const std::vector<Case> cases = {
      {[](Json& r) { r["jails"][0]["name"] = "evil\x1b]0;title\x07"; }, "jail name contains 0x1b" + chars},
      {[](Json& r) { r["jails"][0]["name"] = "web\nFAIL  forged"; }, "jail name contains 0x0a" + chars},
      {[](Json& r) { r["jails"][1]["name"] = ".hidden"; }, "jail name must not start with '.'"},
      {[](Json& r) { r["jails"][1]["name"] = ""; }, "jail name is empty"},
      {[](Json& r) { r["jails"][2]["name"] = std::string(65, 'a'); },
       "jail name is 65 characters long (at most 64)"},
      {[&](Json& r) { web(r)["host_name"] = "e0a web"; },
       "jail 'webserver': host_name: interface name contains ' '" + chars},
      {[&](Json& r) { web(r)["jail_name"] = "e0b_web;reboot"; },
       "jail 'webserver': jail_name: interface name contains ';'" + chars},
      {[&](Json& r) { web(r)["jail_name"] = "e0b_webserver_xx"; },
       "jail 'webserver': jail_name: interface name is 16 characters long (at most 15)"},
      {[&](Json& r) { web(r).erase("jail_name"); }, "jail 'webserver': an interface has no jail_name"},
      {[&](Json& r) { web(r)["jail_name"] = 7; }, "jail 'webserver': an interface has no jail_name"},
      {[&](Json& r) { web(r)["bridge"] = "-br0"; }, "jail 'webserver': bridge: interface name must not start with '-'"},
      {[](Json& r) { r["bridges"][0]["interface"] = "br$(id)"; },
       "bridge 'jailnet': interface name contains '$'" + chars},
      {[](Json& r) { r["bridges"][1] = {{"name", "a b"}, {"present", false}}; },
       "bridge 'a b': interface name contains ' '" + chars},
  };
  for (const auto& c : cases) {
    Json r = reply();
    c.edit(r);
    auto d = decodeStatusReply(r.dump());
    ASSERT_FALSE(d) << c.what;
    EXPECT_EQ(d.error().message(), "malformed status reply from vnetd: " + c.what);
  }

  // What the daemon really sends stays accepted: an interface without a bridge, a bridge
  // keyed by its interface name, names at their longest.
  Json r = reply();
  web(r)["bridge"] = "";
  r["bridges"][1].erase("interface");
  r["jails"][1]["name"] = std::string(64, 'j');
  r["jails"][1]["interfaces"][0]["host_name"] = "e0a_jjjjjjjjjjj";
  auto d = decodeStatusReply(r.dump());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->jails[0].interfaces[0].bridge, "");
  EXPECT_EQ(d->bridges[1].interface, "dmz");
  EXPECT_EQ(d->jails[1].name, std::string(64, 'j'));
}

TEST(StatusView, JsonHasTheDocumentedSchemaWithEveryKeyAlwaysPresent) {
  auto s = decodeStatusReply(reply().dump());
  ASSERT_TRUE(s);
  std::string out = renderStatusJson(*s);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  Json doc = Json::parse(out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << out;
  EXPECT_EQ(doc["version"], 1);
  auto keys = [](const Json& o) {
    std::vector<std::string> k;
    for (auto it = o.begin(); it != o.end(); ++it) k.push_back(it.key());
    std::sort(k.begin(), k.end());
    return k;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(keys(doc), (V{"bridges", "daemon", "jails", "version"}));
  EXPECT_EQ(keys(doc["daemon"]), (V{"config", "config_digest", "metrics_url", "pid", "uptime_seconds", "version"}));
  const V jail_keys = {"flows", "interfaces", "jid", "name", "phase", "running", "updated_at"};
  const V iface_keys = {"addresses", "bridge",       "counters",       "expose",         "host_interface",
                        "host_mac",  "host_present", "host_up",        "in_bridge",      "index",
                        "jail_addresses", "jail_interface", "jail_present", "link",      "mac",
                        "mtu",       "rates"};
  ASSERT_EQ(doc["jails"].size(), 3u);
  for (const auto& j : doc["jails"]) {
    EXPECT_EQ(keys(j), jail_keys);
    for (const auto& i : j["interfaces"]) EXPECT_EQ(keys(i), iface_keys);
  }
  const Json& web = doc["jails"][0];
  EXPECT_EQ(web["name"], "webserver");
  EXPECT_EQ(web["jid"], 12);
  EXPECT_EQ(web["flows"], 7);
  const Json& wi = web["interfaces"][0];
  EXPECT_EQ(wi["host_interface"], "e0a_webserver");
  EXPECT_EQ(wi["mac"], "02:58:a3:11:22:33");
  EXPECT_EQ(wi["addresses"], Json({"198.18.0.10/24"}));
  EXPECT_EQ(wi["link"], "up");
  EXPECT_EQ(keys(wi["rates"]), (V{"interval_seconds", "rx_bits_per_second", "rx_packets_per_second",
                                  "tx_bits_per_second", "tx_packets_per_second"}));
  EXPECT_EQ(wi["rates"]["rx_bits_per_second"], 12300000.0);
  EXPECT_EQ(wi["counters"]["tx_dropped"], 2);
  EXPECT_EQ(keys(wi["counters"]), (V{"rx_bytes", "rx_dropped", "rx_errors", "rx_packets", "tx_bytes", "tx_dropped",
                                     "tx_errors", "tx_packets"}));
  // Unknowns are null, not missing.
  EXPECT_TRUE(doc["jails"][1]["flows"].is_null());
  EXPECT_TRUE(doc["jails"][1]["interfaces"][0]["rates"].is_null());
  EXPECT_TRUE(doc["jails"][2]["jid"].is_null());
  EXPECT_TRUE(doc["jails"][2]["interfaces"][0]["jail_addresses"].is_null());
  EXPECT_EQ(doc["jails"][2]["interfaces"][0]["link"], "down");
  ASSERT_EQ(doc["bridges"].size(), 2u);
  EXPECT_EQ(keys(doc["bridges"][0]), (V{"addresses", "interface", "jail_members", "mtu", "name", "present", "up"}));
  EXPECT_EQ(doc["bridges"][0]["addresses"].size(), 2u) << "JSON keeps link-local addresses";
  EXPECT_TRUE(doc["bridges"][1]["up"].is_null());
  EXPECT_TRUE(doc["bridges"][1]["jail_members"].is_null());
  // Key order is the documented one (insertion order), for humans reading it.
  EXPECT_LT(out.find("\"version\""), out.find("\"daemon\""));
  EXPECT_LT(out.find("\"daemon\""), out.find("\"jails\""));
}

// The line vnetctl prints when the daemon cannot answer (shared by every sub-command).
TEST(StatusView, DaemonFailureLineSaysWhatToDo) {
  control::CallResult r;
  r.failure = control::CallFailure::Unreachable;
  r.error = Error{ENOENT, "connect /run/vnetd.sock"};
  EXPECT_EQ(daemonFailureLine(r),
            "vnetd is not running (connect /run/vnetd.sock: No such file or directory); start it with "
            "'service vnetd start'");
  r.error.code = ECONNREFUSED;
  EXPECT_EQ(daemonFailureLine(r).rfind("vnetd is not running (", 0), 0u);
  EXPECT_FALSE(daemonAccessDenied(r));
  r.error.code = EPERM;
  EXPECT_TRUE(daemonAccessDenied(r)) << "doctor's WARN 'cannot reach' reads the same rule";
  r.error.code = EACCES;  // a running daemon the user may not talk to is not "not running"
  EXPECT_TRUE(daemonAccessDenied(r));
  EXPECT_EQ(daemonFailureLine(r),
            "cannot reach vnetd (connect /run/vnetd.sock: Permission denied); run vnetctl as root or as a "
            "member of the [daemon] control_group");
  r.failure = control::CallFailure::Timeout;
  EXPECT_FALSE(daemonAccessDenied(r)) << "only a refused connect";
  r.error = Error{0, "no reply from vnetd within 10000 ms"};
  EXPECT_EQ(daemonFailureLine(r).rfind("vnetd did not answer (no reply from vnetd within 10000 ms)", 0), 0u);
  r.failure = control::CallFailure::Lost;
  EXPECT_EQ(daemonFailureLine(r).rfind("vnetd closed the connection without a reply (", 0), 0u);
}

// Issue 19: the forwards the daemon lists per interface are decoded, shown one per line
// under their jail, and kept in the JSON.
TEST(StatusView, ListsEachJailsForwards) {
  Json r = reply();
  r["jails"][0]["interfaces"][0]["expose"] = {"tcp/8080:80", "udp/[2001:db8::1]:53"};
  auto s = decodeStatusReply(r.dump());
  ASSERT_TRUE(s) << s.error().message();
  std::string text = renderStatusTable(*s);
  EXPECT_NE(text.find("FORWARD"), std::string::npos) << text;
  EXPECT_NE(text.find("tcp/8080:80\n"), std::string::npos) << text;
  EXPECT_NE(text.find("udp/[2001:db8::1]:53\n"), std::string::npos) << text;
  Json doc = Json::parse(renderStatusJson(*s), nullptr, false);
  bool found = false;
  for (const auto& j : doc["jails"])
    for (const auto& i : j["interfaces"])
      if (i["expose"] == Json{"tcp/8080:80", "udp/[2001:db8::1]:53"}) found = true;
  EXPECT_TRUE(found);
  // Without forwards there is no forward table at all.
  auto none = decodeStatusReply(reply().dump());
  ASSERT_TRUE(none);
  EXPECT_EQ(renderStatusTable(*none).find("FORWARD"), std::string::npos);
}

}  // namespace
}  // namespace vnetd::cli
