#include "daemon/rates.h"

#include <gtest/gtest.h>

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;

platform::LinkCounters hostSide(uint64_t rx_bytes, uint64_t rx_packets, uint64_t tx_bytes, uint64_t tx_packets) {
  platform::LinkCounters c;
  c.rx_bytes = rx_bytes;
  c.rx_packets = rx_packets;
  c.tx_bytes = tx_bytes;
  c.tx_packets = tx_packets;
  return c;
}

TEST(RateSampler, NoRateBeforeTwoSamples) {
  RateSampler s;
  EXPECT_FALSE(s.rates("e0a_web"));
  s.sample(RateSampler::Clock::time_point{} + 1s, {{"e0a_web", hostSide(0, 0, 0, 0)}});
  EXPECT_FALSE(s.rates("e0a_web"));
}

TEST(RateSampler, RatesAreTheJailsDirectionOverTheInterval) {
  RateSampler s;
  auto t0 = RateSampler::Clock::time_point{} + 10s;
  s.sample(t0, {{"e0a_web", hostSide(1000, 10, 5000, 50)}});
  // Over 2 s the host side received 4000 B / 40 packets (the jail sent them) and sent
  // 1000 B / 4 packets (the jail received them).
  s.sample(t0 + 2s, {{"e0a_web", hostSide(5000, 50, 6000, 54)}});
  auto r = s.rates("e0a_web");
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->seconds, 2.0);
  EXPECT_DOUBLE_EQ(r->tx_bps, 4000.0 * 8 / 2);
  EXPECT_DOUBLE_EQ(r->tx_pps, 20.0);
  EXPECT_DOUBLE_EQ(r->rx_bps, 1000.0 * 8 / 2);
  EXPECT_DOUBLE_EQ(r->rx_pps, 2.0);
}

TEST(RateSampler, OnlyTheLastTwoSamplesCount) {
  RateSampler s;
  auto t0 = RateSampler::Clock::time_point{} + 10s;
  s.sample(t0, {{"x", hostSide(0, 0, 0, 0)}});
  s.sample(t0 + 1s, {{"x", hostSide(1'000'000, 1000, 0, 0)}});
  s.sample(t0 + 2s, {{"x", hostSide(1'000'100, 1001, 0, 0)}});
  auto r = s.rates("x");
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->tx_bps, 800.0);
  EXPECT_DOUBLE_EQ(r->tx_pps, 1.0);
}

TEST(RateSampler, ACounterThatWentBackwardsGivesNoRate) {
  RateSampler s;
  auto t0 = RateSampler::Clock::time_point{} + 10s;
  s.sample(t0, {{"x", hostSide(5000, 50, 0, 0)}});
  s.sample(t0 + 1s, {{"x", hostSide(100, 1, 0, 0)}});  // re-created under the same name
  EXPECT_FALSE(s.rates("x"));
  s.sample(t0 + 2s, {{"x", hostSide(200, 2, 0, 0)}});
  ASSERT_TRUE(s.rates("x"));
  EXPECT_DOUBLE_EQ(s.rates("x")->tx_bps, 800.0);
}

TEST(RateSampler, InterfacesThatDisappearAreForgotten) {
  RateSampler s;
  auto t0 = RateSampler::Clock::time_point{} + 10s;
  s.sample(t0, {{"x", hostSide(0, 0, 0, 0)}, {"y", hostSide(0, 0, 0, 0)}});
  s.sample(t0 + 1s, {{"y", hostSide(8, 1, 0, 0)}});
  EXPECT_FALSE(s.rates("x"));
  s.sample(t0 + 2s, {{"x", hostSide(100, 1, 0, 0)}, {"y", hostSide(16, 2, 0, 0)}});
  EXPECT_FALSE(s.rates("x"));  // back, but seen once only since
  EXPECT_TRUE(s.rates("y"));
}

}  // namespace
}  // namespace vnetd::daemon
