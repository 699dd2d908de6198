// prometheus/vnetd-rules.yml against a real vnetd scraped by a real Prometheus (Debian
// package): every rule evaluates without error on the real series, and three alerts reach
// the state the real situation calls for — a hook the daemon refuses fires
// VnetdHookFailures, a running jail whose host side is set down and a bridge whose NAT
// egress does not exist make VnetdJailInterfaceDown and VnetdNatInactive pending (their
// `for` is minutes; tests/prometheus/vnetd_rules_test.yml covers the firing) — while the
// alerts about the target itself stay quiet. Prometheus scrapes with Accept-Encoding: gzip,
// so this is also the compressed /metrics end to end. Subnet 198.18.190.0/24.
#include <fstream>
#include <string>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

namespace vnetd {
namespace {

class PrometheusRulesTest : public DaemonFixture {
 protected:
  uint16_t metricsPort() {
    Json st = status();
    std::string url = st["daemon"]["metrics_url"];
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
};

TEST_F(PrometheusRulesTest, TheRulesEvaluateOnRealSeriesAndTheRightAlertsGoOff) {
  std::string br = net_.bridgeName("br");
  std::string egress = net_.bridgeName("nx");  // named, never created: NAT cannot be loaded
  std::string a = net_.jailName("a"), stranger = net_.jailName("u");
  // No [jail_defaults]: a jail without its own table is refused.
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.190.1/24\"\nnat = \"" + egress +
              "\"\n\n[jail." + a + "]\n[[jail." + a + ".interface]]\nbridge = \"lan\"\naddress = \"198.18.190.2/24\"\n");
  startDaemon();
  startJail(a);

  testing::PrometheusServer prometheus(metricsPort());
  prometheus.addRuleFile(std::string(VNETD_SOURCE_DIR) + "/prometheus/vnetd-rules.yml");
  std::string why;
  ASSERT_TRUE(prometheus.start(&why)) << why;
  auto dump = [&](const std::string& q) { return prometheus.query(q).dump() + "\nprometheus log:\n" + prometheus.log(); };

  // The refusal must come after Prometheus has seen the counter at 0 (as it would on a host
  // where vnetd has been running): increase() needs a sample before the failure.
  const std::string refused = "vnetd_hook_failures_total{phase=\"prestart\",reason=\"refused\"}";
  ASSERT_TRUE(prometheus.waitFor(refused, 30, [](double v) { return v == 0; })) << dump(refused);
  net_.addNamespace(stranger);
  EXPECT_NE(hook("prestart", stranger).status, 0) << "an unconfigured jail was not refused";
  std::string host_side = interfaceName(a, 0, Side::A);
  ASSERT_EQ(testing::run({"ip", "link", "set", host_side, "down"}).status, 0);

  const std::string hook_alert =
      "ALERTS{alertname=\"VnetdHookFailures\",alertstate=\"firing\",phase=\"prestart\",reason=\"refused\"}";
  EXPECT_TRUE(prometheus.waitFor(hook_alert, 30)) << dump("ALERTS");
  const std::string down_alert = "ALERTS{alertname=\"VnetdJailInterfaceDown\",alertstate=\"pending\",jail=\"" + a +
                                 "\",interface=\"" + interfaceName(a, 0, Side::B) + "\"}";
  EXPECT_TRUE(prometheus.waitFor(down_alert, 30)) << dump("ALERTS") << "\n" << dump("vnetd_interface_up");
  const std::string nat_alert = "ALERTS{alertname=\"VnetdNatInactive\",alertstate=\"pending\",bridge=\"" + br + "\"}";
  EXPECT_TRUE(prometheus.waitFor(nat_alert, 30)) << dump("ALERTS") << "\n" << dump("vnetd_bridge_nat_active");
  // The recording rules produce series from the real counters.
  EXPECT_TRUE(prometheus.waitFor("jail:vnetd_jail_network_receive_bytes:rate5m{jail=\"" + a + "\"}", 30))
      << dump("jail:vnetd_jail_network_receive_bytes:rate5m");

  // The target is up and fast: nothing about it, pending or firing.
  EXPECT_TRUE(testing::PrometheusServer::values(
                  prometheus.query("ALERTS{alertname=~\"VnetdDown|VnetdNotScraped|VnetdScrapeSlow\"}"))
                  .empty())
      << dump("ALERTS");

  // Every rule of both groups has been evaluated, without error.
  Json rules = Json::parse(prometheus.get("/api/v1/rules"), nullptr, false);
  ASSERT_TRUE(rules.is_object() && rules.value("status", "") == "success") << rules.dump();
  int alerting = 0, recording = 0;
  for (const auto& group : rules["data"]["groups"])
    for (const auto& rule : group["rules"]) {
      EXPECT_EQ(rule.value("health", ""), "ok") << rule.dump();
      EXPECT_EQ(rule.value("lastError", ""), "") << rule.dump();
      (rule.value("type", "") == "alerting" ? alerting : recording)++;
    }
  // As many as the file declares: none failed to load.
  int declared_alerts = 0, declared_records = 0;
  std::ifstream file(std::string(VNETD_SOURCE_DIR) + "/prometheus/vnetd-rules.yml");
  for (std::string line; std::getline(file, line);) {
    if (line.find("- alert: ") != std::string::npos) ++declared_alerts;
    if (line.find("- record: ") != std::string::npos) ++declared_records;
  }
  ASSERT_GE(declared_alerts, 11) << "cannot read the rule file";
  EXPECT_EQ(alerting, declared_alerts) << rules.dump();
  EXPECT_EQ(recording, declared_records) << rules.dump();
}

}  // namespace
}  // namespace vnetd
