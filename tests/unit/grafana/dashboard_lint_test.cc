// Offline lint of the Grafana dashboards in grafana/dashboards/: the rules an admin relies
// on when importing or provisioning them (issue 7), checked without Grafana or Prometheus.
// Broken copies in tests/fixtures/grafana/ prove that each rule actually fires.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "collectors/capture_aggregator.h"
#include "collectors/jail_counters.h"
#include "tests/unit/grafana/dashboard_model.h"

namespace vnetd::testing::grafana {
namespace {

namespace fs = std::filesystem;

const std::string kSource = VNETD_SOURCE_DIR;

// ----------------------------------------------------------------- docs/metrics.md

struct DocumentedMetric {
  std::string type;             // counter, gauge, histogram
  std::set<std::string> labels; // as the table lists them
};

// The metric tables of docs/metrics.md: rows "| `name` | type | labels | meaning |".
std::map<std::string, DocumentedMetric> documentedMetrics(const std::string& markdown) {
  std::map<std::string, DocumentedMetric> out;
  std::istringstream in(markdown);
  std::string line;
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(" \t"));
    s.erase(s.find_last_not_of(" \t") + 1);
    return s;
  };
  while (std::getline(in, line)) {
    if (line.rfind("| `vnetd_", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    std::string cell;
    while (std::getline(row, cell, '|')) cells.push_back(trim(cell));
    if (cells.size() < 3) continue;
    std::string name = cells[0].substr(1, cells[0].find('`', 1) - 1);
    DocumentedMetric m;
    m.type = cells[1].substr(0, cells[1].find(' '));
    // Only the metric tables: the "renamed in this version" table names old metrics.
    if (m.type != "counter" && m.type != "gauge" && m.type != "histogram") continue;
    std::stringstream labels(cells[2]);
    std::string l;
    while (std::getline(labels, l, ','))
      if (l = trim(l); !l.empty() && l != "—") m.labels.insert(l);
    out[name] = m;
  }
  return out;
}

// --------------------------------------------------------------------------- PromQL

bool identStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool identChar(char c) { return identStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Index just past the bracket that closes the one at `open` (string literals skipped);
// npos when it never closes.
size_t closing(const std::string& e, size_t open) {
  char o = e[open], c = o == '(' ? ')' : o == '{' ? '}' : ']';
  int depth = 0;
  for (size_t i = open; i < e.size(); ++i) {
    if (e[i] == '"' || e[i] == '\'') {
      char q = e[i];
      for (++i; i < e.size() && e[i] != q; ++i)
        if (e[i] == '\\') ++i;
      continue;
    }
    if (e[i] == o) ++depth;
    if (e[i] == c && --depth == 0) return i + 1;
  }
  return std::string::npos;
}

size_t skipSpace(const std::string& e, size_t i) {
  while (i < e.size() && std::isspace(static_cast<unsigned char>(e[i]))) ++i;
  return i;
}

struct Selector {
  std::string metric;
  std::map<std::string, std::string> matchers;  // label -> op + quoted value, e.g. =~"$job"
};

// The vector selectors of an expression: metric names (identifiers that are not functions,
// keywords, label names or durations) with their {...} matchers.
std::vector<Selector> selectors(const std::string& e) {
  // Aggregation operators may be followed by "by (...)" instead of their "(".
  static const std::set<std::string> kKeywords = {
      "by",     "without", "on",   "ignoring", "group_left", "group_right", "bool",     "and",
      "or",     "unless",  "offset", "inf",    "nan",        "atan2",       "sum",      "min",
      "max",    "avg",     "count", "stddev",  "stdvar",     "group",       "topk",     "bottomk",
      "quantile", "count_values", "limitk", "limit_ratio"};
  static const std::set<std::string> kLabelLists = {"by", "without", "on", "ignoring", "group_left", "group_right"};
  std::vector<Selector> out;
  for (size_t i = 0; i < e.size();) {
    char c = e[i];
    if (c == '"' || c == '\'' || c == '[') {  // strings, ranges and durations hold no metric
      size_t end = c == '[' ? closing(e, i) : e.find(c, i + 1);
      i = end == std::string::npos ? e.size() : (c == '[' ? end : end + 1);
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {  // numbers, 1e3, 0x1f
      while (i < e.size() && (identChar(e[i]) || e[i] == '.')) ++i;
      continue;
    }
    if (c == '{') {  // a selector without a metric name
      size_t end = closing(e, i);
      out.push_back({"", {}});
      i = end == std::string::npos ? e.size() : end;
      continue;
    }
    if (!identStart(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < e.size() && identChar(e[i])) ++i;
    std::string word = e.substr(start, i - start);
    size_t next = skipSpace(e, i);
    if (kLabelLists.count(word)) {
      if (next < e.size() && e[next] == '(') i = std::min(closing(e, next), e.size());
      continue;
    }
    if (kKeywords.count(word) || (next < e.size() && e[next] == '(')) continue;  // keyword or function
    Selector s{word, {}};
    if (next < e.size() && e[next] == '{') {
      size_t end = closing(e, next);
      std::string body = e.substr(next + 1, (end == std::string::npos ? e.size() : end - 1) - next - 1);
      static const std::regex kMatcher(R"re(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*,?)re");
      for (auto it = std::sregex_iterator(body.begin(), body.end(), kMatcher); it != std::sregex_iterator(); ++it)
        s.matchers[(*it)[1]] = (*it)[2].str() + (*it)[3].str();
      i = end == std::string::npos ? e.size() : end;
    }
    out.push_back(s);
  }
  return out;
}

// The argument text of every call of `fn` in `e`.
std::vector<std::string> callArguments(const std::string& e, const std::string& fn) {
  std::vector<std::string> out;
  for (size_t i = 0; (i = e.find(fn, i)) != std::string::npos; i += fn.size()) {
    if (i > 0 && identChar(e[i - 1])) continue;  // irate contains rate
    size_t open = skipSpace(e, i + fn.size());
    if (open >= e.size() || e[open] != '(') continue;
    size_t end = closing(e, open);
    out.push_back(e.substr(open + 1, (end == std::string::npos ? e.size() : end - 1) - open - 1));
  }
  return out;
}

std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// --------------------------------------------------------------------------- the lint

const Json kPanelDatasource = {{"type", "prometheus"}, {"uid", "${datasource}"}};

// Grafana unit ids the dashboards may use (a typo is silently shown as a plain number).
const std::set<std::string> kUnits = {"short", "none", "bps",   "Bps",   "pps",   "cps",        "ops",  "s",
                                      "ms",    "us",   "bytes", "decbytes", "percent", "percentunit", "bool"};

// The two families of per-jail traffic counters and how a panel names them.
struct TrafficSource {
  const char* what;
  std::vector<std::string> prefixes;  // metric names of the family
  const char* tag;                    // in the panel's title
  const char* sentence;               // in its description
  const char* receive_note;           // in its description when it shows received bytes or packets
  bool owns(const std::string& metric) const {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return metric.starts_with(p); });
  }
};
const TrafficSource kTrafficSources[] = {
    {"the kernel interface counters", {"vnetd_jail_network_"}, "(kernel)", "Source: kernel interface counters.",
     "Received includes every broadcast and multicast flooded to the jail."},
    {"the bridge capture",
     {"vnetd_jail_traffic_", "vnetd_jail_tcp_", "vnetd_jail_flows", "vnetd_jail_peer_", "vnetd_jail_broadcast_",
      "vnetd_jail_spoofed_"},
     "(capture)", "Source: bridge capture.", "Broadcasts and multicasts count for their sender only."},
};

std::string variableQuery(const Json& v) {
  if (v.contains("query") && v["query"].is_object()) return str(v["query"], "query");
  return str(v, "query");
}

const Json* variable(const Json& d, const std::string& name) {
  if (!d.contains("templating") || !d["templating"].contains("list")) return nullptr;
  for (const auto& v : d["templating"]["list"])
    if (str(v, "name") == name) return &v;
  return nullptr;
}

class Lint {
 public:
  Lint(const Json& d, std::string file_stem, const std::map<std::string, DocumentedMetric>& docs)
      : d_(d), stem_(std::move(file_stem)), docs_(docs) {}

  std::vector<std::string> run() {
    if (!d_.is_object()) return {"not a JSON object"};
    if (d_.value("schemaVersion", 0) != 39)
      fail("schemaVersion is " + d_.value("schemaVersion", Json(nullptr)).dump() + ", expected 39");
    if (d_.contains("__inputs"))
      fail("has __inputs: use a datasource variable (__inputs break file provisioning)");
    if (str(d_, "uid") != stem_) fail("uid \"" + str(d_, "uid") + "\" is not the file name \"" + stem_ + "\"");
    if (str(d_, "title").empty()) fail("has no title");
    variables();
    panels();
    return errors_;
  }

 private:
  void fail(const std::string& what) { errors_.push_back(what); }

  void variables() {
    const Json* ds = variable(d_, "datasource");
    if (!ds || str(*ds, "type") != "datasource" || str(*ds, "query") != "prometheus")
      fail("no variable \"datasource\" of type datasource with query prometheus");
    const std::regex kJob(R"(label_values\(vnetd_build_info(\{[^}]*\})?,job\))");
    const std::regex kInstance(R"(label_values\(vnetd_build_info(\{[^}]*\})?,instance\))");
    const std::string kJail = R"(label_values(vnetd_jail_info{job=~"$job",instance=~"$instance"},jail))";
    struct Want {
      const char* name;
      std::function<bool(const std::string&)> query_ok;
      const char* expected;
    } wants[] = {
        {"job", [&](const std::string& q) { return std::regex_match(q, kJob); }, "label_values(vnetd_build_info, job)"},
        {"instance", [&](const std::string& q) { return std::regex_match(q, kInstance); },
         "label_values(vnetd_build_info{...}, instance)"},
        {"jail", [&](const std::string& q) { return q == kJail; },
         R"(label_values(vnetd_jail_info{job=~"$job",instance=~"$instance"}, jail))"},
    };
    for (const auto& w : wants) {
      const Json* v = variable(d_, w.name);
      std::string name = std::string("variable \"") + w.name + "\"";
      if (!v) {
        fail("no " + name);
        continue;
      }
      if (str(*v, "type") != "query" || !w.query_ok(squeeze(variableQuery(*v))))
        fail(name + " must be a query " + w.expected);
      if (v->value("datasource", Json()) != kPanelDatasource)
        fail(name + ": datasource must be " + kPanelDatasource.dump());
      if (!v->value("multi", false) || !v->value("includeAll", false))
        fail(name + " must be multi-select with includeAll");
      else if (str(*v, "allValue") != ".+")
        fail(name + ": allValue must be \".+\" (All as one regex, not an alternation of every value)");
    }
  }

  void panels() {
    struct Box {
      std::string title;
      int x, y, w, h;
    };
    std::vector<Box> boxes;
    std::set<int> ids;
    bool rows = false;
    forEachPanel(d_, [&](const Json& p) {
      std::string title = str(p, "title");
      std::string name = "panel \"" + title + "\"";
      if (title.empty()) fail("panel id " + p.value("id", Json(nullptr)).dump() + " has no title");
      if (!p.contains("id") || !p["id"].is_number_integer() || !ids.insert(p["id"].get<int>()).second)
        fail(name + ": id missing or not unique");
      const Json g = p.value("gridPos", Json());
      if (!g.is_object() || !g.contains("x") || !g.contains("y") || !g.contains("w") || !g.contains("h")) {
        fail(name + " has no gridPos");
      } else {
        Box b{title, g["x"], g["y"], g["w"], g["h"]};
        if (b.x < 0 || b.y < 0 || b.w < 1 || b.h < 1 || b.x + b.w > 24)
          fail(name + ": gridPos outside the 24-column grid");
        for (const auto& o : boxes)
          if (b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h)
            fail("panels \"" + o.title + "\" and \"" + title + "\" overlap");
        boxes.push_back(b);
      }
      if (isRow(p)) {
        rows = true;
        return;
      }
      if (p.value("datasource", Json()) != kPanelDatasource)
        fail(name + ": datasource must be " + kPanelDatasource.dump());
      if (str(p, "description").empty()) fail(name + " has no description");
      std::string unit;
      if (p.contains("fieldConfig") && p["fieldConfig"].contains("defaults"))
        unit = str(p["fieldConfig"]["defaults"], "unit");
      if (unit.empty()) fail(name + " has no unit (fieldConfig.defaults.unit)");
      else if (!kUnits.count(unit)) fail(name + ": unit \"" + unit + "\" is not a Grafana unit id");
      if (!p.contains("targets") || !p["targets"].is_array() || p["targets"].empty()) {
        fail(name + " has no targets");
        return;
      }
      for (const auto& t : p["targets"]) target(name, t);
      sources(p, title);
    });
    if (!rows) fail("no rows: group the panels with row panels");
  }

  // Per-jail traffic comes from two families that count differently (docs/metrics.md): the
  // kernel counters count the copy of every broadcast and multicast the bridge floods to
  // each jail as that jail's receive, the capture counts such a frame for its sender only.
  // A panel says which one it shows: a tag in its title, a sentence in its description, and
  // on what jails receive, how broadcasts count there.
  void sources(const Json& p, const std::string& title) {
    std::string description = str(p, "description");
    if (description.empty()) return;  // reported above
    std::set<std::string> metrics;
    for (const auto& t : p["targets"])
      for (const auto& s : selectors(str(t, "expr"))) metrics.insert(s.metric);
    for (const auto& src : kTrafficSources) {
      bool uses = false, receives = false;
      for (const auto& m : metrics) {
        if (!src.owns(m)) continue;
        uses = true;
        // What arrived (not errors or drops): where the two families part.
        receives = receives || m.ends_with("_receive_bytes_total") || m.ends_with("_receive_packets_total");
      }
      if (!uses) continue;
      std::string name = "panel \"" + title + "\"";
      if (title.find(src.tag) == std::string::npos)
        fail(name + " shows " + src.what + ": put \"" + src.tag + "\" in its title");
      if (description.find(src.sentence) == std::string::npos)
        fail(name + ": its description does not say \"" + src.sentence + "\"");
      if (receives && description.find(src.receive_note) == std::string::npos)
        fail(name + " shows what jails receive from " + src.what + ": its description must say \"" +
             src.receive_note + "\"");
    }
  }

  void target(const std::string& panel, const Json& t) {
    std::string name = panel + " target " + str(t, "refId");
    if (t.contains("datasource") && t["datasource"] != kPanelDatasource)
      fail(name + ": datasource must be " + kPanelDatasource.dump());
    std::string expr = str(t, "expr");
    if (expr.empty()) {
      fail(name + " has no expr");
      return;
    }
    for (const char* fn : {"rate", "irate", "increase"})
      for (const auto& arg : callArguments(expr, fn)) {
        std::string a = squeeze(arg);
        const std::string want = "[$__rate_interval]";
        if (a.size() < want.size() || a.compare(a.size() - want.size(), want.size(), want) != 0)
          fail(name + ": " + fn + "() without [$__rate_interval]: " + fn + "(" + arg + ")");
      }
    auto sels = selectors(expr);
    if (sels.empty()) fail(name + " selects no metric");
    for (const auto& s : sels) {
      if (s.metric.empty()) {
        fail(name + ": a selector without a metric name");
        continue;
      }
      std::string base = s.metric;
      std::set<std::string> labels;
      auto doc = docs_.find(base);
      for (const char* suffix : {"_bucket", "_count", "_sum"}) {
        std::string sfx = suffix;
        if (doc == docs_.end() && base.size() > sfx.size() &&
            base.compare(base.size() - sfx.size(), sfx.size(), sfx) == 0) {
          auto h = docs_.find(base.substr(0, base.size() - sfx.size()));
          if (h != docs_.end() && h->second.type == "histogram") doc = h;
        }
      }
      if (doc == docs_.end()) {
        fail(name + ": metric " + s.metric + " is not documented in docs/metrics.md");
        continue;
      }
      auto need = [&](const std::string& label) {
        auto m = s.matchers.find(label);
        if (m == s.matchers.end() || m->second != "=~\"$" + label + "\"")
          fail(name + ": " + s.metric + " is not filtered by " + label + "=~\"$" + label + "\"");
      };
      need("job");
      need("instance");
      if (doc->second.labels.count("jail")) need("jail");
    }
  }

  const Json& d_;
  std::string stem_;
  const std::map<std::string, DocumentedMetric>& docs_;
  std::vector<std::string> errors_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lintFile(const fs::path& path) {
  static const auto docs = documentedMetrics(readFile(kSource + "/docs/metrics.md"));
  Json d = loadDashboard(path.string());
  if (d.is_discarded()) return {"not valid JSON"};
  return Lint(d, path.stem().string(), docs).run();
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  " + s;
  return out;
}

// ---------------------------------------------------------------------------- tests

TEST(DashboardLint, DocsListEveryMetricFamilyWithItsLabels) {
  auto docs = documentedMetrics(readFile(kSource + "/docs/metrics.md"));
  ASSERT_GE(docs.size(), 30u) << "the tables of docs/metrics.md were not read";
  EXPECT_EQ(docs["vnetd_hook_duration_seconds"].type, "histogram");
  EXPECT_EQ(docs["vnetd_jail_network_receive_bytes_total"].labels, (std::set<std::string>{"jail", "interface", "bridge"}));
  EXPECT_TRUE(docs["vnetd_scrape_duration_seconds"].labels.empty());
}

TEST(DashboardLint, EveryCaptureFamilyIsDocumentedWithItsTypeAndLabels) {
  // The capture's families as a scrape of an open capture with one jail shows them: each
  // name documented with its type, and the labels of every series it has.
  auto docs = documentedMetrics(readFile(kSource + "/docs/metrics.md"));
  collectors::Aggregator agg(16, 60);
  agg.setAttribution(collectors::Attribution::build({{collectors::MacBytes{2, 0, 0, 0, 0, 1}, "a"}}));
  auto snap = std::make_shared<collectors::CaptureSnapshot>(agg.snapshot(true));
  snap->capture_buffer_bytes = 524288;
  auto families = collectors::captureFamilies({{"br0", snap, agg.attribution()}});
  ASSERT_GE(families.size(), 20u);
  for (const auto& f : families) {
    auto d = docs.find(f.name);
    ASSERT_NE(d, docs.end()) << f.name << " is not documented in docs/metrics.md";
    EXPECT_EQ(d->second.type, f.type == prometheus::MetricType::Counter ? "counter" : "gauge") << f.name;
    for (const auto& m : f.metric) {
      std::set<std::string> labels;
      for (const auto& l : m.label) labels.insert(l.name);
      EXPECT_EQ(labels, d->second.labels) << f.name;
    }
  }
}

TEST(DashboardLint, EveryKernelCounterFamilyIsDocumentedWithItsTypeAndLabels) {
  // The kernel-counter families as a scrape with one running jail and its interface shows
  // them, each documented with its type and the labels of its series.
  auto docs = documentedMetrics(readFile(kSource + "/docs/metrics.md"));
  State state;
  JailRecord rec;
  InterfaceRecord ir;
  ir.host_name = "e0a_web";
  ir.jail_name = "e0b_web";
  ir.bridge = "br0";
  ir.host_mac = "02:00:00:00:00:0a";
  rec.interfaces.push_back(ir);
  state.jails["web"] = rec;
  platform::LinkInfo link;
  link.name = "e0a_web";
  link.mac = *MacAddress::parse(ir.host_mac);
  platform::JailInfo running;
  running.name = "web";
  running.id = 7;
  auto families = collectors::jailCounterFamilies(state, {link}, {running}, {});
  ASSERT_EQ(families.size(), 12u);
  for (const auto& f : families) {
    auto d = docs.find(f.name);
    ASSERT_NE(d, docs.end()) << f.name << " is not documented in docs/metrics.md";
    EXPECT_EQ(d->second.type, f.type == prometheus::MetricType::Counter ? "counter" : "gauge") << f.name;
    for (const auto& m : f.metric) {
      std::set<std::string> labels;
      for (const auto& l : m.label) labels.insert(l.name);
      EXPECT_EQ(labels, d->second.labels) << f.name;
    }
  }
}

// docs/metrics.md's "Renamed in this version" table: each old name is gone from the metric
// tables (and so from every dashboard, whose metrics must be documented), each new one is
// documented there.
TEST(DashboardLint, TheRenameTableLeadsFromOldNamesToDocumentedOnes) {
  std::string md = readFile(kSource + "/docs/metrics.md");
  auto docs = documentedMetrics(md);
  size_t at = md.find("### Renamed in this version");
  ASSERT_NE(at, std::string::npos);
  std::istringstream in(md.substr(at));
  std::string line;
  size_t rows = 0;
  auto name = [](const std::string& cell) {
    size_t open = cell.find('`');
    std::string n = cell.substr(open + 1, cell.find('`', open + 1) - open - 1);
    return n.substr(0, n.find('{'));  // old names may carry the label that became the name
  };
  while (std::getline(in, line)) {
    if (rows > 0 && line.rfind("|", 0) != 0) break;  // the table ended
    if (line.rfind("| `vnetd_", 0) != 0) continue;
    size_t bar = line.find('|', 1);
    std::string from = name(line.substr(1, bar - 1)), to = name(line.substr(bar + 1));
    EXPECT_EQ(docs.count(from), 0u) << from << " is renamed but still documented";
    EXPECT_EQ(docs.count(to), 1u) << to << " (new name of " << from << ") is not documented";
    ++rows;
  }
  EXPECT_GE(rows, 15u);
}

TEST(DashboardLint, SelectorsAndRateArgumentsAreFoundInPromql) {
  auto s = selectors(R"(sum by (jail, le) (rate(vnetd_a_total{job=~"$job", x="a{b}"}[$__rate_interval])) )"
                     R"(* on (jail) group_left (jid) vnetd_b or vector(0) + topk(3, vnetd_c[5m:1s]))");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].metric, "vnetd_a_total");
  EXPECT_EQ(s[0].matchers["job"], "=~\"$job\"");
  EXPECT_EQ(s[0].matchers["x"], "=\"a{b}\"");
  EXPECT_EQ(s[1].metric, "vnetd_b");
  EXPECT_EQ(s[2].metric, "vnetd_c");
  auto args = callArguments("irate(a[1m]) + rate(b{c=\")\"}[$__rate_interval])", "rate");
  ASSERT_EQ(args.size(), 1u);
  EXPECT_EQ(args[0], "b{c=\")\"}[$__rate_interval]");
}

TEST(DashboardLint, EveryShippedDashboardFollowsTheRules) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kSource + "/grafana/dashboards"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  ASSERT_FALSE(files.empty());
  ASSERT_TRUE(std::count_if(files.begin(), files.end(),
                            [](const fs::path& p) { return p.filename() == "vnetd-overview.json"; }));
  for (const auto& f : files) {
    auto errors = lintFile(f);
    EXPECT_TRUE(errors.empty()) << f.filename() << ":" << joined(errors);
    // And it has something to show: the panels the issue asks for query these families.
    Json d = loadDashboard(f.string());
    EXPECT_GE(panelQueries(d).size(), 10u) << f.filename();
  }
}

TEST(DashboardLint, TheOverviewCoversWhatTheIssueAsksFor) {
  Json d = loadDashboard(kSource + "/grafana/dashboards/vnetd-overview.json");
  std::string all;
  for (const auto& q : panelQueries(d)) all += q.expr + "\n";
  for (const char* metric :
       {"vnetd_jail_network_receive_bytes_total", "vnetd_jail_network_transmit_bytes_total",
        "vnetd_jail_network_receive_packets_total", "vnetd_jail_network_transmit_packets_total",
        "vnetd_jail_network_receive_errors_total", "vnetd_jail_network_receive_dropped_packets_total", "topk(",
        "vnetd_jail_traffic_transmit_bytes_total", "vnetd_jail_traffic_receive_bytes_total",
        "vnetd_jail_tcp_transmit_rst_segments_total", "vnetd_jail_tcp_receive_rst_segments_total",
        "vnetd_jail_tcp_transmit_syn_segments_total", "vnetd_jail_tcp_receive_fin_segments_total",
        "vnetd_jail_flows{", "vnetd_jail_flows_transmit_opens_total", "vnetd_jail_flows_receive_opens_total",
        "vnetd_jail_peer_transmit_bytes_total", "vnetd_jail_broadcast_transmit_packets_total",
        "vnetd_capture_dropped_packets_total", "vnetd_capture_unattributed_packets_total",
        "vnetd_capture_malformed_packets_total", "vnetd_capture_flow_table_full_packets_total",
        "vnetd_capture_peer_table_full_packets_total", "vnetd_capture_up", "histogram_quantile(",
        "vnetd_hook_duration_seconds_bucket", "vnetd_hook_failures_total", "vnetd_interface_events_total",
        "vnetd_reconcile_actions_total", "vnetd_jail_up", "vnetd_jail_info"})
    EXPECT_NE(all.find(metric), std::string::npos) << metric;
}

// The provisioned data source is the one the dashboards pre-select.
TEST(DashboardLint, ProvisionedDatasourceUidIsTheDashboardsDefault) {
  std::string yaml = readFile(kSource + "/grafana/provisioning/datasources/prometheus.yaml");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(yaml, m, std::regex(R"(\n\s*uid:\s*(\S+))")));
  EXPECT_NE(yaml.find("url: http://localhost:9090"), std::string::npos);
  Json d = loadDashboard(kSource + "/grafana/dashboards/vnetd-overview.json");
  const Json* ds = variable(d, "datasource");
  ASSERT_TRUE(ds);
  EXPECT_EQ(str(ds->value("current", Json::object()), "value"), m[1].str());
  std::string provider = readFile(kSource + "/grafana/provisioning/dashboards/vnetd.yaml");
  EXPECT_NE(provider.find("type: file"), std::string::npos);
  EXPECT_NE(provider.find("path: /var/lib/grafana/dashboards/vnetd"), std::string::npos);
}

// Each fixture breaks exactly one rule: the lint must name that one and nothing else.
TEST(DashboardLint, BrokenDashboardsAreRejectedWithTheRightMessage) {
  const std::string dir = kSource + "/tests/fixtures/grafana/";
  EXPECT_EQ(joined(lintFile(dir + "valid.json")), "") << "the fixtures' base must pass";
  const std::map<std::string, std::string> expected = {
      {"has_inputs", "has __inputs"},
      {"old_schema", "schemaVersion is 36, expected 39"},
      {"fixed_rate_window", "panel \"Received bits/s (kernel)\" target A: rate() without [$__rate_interval]"},
      {"no_unit", "panel \"Received bits/s (kernel)\" has no unit"},
      {"no_description", "panel \"Received bits/s (kernel)\" has no description"},
      {"fixed_datasource", "panel \"Received bits/s (kernel)\": datasource must be"},
      {"undocumented_metric", "metric vnetd_jail_receive_bytes_total is not documented in docs/metrics.md"},
      {"jail_not_filtered", "vnetd_jail_network_receive_bytes_total is not filtered by jail=~\"$jail\""},
      {"overlapping_panels", "panels \"Received bits/s (kernel)\" and \"Capture\" overlap"},
      {"no_source_in_title", "panel \"Received bits/s\" shows the kernel interface counters: put \"(kernel)\" in its title"},
      {"no_source_in_description",
       "panel \"Received bits/s (kernel)\": its description does not say \"Source: kernel interface counters.\""},
      {"no_broadcast_note", "panel \"Received bits/s (kernel)\" shows what jails receive from the kernel interface "
                            "counters: its description must say \"Received includes every broadcast and multicast "
                            "flooded to the jail.\""},
      {"capture_without_note", "panel \"Protocol mix, received (capture)\" shows what jails receive from the bridge "
                               "capture: its description must say \"Broadcasts and multicasts count for their sender "
                               "only.\""},
      {"single_jail", "variable \"jail\" must be multi-select with includeAll"},
      {"uid_not_file_name", "uid \"vnetd-something\" is not the file name \"uid_not_file_name\""},
      {"no_rows", "no rows"},
  };
  size_t seen = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string stem = e.path().stem().string();
    if (stem == "valid") continue;
    ++seen;
    auto it = expected.find(stem);
    ASSERT_NE(it, expected.end()) << "fixture without an expected message: " << e.path();
    auto errors = lintFile(e.path());
    ASSERT_EQ(errors.size(), 1u) << stem << ":" << joined(errors);
    EXPECT_NE(errors[0].find(it->second), std::string::npos) << stem << ": " << errors[0];
  }
  EXPECT_EQ(seen, expected.size());
}

}  // namespace
}  // namespace vnetd::testing::grafana
