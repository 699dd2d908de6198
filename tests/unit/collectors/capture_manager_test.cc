// CaptureManager without traffic: bridges that do not exist (the capture retries them
// quietly), the collector's view of attribution changes and reconfiguration, and a
// prompt stop. The real capture on a real bridge is tests/integration/capture_test.cc.
#include "collectors/capture.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace vnetd::collectors {
namespace {

// Names no host has: the capture never opens, which is what these tests are about.
const std::string kBridge0 = "vnetdnobr0", kBridge1 = "vnetdnobr1";

Config configWith(std::vector<std::string> bridges, bool enabled = true) {
  Config c;
  c.capture.enabled = enabled;
  for (const auto& b : bridges) {
    BridgeConfig br;
    br.name = "k" + b;
    br.interface = b;
    c.bridges[br.name] = br;
  }
  return c;
}

State stateWith(std::vector<std::tuple<std::string, std::string, std::string>> jails) {  // name, bridge, jail MAC
  State s;
  for (const auto& [name, bridge, mac] : jails) {
    JailRecord r;
    r.name = name;
    InterfaceRecord ir;
    ir.host_name = "e0a_" + name;
    ir.jail_mac = mac;
    ir.bridge = bridge;
    r.interfaces.push_back(ir);
    s.jails[name] = r;
  }
  return s;
}

bool hasSeries(const std::vector<prometheus::MetricFamily>& fs, const std::string& name, const std::string& label,
               const std::string& value) {
  for (const auto& f : fs)
    if (f.name == name)
      for (const auto& m : f.metric)
        for (const auto& l : m.label)
          if (l.name == label && l.value == value) return true;
  return false;
}

TEST(CaptureManager, CapturesTheConfiguredBridgesAndFollowsTheState) {
  CaptureManager m;
  auto collector = m.collectable();
  EXPECT_TRUE(collector->Collect().empty()) << "nothing captured, nothing exported";

  m.apply(configWith({kBridge0}));
  auto fs = collector->Collect();
  EXPECT_TRUE(hasSeries(fs, "vnetd_capture_packets_total", "bridge", kBridge0));
  EXPECT_TRUE(hasSeries(fs, "vnetd_capture_up", "bridge", kBridge0));

  // Jails appear and leave with the state, at once (no snapshot needed).
  m.setState(stateWith({{"web", kBridge0, "02:00:00:00:00:0b"}, {"db", kBridge1, "02:00:00:00:00:0c"}}));
  fs = collector->Collect();
  EXPECT_TRUE(hasSeries(fs, "vnetd_jail_flows", "jail", "web"));
  EXPECT_FALSE(hasSeries(fs, "vnetd_jail_flows", "jail", "db")) << "db's bridge is not captured";
  m.setState(stateWith({{"db", kBridge1, "02:00:00:00:00:0c"}}));
  EXPECT_FALSE(hasSeries(collector->Collect(), "vnetd_jail_flows", "jail", "web"));

  // A bridge added by a reload starts with the state known so far.
  m.apply(configWith({kBridge0, kBridge1}));
  fs = collector->Collect();
  EXPECT_TRUE(hasSeries(fs, "vnetd_capture_packets_total", "bridge", kBridge1));
  EXPECT_TRUE(hasSeries(fs, "vnetd_jail_flows", "jail", "db"));

  // Removed: its series go.
  m.apply(configWith({kBridge1}));
  fs = collector->Collect();
  EXPECT_FALSE(hasSeries(fs, "vnetd_capture_packets_total", "bridge", kBridge0));
  EXPECT_TRUE(hasSeries(fs, "vnetd_capture_packets_total", "bridge", kBridge1));

  // Disabled: everything stops.
  m.apply(configWith({kBridge1}, false));
  EXPECT_TRUE(collector->Collect().empty());
}

TEST(CaptureManager, AMissingBridgeIsRetriedAndPublishedAsDown) {
  CaptureManager m;
  m.apply(configWith({kBridge0}));
  // The thread publishes while it waits for the bridge (once right away, then every
  // retry): the collector reports it down with zero counts.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool published = false;
  while (!published && std::chrono::steady_clock::now() < deadline) {
    for (const auto& f : m.collectable()->Collect())
      if (f.name == "vnetd_capture_up")
        for (const auto& mm : f.metric) published = mm.gauge.value == 0;
    // Polling a thread that has no notification to offer, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(published);
}

TEST(CaptureManager, StoppingDoesNotWaitForTheRetryPeriod) {
  auto m = std::make_unique<CaptureManager>();
  m->apply(configWith({kBridge0, kBridge1}));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the threads reach their wait
  auto began = std::chrono::steady_clock::now();
  m.reset();
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, std::chrono::milliseconds(500));
}

TEST(CaptureManager, ChangedSettingsRestartTheCaptures) {
  CaptureManager m;
  Config c = configWith({kBridge0});
  m.apply(c);
  m.setState(stateWith({{"web", kBridge0, "02:00:00:00:00:0b"}}));
  c.capture.max_flows = 10;
  m.apply(c);
  EXPECT_TRUE(hasSeries(m.collectable()->Collect(), "vnetd_capture_up", "bridge", kBridge0));
  EXPECT_TRUE(hasSeries(m.collectable()->Collect(), "vnetd_jail_flows", "jail", "web"))
      << "the restarted capture knows the jails";
}

TEST(CaptureBufferNote, SaysWhatTheKernelGaveAndHowToRaiseTheCap) {
  const uint64_t asked = 4u << 20;
  EXPECT_FALSE(captureBufferNote(asked, asked, std::nullopt)) << "as asked: nothing to say";
  // FreeBSD's default: BPF clamps the request to net.bpf.maxbufsize without a word.
  const platform::CaptureBufferLimit cap{524288, "net.bpf.maxbufsize", "/etc/sysctl.conf"};
  auto capped = captureBufferNote(asked, 524288, cap);
  ASSERT_TRUE(capped);
  EXPECT_TRUE(capped->warning);
  EXPECT_EQ(capped->text,
            "the kernel gave the capture a 524288-byte buffer, not the 4194304 bytes of [capture] buffer_size: "
            "net.bpf.maxbufsize caps it at 524288; raise it (then restart vnetd): sysctl "
            "net.bpf.maxbufsize=4194304 && echo net.bpf.maxbufsize=4194304 >> /etc/sysctl.conf");
  // Smaller for another reason (the cap is above the request: memory), or with no cap.
  for (const auto& limit : {std::optional<platform::CaptureBufferLimit>(),
                            std::optional<platform::CaptureBufferLimit>({8u << 20, "net.bpf.maxbufsize", "/etc/sysctl.conf"})}) {
    auto short_of = captureBufferNote(asked, 3u << 20, limit);
    ASSERT_TRUE(short_of);
    EXPECT_TRUE(short_of->warning);
    EXPECT_EQ(short_of->text.find("net.bpf.maxbufsize"), std::string::npos) << short_of->text;
    EXPECT_NE(short_of->text.find("3145728-byte buffer, less than the 4194304 bytes"), std::string::npos)
        << short_of->text;
  }
  // Larger (a ring of whole blocks): information only.
  auto larger = captureBufferNote(1024000, 1048576, std::nullopt);
  ASSERT_TRUE(larger);
  EXPECT_FALSE(larger->warning);
  EXPECT_EQ(larger->text,
            "the kernel gave the capture a 1048576-byte buffer for the 1024000 bytes of [capture] buffer_size "
            "(rounded up)");
}

}  // namespace
}  // namespace vnetd::collectors
