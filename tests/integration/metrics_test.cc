// The /metrics endpoint end-to-end: known traffic between two jails (real namespaces),
// exact kernel-counter deltas, series of stopped jails gone, promtool-clean exposition.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

namespace vnetd {
namespace {

using testing::TestNet;
using testing::disableIpv6;
using testing::httpGet;
using testing::inNamespace;
using testing::sample;

class MetricsTest : public DaemonFixture {
 protected:
  uint16_t metricsPort() {
    Json st = status();
    std::string url = st["daemon"]["metrics_url"];
    auto colon = url.rfind(':');
    return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
  }
};

TEST_F(MetricsTest, KnownUdpTrafficShowsUpExactlyAndStoppedJailsDisappear) {
  std::string br = net_.bridgeName("br");
  writeConfig("[metrics]\nlisten = \"127.0.0.1:0\"\n\n" + bridgeWithDefaults(br, "198.18.120.1/24"));
  startDaemon();
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    testing::disableIpv6InNamespace(j);
    for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j).status, 0);
  }
  ASSERT_NO_FATAL_FAILURE(testing::quietenLinks(br, {a, b}));
  const std::string b_addr = "198.18.120.3";
  // Resolve ARP both ways before counting: every frame below is then one UDP datagram.
  ASSERT_TRUE(TestNet::ping(a, b_addr));

  uint16_t port = metricsPort();
  std::string before = httpGet(port, "/metrics");
  ASSERT_FALSE(before.empty());

  constexpr int kCount = 100;
  constexpr size_t kPayload = 200;
  ASSERT_EQ(testing::udpExchange(a, b, b_addr, kCount, kPayload), kCount);
  std::string after = httpGet(port, "/metrics");

  // A frame on a veth: Ethernet header 14 + IPv4 20 + UDP 8 + payload (no FCS, no padding
  // above the 60-byte minimum). Direction is the jail's.
  const double frame = 14 + 20 + 8 + kPayload;
  auto delta = [&](const std::string& metric, const std::string& jail) {
    return sample(after, metric, {"jail=\"" + jail + "\""}) - sample(before, metric, {"jail=\"" + jail + "\""});
  };
  EXPECT_EQ(delta("vnetd_jail_network_transmit_packets_total", a), kCount);
  EXPECT_EQ(delta("vnetd_jail_network_transmit_bytes_total", a), kCount * frame);
  EXPECT_EQ(delta("vnetd_jail_network_receive_packets_total", b), kCount);
  EXPECT_EQ(delta("vnetd_jail_network_receive_bytes_total", b), kCount * frame);
  EXPECT_EQ(delta("vnetd_jail_network_receive_packets_total", a), 0) << "nothing came back: UDP, port open";

  // The other families, with the jail's name as the label and jid only in jail_info.
  EXPECT_EQ(sample(after, "vnetd_jail_up", {"jail=\"" + a + "\""}), 1);
  EXPECT_EQ(sample(after, "vnetd_interface_up", {"jail=\"" + a + "\"", "interface=\"" + interfaceName(a, 0, Side::B) + "\""}), 1);
  EXPECT_EQ(sample(after, "vnetd_bridge_members", {"bridge=\"" + br + "\""}), 2);
  auto info = jails_->find(a);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ(sample(after, "vnetd_jail_info", {"jail=\"" + a + "\"", "jid=\"" + std::to_string((*info)->id) + "\""}), 1);
  EXPECT_EQ(sample(after, "vnetd_build_info", {"platform=\"linux\""}), 1);
  EXPECT_EQ(sample(after, "vnetd_hook_duration_seconds_count", {"phase=\"prestart\""}), 2);
  EXPECT_GE(sample(after, "vnetd_reconcile_actions_total", {"action=\"ensure_bridge\""}), 1);
  EXPECT_GT(sample(after, "vnetd_interface_events_total", {"source=\"rtnetlink\""}), 0);

  // A stopped jail's series are gone from the next scrape.
  net_.deleteNamespace(b);
  ASSERT_EQ(hook("poststop", b).status, 0);
  std::string later = httpGet(port, "/metrics");
  EXPECT_EQ(later.find("jail=\"" + b + "\""), std::string::npos) << later;
  EXPECT_NE(later.find("jail=\"" + a + "\""), std::string::npos);

  // Started again: counters start from the new pair's zero, info carries the new id.
  net_.addNamespace(b);
  for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, b).status, 0);
  auto again = jails_->find(b);
  ASSERT_TRUE(again && *again);
  std::string restarted = httpGet(port, "/metrics");
  EXPECT_EQ(sample(restarted, "vnetd_jail_info", {"jail=\"" + b + "\"", "jid=\"" + std::to_string((*again)->id) + "\""}), 1);
  double fresh = sample(restarted, "vnetd_jail_network_receive_packets_total", {"jail=\"" + b + "\""});
  EXPECT_GE(fresh, 0);
  EXPECT_LT(fresh, kCount) << "a new pair's counters start at zero";

  // Landing page and unknown paths.
  int code = 0;
  EXPECT_NE(httpGet(port, "/", &code).find("href=\"/metrics\""), std::string::npos);
  EXPECT_EQ(code, 200);
  (void)httpGet(port, "/nope", &code);
  EXPECT_EQ(code, 404);
}

TEST_F(MetricsTest, PromtoolFindsNothingToCriticise) {
  std::string br = net_.bridgeName("br");
  writeConfig("[metrics]\nlisten = \"127.0.0.1:0\"\n\n" + bridgeWithDefaults(br, "198.18.121.1/24"));
  startDaemon();
  std::string a = net_.jailName("a");
  net_.addNamespace(a);
  for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, a).status, 0);
  ASSERT_TRUE(TestNet::ping(a, "198.18.121.1"));
  std::string text = httpGet(metricsPort(), "/metrics");
  ASSERT_FALSE(text.empty());
  dir_.write("scrape.txt", text);
  // promtool reads the exposition on stdin; testing::run has no stdin, so via sh (test code).
  auto r = testing::run({"sh", "-c", "promtool check metrics < " + dir_.file("scrape.txt")});
  ASSERT_NE(r.status, 127) << "promtool is missing (scripts/test installs the prometheus package)";
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool had remarks";
}

// A real Prometheus server (Debian's package) scrapes the daemon; a PromQL rate over the
// jail's receive bytes is non-zero while traffic runs. Prometheus and its data go at the end.
TEST_F(MetricsTest, ARealPrometheusSeesTheJailsTraffic) {
  std::string br = net_.bridgeName("br");
  writeConfig("[metrics]\nlisten = \"127.0.0.1:0\"\n\n" + bridgeWithDefaults(br, "198.18.122.1/24"));
  startDaemon();
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j).status, 0);
  }
  testing::PrometheusServer prometheus(metricsPort());
  std::string why;
  ASSERT_TRUE(prometheus.start(&why)) << why;

  // Bounded traffic: 100 datagrams a second from a to b for at most 40 s, until
  // Prometheus reports a non-zero rate.
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    inNamespace(a, [&] {
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(9);  // discard: b answers with ICMP, which is traffic too
      ::inet_pton(AF_INET, "198.18.122.3", &to.sin_addr);
      std::string payload(500, 'x');
      for (int i = 0; i < 4000 && !stop; ++i) {
        (void)::sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // pacing the generator, not synchronisation
      }
      ::close(s);
    });
  });
  const std::string query = "rate(vnetd_jail_network_receive_bytes_total{jail=\"" + b + "\"}[5s])";
  double rate = 0;
  bool seen = prometheus.waitFor(query, 40, [&](double r) { return (rate = r) > 0; });
  stop = true;
  sender.join();
  EXPECT_TRUE(seen) << "last answer: " << prometheus.query(query).dump() << "\nprometheus log:\n" << prometheus.log();
  std::printf("[ prometheus ] rate(vnetd_jail_network_receive_bytes_total{jail=b}[5s]) = %.0f bytes/s\n", rate);
}

}  // namespace
}  // namespace vnetd
