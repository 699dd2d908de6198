// The /metrics endpoint end-to-end: known traffic between two jails (real namespaces),
// exact kernel-counter deltas, series of stopped jails gone, promtool-clean exposition.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
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

// The capture's per-jail families as this version names them (docs/metrics.md). The
// (family, protocol) cells are every pair the decoder can produce.
struct ZeroSeries {
  std::string name;
  std::vector<std::string> labels;  // besides jail="..."
};
std::vector<ZeroSeries> captureSeriesOfAJail() {
  std::vector<ZeroSeries> out;
  const std::vector<std::pair<std::string, std::string>> cells = {
      {"ipv4", "tcp"}, {"ipv4", "udp"}, {"ipv4", "icmp"},  {"ipv4", "other"}, {"ipv6", "tcp"},
      {"ipv6", "udp"}, {"ipv6", "icmp6"}, {"ipv6", "other"}, {"other", "arp"}, {"other", "other"}};
  for (const char* dir : {"receive", "transmit"}) {
    for (const auto& [family, protocol] : cells)
      for (const char* unit : {"bytes", "packets"})
        out.push_back({std::string("vnetd_jail_traffic_") + dir + "_" + unit + "_total",
                       {"family=\"" + family + "\"", "protocol=\"" + protocol + "\""}});
    for (const char* flag : {"syn", "rst", "fin"})
      out.push_back({std::string("vnetd_jail_tcp_") + dir + "_" + flag + "_segments_total", {}});
    out.push_back({std::string("vnetd_jail_flows_") + dir + "_opens_total", {}});
  }
  out.push_back({"vnetd_jail_flows", {}});
  out.push_back({"vnetd_jail_broadcast_transmit_packets_total", {}});
  out.push_back({"vnetd_jail_spoofed_transmit_packets_total", {}});
  out.push_back({"vnetd_jail_router_solicitations_transmit_packets_total", {}});
  out.push_back({"vnetd_jail_router_advertisements_receive_packets_total", {}});
  out.push_back({"vnetd_jail_router_advertisements_transmit_packets_total", {}});
  return out;
}

// Prometheus's advice for counters: export every known label set from 0. A series born
// with its first event at 1 hides that event from increase() and rate() — an alert on
// the first TCP reset would never fire. Here: a new jail's series are there at exactly 0
// before it sent or received anything (read from /metrics), and a real Prometheus sees
// the first events of a TCP connection attempt (SYN, RST, the flow, the first TCP frames)
// in an increase() over a window that holds them. Subnet 198.18.163.0/24.
TEST_F(MetricsTest, EveryJailSeriesStartsAtZeroSoIncreaseSeesTheFirstEvent) {
  std::string br = net_.bridgeName("br");
  writeConfig(bridgeWithDefaults(br, "198.18.163.1/24"));
  startDaemon();
  testing::PrometheusServer prom(metricsPort());
  std::string why;
  ASSERT_TRUE(prom.start(&why)) << why;
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    testing::disableIpv6InNamespace(j);
    for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j).status, 0);
  }
  ASSERT_NO_FATAL_FAILURE(testing::quietenLinks(br, {a, b}));
  const std::string a_addr = "198.18.163.2", jail_a = "jail=\"" + a + "\"";

  // Exact zeros before any traffic: the capture knows the jail once its MAC table has it
  // (vnetd_jail_flows is there from then on), and nothing has been sent yet.
  uint16_t port = metricsPort();
  std::string text;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < deadline;) {
    text = httpGet(port, "/metrics");
    if (sample(text, "vnetd_jail_flows", {jail_a}) >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the MAC table follows the hooks: poll, bounded
  }
  auto series = captureSeriesOfAJail();
  for (const auto& s : series) {
    std::vector<std::string> labels = s.labels;
    labels.push_back(jail_a);
    std::string set;
    for (const auto& l : labels) set += (set.empty() ? "{" : ",") + l;
    EXPECT_EQ(sample(text, s.name, labels), 0) << s.name << set << "} (-1: no such series)";
  }
  for (const char* name : {"vnetd_jail_network_receive_errors_total", "vnetd_jail_network_transmit_errors_total",
                           "vnetd_jail_network_receive_dropped_packets_total",
                           "vnetd_jail_network_transmit_dropped_packets_total"})
    EXPECT_EQ(sample(text, name, {jail_a}), 0) << name;
  for (const char* name : {"vnetd_jail_network_receive_bytes_total", "vnetd_jail_network_transmit_bytes_total",
                           "vnetd_jail_network_receive_packets_total", "vnetd_jail_network_transmit_packets_total"})
    EXPECT_GE(sample(text, name, {jail_a}), 0) << name << ": no series";

  // Prometheus has scraped the jail for a while (several zeros), then the first events:
  // b connects to a port nobody listens on in a (one SYN, one RST, one flow).
  ASSERT_TRUE(prom.waitFor("count_over_time(vnetd_jail_flows{" + jail_a + "}[1m])", 20,
                           [](double n) { return n >= 4; }))
      << prom.log();
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  inNamespace(b, [&] {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(9);
    ::inet_pton(AF_INET, a_addr.c_str(), &dst.sin_addr);
    int r = ::connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    int err = errno;
    ::close(s);
    ASSERT_EQ(r, -1);
    ASSERT_EQ(err, ECONNREFUSED) << "expected a reset";
  });
  // The capture publishes every second and Prometheus scrapes every second: wait until two
  // scrapes hold the reset (the sum of the last minute's samples is then 2), so that every
  // counter of the event is in the window whatever the order of publication and scrape.
  const std::string rst_a = "vnetd_jail_tcp_transmit_rst_segments_total{" + jail_a + "}";
  ASSERT_TRUE(prom.waitFor("sum_over_time(" + rst_a + "[1m])", 15, [](double v) { return v >= 2; }))
      << "the reset never reached Prometheus twice: " << prom.query(rst_a).dump();

  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string window = "[" + std::to_string(static_cast<int>(now - before) + 4) + "s]";
  const std::string jail_b = "jail=\"" + b + "\"";
  // Each happened exactly once in the window. increase() extrapolates towards the window's
  // end by at most half a scrape interval (never below the counter's zero at the start),
  // so once is [1, 1.5); a series born at 1 gives 0.
  for (const std::string& selector :
       {rst_a, "vnetd_jail_tcp_receive_syn_segments_total{" + jail_a + "}",
        "vnetd_jail_tcp_transmit_syn_segments_total{" + jail_b + "}",
        "vnetd_jail_tcp_receive_rst_segments_total{" + jail_b + "}",
        "vnetd_jail_flows_transmit_opens_total{" + jail_b + "}", "vnetd_jail_flows_receive_opens_total{" + jail_a + "}",
        "vnetd_jail_traffic_receive_packets_total{" + jail_a + ",family=\"ipv4\",protocol=\"tcp\"}",
        "vnetd_jail_traffic_transmit_packets_total{" + jail_a + ",family=\"ipv4\",protocol=\"tcp\"}"}) {
    const std::string q = "increase(" + selector + window + ")";
    auto v = testing::PrometheusServer::values(prom.query(q, now));
    ASSERT_EQ(v.size(), 1u) << q << ": " << prom.query(q, now).dump();
    EXPECT_GE(v[0], 1) << q;
    EXPECT_LT(v[0], 1.5) << q;
  }
  // b's ARP request for a was a broadcast (at least one).
  const std::string q = "increase(vnetd_jail_broadcast_transmit_packets_total{" + jail_b + "}" + window + ")";
  auto v = testing::PrometheusServer::values(prom.query(q, now));
  ASSERT_EQ(v.size(), 1u) << q << ": " << prom.query(q, now).dump();
  EXPECT_GE(v[0], 1) << q;
}

// The sum of every sample of `name` whose labels contain all of `labels`; -1 when none.
double sumOf(const std::string& text, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  bool any = false;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    auto close = line.find('}');
    std::string set = line.substr(name.size(), close - name.size() + 1);
    bool all = true;
    for (const auto& l : labels) all = all && set.find(l) != std::string::npos;
    if (!all) continue;
    sum += std::stod(line.substr(close + 2));
    any = true;
  }
  return any ? sum : -1;
}

// What "packets" are (docs/metrics.md, Counting rule): frames as the host sees them. A
// bulk TCP transfer between two jails over Linux veth pairs, whose segmentation offload
// (TSO/GSO) is on by default, crosses the bridge as super-frames: the sender's frames are
// fewer than the 1448-byte segments (1500-byte MTU, TCP timestamps) its payload needs on a
// wire. The kernel counters count the very same frames: the jail's transmitted packets and
// bytes are equal in both families, to the frame and the byte. Subnet 198.18.164.0/24.
//
// The capture's ring is 16 MiB here, not the default 4: a TPACKET_V3 ring gets the whole
// super-frame, not `snaplen` bytes of it (net/packet/af_packet.c tpacket_rcv copies
// skb->len unless a socket filter returns less, capped only by the block size), so a burst
// of 64 KiB frames can fill 4 MiB before the capture thread drains it — counted in
// vnetd_capture_dropped_packets_total{where="kernel"}, and not what this test is about.
TEST_F(MetricsTest, PacketsAreFramesAsTheHostSeesThemBytesAreExact) {
  std::string br = net_.bridgeName("br");
  writeConfig("[capture]\nbuffer_size = \"16M\"\n\n" + bridgeWithDefaults(br, "198.18.164.1/24"));
  startDaemon();
  std::string a = net_.jailName("a"), b = net_.jailName("b");
  for (const auto& j : {a, b}) {
    net_.addNamespace(j);
    testing::disableIpv6InNamespace(j);
    for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j).status, 0);
  }
  ASSERT_NO_FATAL_FAILURE(testing::quietenLinks(br, {a, b}));
  const std::string b_addr = "198.18.164.3", jail_a = "jail=\"" + a + "\"";
  ASSERT_TRUE(TestNet::ping(a, b_addr));

  // Both families' account of what a sent, once the capture has published all of it (it
  // lags the kernel by up to ~1.1 s): equal packets and equal bytes.
  uint16_t port = metricsPort();
  struct Sent {
    double kernel_packets, kernel_bytes, capture_packets, capture_bytes, capture_tcp_packets;
  };
  auto read = [&] {
    std::string t = httpGet(port, "/metrics");
    return Sent{sumOf(t, "vnetd_jail_network_transmit_packets_total", {jail_a}),
                sumOf(t, "vnetd_jail_network_transmit_bytes_total", {jail_a}),
                sumOf(t, "vnetd_jail_traffic_transmit_packets_total", {jail_a}),
                sumOf(t, "vnetd_jail_traffic_transmit_bytes_total", {jail_a}),
                sumOf(t, "vnetd_jail_traffic_transmit_packets_total", {jail_a, "protocol=\"tcp\""})};
  };
  auto agreed = [&](const char* when) {
    Sent s{};
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
         std::chrono::steady_clock::now() < deadline;) {
      s = read();
      if (s.kernel_packets > 0 && s.kernel_packets == s.capture_packets && s.kernel_bytes == s.capture_bytes) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the capture publishes every second: poll, bounded
    }
    if (s.capture_packets != s.kernel_packets || s.capture_bytes != s.kernel_bytes) {
      std::string t = httpGet(port, "/metrics");
      std::string diag;
      std::istringstream in(t);
      for (std::string line; std::getline(in, line);)
        if (line.rfind("vnetd_capture_", 0) == 0 || (line.rfind("vnetd_jail_traffic_", 0) == 0 && line.find(jail_a) != std::string::npos && line.substr(line.rfind(' ') + 1) != "0"))
          diag += line + "\n";
      ADD_FAILURE() << when << ": the jail sent " << s.kernel_packets << " packets, " << s.kernel_bytes
                    << " bytes (kernel), " << s.capture_packets << ", " << s.capture_bytes << " (capture)\n" << diag;
    }
    return s;
  };
  Sent before = agreed("after the ping");

  constexpr size_t kBytes = 1 << 20;
  ASSERT_EQ(testing::tcpTransfer(a, b, b_addr, 9997, kBytes), kBytes);
  Sent after = agreed("after the transfer");
  std::string text = httpGet(port, "/metrics");
  EXPECT_EQ(testing::sample(text, "vnetd_capture_dropped_packets_total", {"where=\"kernel\""}), 0)
      << "the capture lost frames: the comparison above means nothing";

  const double frames = after.capture_tcp_packets - before.capture_tcp_packets;
  const double segments = std::ceil(static_cast<double>(kBytes) / 1448);
  EXPECT_GT(frames, 0);
  EXPECT_LT(frames, segments) << "TCP frames a sent (capture) vs the segments a wire needs: no offload?";
  EXPECT_LT(after.kernel_packets - before.kernel_packets, segments) << "the kernel counts the same super-frames";
  EXPECT_GE(after.capture_bytes - before.capture_bytes, static_cast<double>(kBytes)) << "bytes: payload and headers";
  std::printf("[ metrics ] TCP %zu bytes a->b: %.0f frames sent by a (kernel %.0f), %.0f segments on a wire; "
              "%.0f bytes (kernel %.0f)\n",
              kBytes, frames, after.kernel_packets - before.kernel_packets, segments,
              after.capture_bytes - before.capture_bytes, after.kernel_bytes - before.kernel_bytes);
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
