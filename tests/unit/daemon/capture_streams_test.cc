#include "daemon/capture_streams.h"

#include <gtest/gtest.h>

#include "collectors/live_capture.h"

namespace vnetd::daemon {
namespace {

InterfaceRecord iface(unsigned index, const std::string& bridge, const std::string& host_mac,
                      const std::string& jail_mac) {
  InterfaceRecord r;
  r.index = index;
  r.host_name = "e" + std::to_string(index) + "a_web";
  r.jail_name = "e" + std::to_string(index) + "b_web";
  r.bridge = bridge;
  r.host_mac = host_mac;
  r.jail_mac = jail_mac;
  return r;
}

TEST(CaptureTarget, EveryBridgeOnceAndBothMacsOfTheInterfacesOnThem) {
  State s;
  JailRecord web;
  web.name = "web";
  web.interfaces = {iface(0, "br0", "02:00:00:00:00:0a", "02:00:00:00:00:0b"),
                    iface(1, "", "02:00:00:00:01:0a", "02:00:00:00:01:0b"),  // not bridged: not captured
                    iface(2, "br1", "02:00:00:00:02:0a", "02:00:00:00:02:0b"),
                    iface(3, "br0", "02:00:00:00:03:0a", "02:00:00:00:03:0b")};
  s.jails["web"] = web;
  auto t = resolveCaptureTarget(s, "web");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->bridges, (std::vector<std::string>{"br0", "br1"}));
  EXPECT_EQ(t->macs, (std::vector<std::string>{"02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:02:0a",
                                               "02:00:00:00:02:0b", "02:00:00:00:03:0a", "02:00:00:00:03:0b"}));

  EXPECT_EQ(resolveCaptureTarget(s, "db").error().message(), "no jail 'db' is recorded by vnetd");
  JailRecord lonely;
  lonely.name = "lonely";
  lonely.interfaces = {iface(0, "", "02:00:00:00:00:0c", "02:00:00:00:00:0d")};
  s.jails["lonely"] = lonely;
  EXPECT_EQ(resolveCaptureTarget(s, "lonely").error().message(),
            "jail lonely has no interface on a bridge: nothing to capture");
}

TEST(CaptureTarget, FilterExpressionRestrictsToTheMacsAndAndsTheUsersFilter) {
  EXPECT_EQ(captureFilterExpression({"02:00:00:00:00:0a"}, ""), "(ether host 02:00:00:00:00:0a)");
  EXPECT_EQ(captureFilterExpression({"02:00:00:00:00:0a", "02:00:00:00:00:0b"}, "udp or icmp"),
            "(ether host 02:00:00:00:00:0a or ether host 02:00:00:00:00:0b) and (udp or icmp)");
  // What the daemon builds compiles; a user's typo does not, with pcap's own words.
  EXPECT_TRUE(collectors::checkCaptureFilter(
      captureFilterExpression({"02:00:00:00:00:0a", "02:00:00:00:00:0b"}, "tcp port 80")));
  EXPECT_TRUE(collectors::checkCaptureFilter(""));
  auto bad = collectors::checkCaptureFilter("udp prot 53");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("invalid capture filter: ", 0), 0u) << bad.error().message();
  // Spliced in, "udp) or (tcp" would compile and escape the MAC restriction; the session
  // compiles the user's filter alone first, where unbalanced parentheses fail.
  EXPECT_TRUE(collectors::checkCaptureFilter(captureFilterExpression({"02:00:00:00:00:0a"}, "udp) or (tcp")));
  EXPECT_FALSE(collectors::checkCaptureFilter("udp) or (tcp"));
}

TEST(RecorderFilter, KeepsOnlyMatchingFramesInOrder) {
  // Two Ethernet frames: ARP (0x0806) and IPv4/UDP (0x0800), 60 bytes each.
  auto frame = [](uint16_t ethertype, uint8_t tag) {
    std::vector<std::byte> f(60, std::byte{0});
    f[12] = std::byte(ethertype >> 8);
    f[13] = std::byte(ethertype & 0xff);
    f[59] = std::byte{tag};
    if (ethertype == 0x0800) {
      f[14] = std::byte{0x45};
      f[16] = std::byte{0};
      f[17] = std::byte{46};  // total length
      f[22] = std::byte{64};  // ttl
      f[23] = std::byte{17};  // UDP
    }
    return f;
  };
  collectors::RecordedFrames in;
  in.snaplen = 128;
  in.append({1, 0, 60, 60}, frame(0x0806, 1));
  in.append({2, 0, 60, 60}, frame(0x0800, 2));
  in.append({3, 0, 60, 60}, frame(0x0806, 3));
  auto arp = collectors::filterRecordedFrames(in, "arp");
  ASSERT_TRUE(arp) << arp.error().message();
  ASSERT_EQ(arp->meta.size(), 2u);
  EXPECT_EQ(arp->meta[0].ts_sec, 1);
  EXPECT_EQ(arp->meta[1].ts_sec, 3);
  EXPECT_EQ(arp->bytes[119], std::byte{3});
  auto udp = collectors::filterRecordedFrames(in, "udp");
  ASSERT_TRUE(udp);
  ASSERT_EQ(udp->meta.size(), 1u);
  EXPECT_EQ(udp->meta[0].ts_sec, 2);
  EXPECT_EQ(collectors::filterRecordedFrames(in, "")->meta.size(), 3u);
  EXPECT_FALSE(collectors::filterRecordedFrames(in, "nonsense here"));
}

}  // namespace
}  // namespace vnetd::daemon
