// Spoofed source MACs: root in a jail changes its MAC (ip link set address) and sends
// frames. The daemon's per-port spoofing guard (collectors/capture.h) counts exactly those
// frames as vnetd_jail_spoofed_transmit_packets_total{jail=<the sender>}, never for the jail whose
// MAC was taken, and the frames stay the sender's traffic: the victim's metrics do not
// grow. Subnet 198.18.176.0/24.
#include <chrono>
#include <functional>
#include <thread>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

namespace vnetd {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct JailNet {
  std::string name, address, mac;
};

class CaptureSpoofTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    br_ = net_.bridgeName("br");
    writeConfig(bridgeWithDefaults(br_, "198.18.176.1/24"));
    startDaemon();
    for (const char* label : {"spoofer", "peer", "victim"}) {
      JailNet j;
      j.name = net_.jailName(label);
      net_.addNamespace(j.name);
      testing::disableIpv6InNamespace(j.name);
      for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j.name).status, 0);
      nets_.push_back(j);
    }
    ASSERT_NO_FATAL_FAILURE(testing::quietenLinks(br_, {spoofer().name, peer().name, victim().name}));
    Json st = status();
    for (auto& j : nets_) {
      const Json* rec = findJail(st, j.name);
      ASSERT_NE(rec, nullptr) << j.name;
      const Json& i = (*rec)["interfaces"][0];
      j.mac = i["jail_mac"];
      std::string cidr = i["addresses"][0];
      j.address = cidr.substr(0, cidr.find('/'));
    }
    ASSERT_NO_FATAL_FAILURE(pinPeer());
    std::string url = st["daemon"]["metrics_url"];
    port_ = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }
  const JailNet& spoofer() const { return nets_[0]; }
  const JailNet& peer() const { return nets_[1]; }
  const JailNet& victim() const { return nets_[2]; }

  // No ARP during the test: every frame the spoofer sends is one of ours.
  void pinPeer() {
    auto r = testing::run({"ip", "-n", spoofer().name, "neigh", "replace", peer().address, "lladdr", peer().mac,
                           "dev", interfaceName(spoofer().name, 0, Side::B), "nud", "permanent"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void setSpooferMac(const std::string& mac) {
    auto r = testing::run(
        {"ip", "-n", spoofer().name, "link", "set", "dev", interfaceName(spoofer().name, 0, Side::B), "address", mac});
    ASSERT_EQ(r.status, 0) << r.err;
    // A new MAC flushes the device's neighbours, permanent ones too (neigh_changeaddr →
    // neigh_flush_dev(..., skip_perm = false)): the next datagram would ARP first — a
    // spoofed frame of its own.
    pinPeer();
  }
  void send(int count) {
    ASSERT_EQ(testing::udpExchange(spoofer().name, peer().name, peer().address, count, 100), count);
  }
  double jailSample(const std::string& text, const std::string& metric, const std::string& jail,
                    std::vector<std::string> more = {}) {
    more.push_back("jail=\"" + jail + "\"");
    return testing::sample(text, metric, more, 0);
  }
  double spoofed(const std::string& text, const std::string& jail) {
    return jailSample(text, "vnetd_jail_spoofed_transmit_packets_total", jail);
  }
  // UDP frames the jail sent, as the bridge capture attributes them.
  double udpSent(const std::string& text, const std::string& jail) {
    return jailSample(text, "vnetd_jail_traffic_transmit_packets_total", jail, {"protocol=\"udp\""});
  }
  // Scrapes until `done(text)` or 5 s: the capture publishes once a second, so there is
  // nothing to wait on but the endpoint.
  std::string scrapeUntil(const std::function<bool(const std::string&)>& done) {
    std::string text;
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
      text = testing::httpGet(port_, "/metrics");
      if (done(text)) return text;
      std::this_thread::sleep_for(100ms);
    }
    return text;
  }

  std::string br_;
  std::vector<JailNet> nets_;
  uint16_t port_ = 0;
};

TEST_F(CaptureSpoofTest, FramesFromAChangedMacAreCountedExactlyForTheSenderOnly) {
  // Honest traffic first: counted as the spoofer's, and once the capture has counted it,
  // the MAC table with the spoofer's port (and so its guard) is in use.
  constexpr int kHonest = 4;
  ASSERT_NO_FATAL_FAILURE(send(kHonest));
  std::string text = scrapeUntil([&](const std::string& t) { return udpSent(t, spoofer().name) == kHonest; });
  ASSERT_EQ(udpSent(text, spoofer().name), kHonest) << text;
  EXPECT_EQ(spoofed(text, spoofer().name), 0) << "honest frames are not spoofed";

  // 1. A MAC no jail has (hiding): the frames still count as the spoofer's, by its port.
  constexpr int kHidden = 7;
  ASSERT_NO_FATAL_FAILURE(setSpooferMac("02:5a:5a:00:00:01"));
  ASSERT_NO_FATAL_FAILURE(send(kHidden));
  text = scrapeUntil([&](const std::string& t) {
    return spoofed(t, spoofer().name) >= kHidden && udpSent(t, spoofer().name) >= kHonest + kHidden;
  });
  EXPECT_EQ(spoofed(text, spoofer().name), kHidden) << text;
  EXPECT_EQ(udpSent(text, spoofer().name), kHonest + kHidden) << text;

  // 2. The victim's MAC: counted as spoofed for the sender, never for the victim.
  constexpr int kImpersonated = 5;
  ASSERT_NO_FATAL_FAILURE(setSpooferMac(victim().mac));
  ASSERT_NO_FATAL_FAILURE(send(kImpersonated));
  text = scrapeUntil([&](const std::string& t) {
    return spoofed(t, spoofer().name) >= kHidden + kImpersonated &&
           udpSent(t, spoofer().name) >= kHonest + kHidden + kImpersonated;
  });
  EXPECT_EQ(spoofed(text, spoofer().name), kHidden + kImpersonated) << text;
  EXPECT_EQ(spoofed(text, victim().name), 0) << text;
  EXPECT_EQ(spoofed(text, peer().name), 0) << text;
  // The victim's metrics do not grow: the frames are the spoofer's, by its port.
  EXPECT_EQ(udpSent(text, spoofer().name), kHonest + kHidden + kImpersonated) << text;
  EXPECT_EQ(udpSent(text, victim().name), 0) << text;
  EXPECT_EQ(jailSample(text, "vnetd_jail_traffic_transmit_bytes_total", victim().name), 0) << text;
  EXPECT_EQ(jailSample(text, "vnetd_jail_peer_transmit_bytes_total", victim().name), 0) << text;

  // Logged once for the spoofer, however many frames.
  std::string log = daemon_->log();
  std::string line = "jail " + spoofer().name + " sends frames with source MAC";
  size_t first = log.find(line);
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find(line, first + 1), std::string::npos) << log;

  // Nothing more arrives later: exactly the frames sent.
  ASSERT_NO_FATAL_FAILURE(setSpooferMac(spoofer().mac));
  ASSERT_NO_FATAL_FAILURE(send(kHonest));
  const int total = 2 * kHonest + kHidden + kImpersonated;
  text = scrapeUntil([&](const std::string& t) { return udpSent(t, spoofer().name) == total; });
  ASSERT_EQ(udpSent(text, spoofer().name), total) << text;
  EXPECT_EQ(spoofed(text, spoofer().name), kHidden + kImpersonated) << text;
  EXPECT_EQ(udpSent(text, victim().name), 0) << text;
}

}  // namespace
}  // namespace vnetd
