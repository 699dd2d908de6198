// The Grafana dashboards against real data: a real Prometheus (Debian package) scrapes a
// real vnetd whose three jails exchange UDP, TCP (a transfer and a reset) and ICMP, with a
// hook the daemon refuses and a bridge membership the reconciler repairs; every panel's
// PromQL from grafana/dashboards/*.json, with the variables substituted as Grafana does,
// must come back from Prometheus's HTTP API without error and with data — above zero, except
// for the counters of things going wrong (errors, drops, malformed frames, full tables).
// Subnets 198.18.180.0/24 .. 198.18.184.0/24 (other tests use other ranges).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string_view>
#include <thread>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"
#include "tests/unit/grafana/dashboard_model.h"

namespace vnetd {
namespace {

namespace grafana = testing::grafana;
using testing::inNamespace;
using testing::PrometheusServer;
using testing::TestNet;

double wallClock() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Grafana's regex escaping of a variable value inside a PromQL =~ string: a backslash
// before every regex metacharacter, itself escaped for the PromQL string literal.
std::string regexValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += "\\\\";
    out += c;
  }
  return out;
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t i = 0; (i = s.find(from, i)) != std::string::npos; i += to.size()) s.replace(i, from.size(), to);
}

// What Grafana sends for a target of a dashboard over `range_seconds` with a 1 s scrape
// interval set on the data source: $__interval is the step (the range over ~1000 points,
// never below the scrape interval), $__rate_interval = max($__interval + scrape, 4 × scrape).
struct Variables {
  std::string job, instance;
  std::vector<std::string> jails;  // multi-select: (a|b|c)
  int scrape_seconds = 1;

  std::string substitute(std::string expr, int range_seconds) const {
    int interval = std::max(scrape_seconds, range_seconds / 1000);
    int rate_interval = std::max(interval + scrape_seconds, 4 * scrape_seconds);
    std::string alternation;
    for (const auto& j : jails) alternation += (alternation.empty() ? "(" : "|") + regexValue(j);
    alternation += ")";
    // Longest names first: $__rate_interval before $__range and $__interval.
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"__rate_interval", std::to_string(rate_interval) + "s"},
             {"__interval", std::to_string(interval) + "s"},
             {"__range", std::to_string(range_seconds) + "s"},
             {"instance", regexValue(instance)},
             {"job", regexValue(job)},
             {"jail", alternation}}) {
      replaceAll(expr, "${" + name + "}", value);
      replaceAll(expr, "$" + name, value);
    }
    return expr;
  }
};

// One target run as Grafana runs it: an instant query at `end`, or a range query from
// `start` to `end` at the step. "" when it returned data (at least one series with a
// number that is not NaN), else what was wrong; `max` gets the largest value seen.
std::string runTarget(const PrometheusServer& prom, const grafana::PanelQuery& q, const std::string& expr,
                      double start, double end, double* max) {
  nlohmann::json answer = q.instant ? prom.query(expr, end) : prom.queryRange(expr, start, end, 1);
  if (!answer.is_object()) return "no JSON answer";
  if (answer.value("status", "") != "success")
    return "query failed: " + answer.value("errorType", "") + ": " + answer.value("error", "");
  const auto& result = answer["data"]["result"];
  if (!result.is_array() || result.empty()) return "empty result";
  bool number = false;
  *max = 0;
  for (const auto& series : result) {
    std::vector<nlohmann::json> samples;
    if (series.contains("value")) samples.push_back(series["value"]);
    if (series.contains("values"))
      for (const auto& v : series["values"]) samples.push_back(v);
    for (const auto& s : samples) {
      double v = std::stod(s[1].get<std::string>());
      if (std::isnan(v)) continue;
      number = true;
      *max = std::max(*max, v);
    }
  }
  return number ? "" : "only NaN (" + std::to_string(result.size()) + " series)";
}

class DashboardTest : public DaemonFixture {
 protected:
  uint16_t metricsPort() {
    std::string url = status()["daemon"]["metrics_url"];
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }

  // A hook the daemon refuses: a jail with no [jail.X] table and no [jail_defaults].
  void refusedHook() {
    auto r = hook("prestart", net_.jailName("x"));
    ASSERT_NE(r.status, 0) << "an unconfigured jail must be refused";
  }

  // A connection attempt to a port nobody listens on: answered by a TCP reset.
  static void tcpReset(const std::string& from, const std::string& to_addr) {
    inNamespace(from, [&] {
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(9);
      ::inet_pton(AF_INET, to_addr.c_str(), &dst.sin_addr);
      int r = ::connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
      int err = errno;
      ::close(s);
      ASSERT_EQ(r, -1);
      ASSERT_EQ(err, ECONNREFUSED) << "expected a reset";
    });
  }

  // One bounded round of varied traffic between the three jails. Neighbour caches are
  // flushed first, so that every round has its ARP broadcasts.
  void trafficRound() {
    for (const auto& j : {a_, b_, c_}) ASSERT_EQ(testing::run({"ip", "-n", j, "neigh", "flush", "all"}).status, 0);
    ASSERT_TRUE(TestNet::ping(a_, addr_[b_]));
    ASSERT_TRUE(TestNet::ping(b_, addr_[c_]));
    ASSERT_TRUE(TestNet::ping(c_, addr_[a_]));
    ASSERT_EQ(testing::udpExchange(a_, b_, addr_[b_], 50, 200), 50);
    ASSERT_EQ(testing::udpExchange(c_, a_, addr_[a_], 20, 100), 20);
    ASSERT_EQ(testing::tcpTransfer(a_, c_, addr_[c_], 9998, 20000), 20000u);
    ASSERT_NO_FATAL_FAILURE(tcpReset(b_, addr_[a_]));
  }

  // Takes the jail's host side out of the bridge by hand and waits for the reconciler to
  // put it back.
  void repairedMembership(const std::string& jail, const std::string& bridge) {
    size_t mark = daemon_->logSize();
    ASSERT_EQ(testing::run({"ip", "link", "set", interfaceName(jail, 0, Side::A), "nomaster"}).status, 0);
    ASSERT_TRUE(daemon_->waitForLog("is not a member of bridge " + bridge + "; added it back", 10000, mark));
  }

  std::string a_, b_, c_;
  std::map<std::string, std::string> addr_;
};

// Counters that only move when something goes wrong (and the panel that counts stopped
// jails): zero is their right value here. Every other target must show a value above 0.
bool zeroIsRight(const std::string& expr) {
  for (const char* quiet : {"_errors_total", "_dropped_packets_total", "vnetd_capture_malformed_packets_total",
                            "_table_full_packets_total", "count(vnetd_jail_up"})
    if (expr.find(quiet) != std::string::npos) return true;
  return false;
}

TEST_F(DashboardTest, EveryPanelQueryReturnsDataFromARealDaemon) {
  auto began = std::chrono::steady_clock::now();
  std::string br = net_.bridgeName("br");
  a_ = net_.jailName("a");
  b_ = net_.jailName("b");
  c_ = net_.jailName("c");
  std::string body = "[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.180.1/24\"\n\n";
  int host = 10;
  for (const auto& j : {a_, b_, c_}) {
    addr_[j] = "198.18.180." + std::to_string(host++);
    body += "[[jail." + j + ".interface]]\nbridge = \"lan\"\naddress = \"" + addr_[j] + "/24\"\n\n";
  }
  // No [jail_defaults]: a hook for any other jail is refused. Reconciliation every 2 s
  // bounds how long the repair below takes.
  writeConfig(body, 60, 2);
  startDaemon();

  PrometheusServer prom(metricsPort());
  std::string why;
  ASSERT_TRUE(prom.start(&why)) << why;
  // Everything from here on happens after Prometheus's first scrape.
  ASSERT_TRUE(prom.waitFor("vnetd_build_info", 15)) << prom.log();
  const double start = wallClock();

  // A series' first sample is no increase to rate(), and some series still appear with
  // their first event (peer pairs, reconcile actions, hook latencies; docs/metrics.md): each
  // kind of event happens once, Prometheus sees it, and it happens again.
  ASSERT_NO_FATAL_FAILURE(startJail(a_));
  ASSERT_NO_FATAL_FAILURE(startJail(b_));
  ASSERT_NO_FATAL_FAILURE(refusedHook());
  ASSERT_NO_FATAL_FAILURE(repairedMembership(a_, br));
  ASSERT_TRUE(prom.waitFor("vnetd_reconcile_actions_total{action=\"readd_member\"}", 10));
  ASSERT_TRUE(prom.waitFor("vnetd_hook_failures_total", 10, [](double n) { return n >= 1; }));
  ASSERT_TRUE(prom.waitFor("vnetd_hook_duration_seconds_count{phase=\"created\"}", 10));
  ASSERT_TRUE(prom.waitFor("vnetd_capture_up", 10, [](double up) { return up == 1; })) << "capture never opened";
  ASSERT_NO_FATAL_FAILURE(startJail(c_));
  ASSERT_NO_FATAL_FAILURE(refusedHook());

  ASSERT_NO_FATAL_FAILURE(trafficRound());
  ASSERT_TRUE(prom.waitFor("vnetd_jail_tcp_transmit_rst_segments_total{jail=\"" + a_ + "\"}", 10,
                           [](double n) { return n >= 1; }))
      << "the capture saw no reset";
  ASSERT_TRUE(prom.waitFor("vnetd_jail_peer_transmit_bytes_total{jail=\"" + c_ + "\",peer=\"" + a_ + "\"}", 10));
  ASSERT_NO_FATAL_FAILURE(trafficRound());

  ASSERT_NO_FATAL_FAILURE(repairedMembership(b_, br));

  // Every target of every dashboard, polled (the capture publishes every second, scrapes
  // come every second) until each returns data or the time is up.
  Variables vars{prom.job(), prom.target(), {a_, b_, c_}, prom.scrapeSeconds()};
  struct Pending {
    std::string file;
    grafana::PanelQuery q;
    std::string problem = "not run";
    std::string expr;
    double max = 0;
  };
  std::vector<Pending> targets;
  for (const auto& e : std::filesystem::directory_iterator(std::string(VNETD_SOURCE_DIR) + "/grafana/dashboards")) {
    if (e.path().extension() != ".json") continue;
    grafana::Json d = grafana::loadDashboard(e.path().string());
    ASSERT_FALSE(d.is_discarded()) << e.path();
    for (auto& q : grafana::panelQueries(d)) {
      Pending p;
      p.file = e.path().filename().string();
      p.q = q;
      targets.push_back(p);
    }
  }
  ASSERT_GE(targets.size(), 30u);
  auto pending = [&] {
    return std::count_if(targets.begin(), targets.end(), [](const Pending& p) { return !p.problem.empty(); });
  };
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);;) {
    double end = wallClock();
    int range = static_cast<int>(std::ceil(end - start));
    for (auto& t : targets) {
      if (t.problem.empty()) continue;
      t.expr = vars.substitute(t.q.expr, range);
      t.problem = t.expr.find('$') != std::string::npos ? "a variable Grafana would not substitute"
                                                       : runTarget(prom, t.q, t.expr, start, end, &t.max);
      if (t.problem.empty() && t.max <= 0 && !zeroIsRight(t.q.expr)) t.problem = "only zeros";
    }
    if (pending() == 0 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the next scrape; the API has no push
  }
  for (const auto& t : targets) {
    EXPECT_EQ(t.problem, "") << t.file << ": panel \"" << t.q.panel << "\" target " << t.q.ref_id << "\n  "
                             << t.expr;
    std::printf("[ dashboard ] %-45s %s max %g\n", (t.q.panel + " " + t.q.ref_id).c_str(),
                t.q.instant ? "instant" : "range  ", t.max);
  }
  std::printf("[ dashboard ] %zu targets, %ld without data; %.1f s in all\n", targets.size(),
              static_cast<long>(pending()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (HasFailure()) std::fprintf(stderr, "---- prometheus log ----\n%s\n", prom.log().c_str());
}

}  // namespace
}  // namespace vnetd
