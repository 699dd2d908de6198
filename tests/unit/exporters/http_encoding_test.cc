#include "exporters/http_encoding.h"
#include "tests/support/gunzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace vnetd::exporters {
namespace {

// The gzip decoder the test trusts: zlib's inflate with gzip framing, the whole member.
using vnetd::testing::gunzip;

// A page like vnetd's: many near-identical lines (what gzip is good at) with changing
// numbers (what it is not).
std::string page(int series) {
  std::string text = "# HELP vnetd_jail_network_receive_bytes_total bytes\n# TYPE vnetd_jail_network_receive_bytes_total counter\n";
  uint32_t x = 12345;
  for (int i = 0; i < series; ++i) {
    x = x * 1103515245u + 12345u;
    text += "vnetd_jail_network_receive_bytes_total{jail=\"j" + std::to_string(i) + "\",interface=\"e0b_j" +
            std::to_string(i) + "\",bridge=\"br0\"} " + std::to_string(x >> 4) + "\n";
  }
  return text;
}

TEST(AcceptsGzip, WhatPrometheusAndBrowsersSend) {
  EXPECT_TRUE(acceptsGzip("gzip"));  // Prometheus' scrape request
  EXPECT_TRUE(acceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(acceptsGzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  EXPECT_TRUE(acceptsGzip("identity,gzip"));  // two headers, joined
  EXPECT_FALSE(acceptsGzip(""));               // curl without --compressed: no header
  EXPECT_FALSE(acceptsGzip("identity"));
  EXPECT_FALSE(acceptsGzip("deflate, br"));
}

TEST(AcceptsGzip, NamesAreCaseInsensitiveAndXGzipIsGzip) {
  EXPECT_TRUE(acceptsGzip("GZip"));
  EXPECT_TRUE(acceptsGzip("x-gzip"));
  EXPECT_TRUE(acceptsGzip(" \tgzip \t"));
  EXPECT_FALSE(acceptsGzip("gzipx"));
  EXPECT_FALSE(acceptsGzip("xgzip"));
  EXPECT_FALSE(acceptsGzip("g zip"));
}

TEST(AcceptsGzip, AZeroWeightRefuses) {
  EXPECT_FALSE(acceptsGzip("gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(acceptsGzip("gzip;Q=0.0"));
  EXPECT_TRUE(acceptsGzip("gzip;q=0.001"));
  EXPECT_TRUE(acceptsGzip("gzip;q=1"));
  EXPECT_TRUE(acceptsGzip("gzip;q=1.000"));
  EXPECT_TRUE(acceptsGzip("gzip;q=0, gzip;q=0.5"));  // listed twice: the better weight
  EXPECT_TRUE(acceptsGzip("gzip;q=0.5, gzip;q=0"));
}

TEST(AcceptsGzip, TheWildcardCoversGzipUnlessGzipIsRefusedByName) {
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip("br, *;q=0.5"));
  EXPECT_FALSE(acceptsGzip("*;q=0"));
  EXPECT_FALSE(acceptsGzip("*, gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0, *"));
}

TEST(AcceptsGzip, MalformedWeightsAreNotAcceptable) {
  EXPECT_FALSE(acceptsGzip("gzip;q=1.5"));
  EXPECT_FALSE(acceptsGzip("gzip;q=2"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0.0001"));
  EXPECT_FALSE(acceptsGzip("gzip;q=abc"));
  EXPECT_FALSE(acceptsGzip("gzip;q="));
  EXPECT_FALSE(acceptsGzip("gzip;q"));
  EXPECT_FALSE(acceptsGzip("gzip;q=.5"));
  // gzip listed with a weight that cannot be read is refused, not unlisted: "*" does not
  // bring it back.
  EXPECT_FALSE(acceptsGzip("*, gzip;q=abc"));
  EXPECT_FALSE(acceptsGzip("*, gzip;q"));
  EXPECT_TRUE(acceptsGzip("gzip;level=1"));  // another parameter: the weight is 1
  EXPECT_TRUE(acceptsGzip(",,gzip,,"));      // empty list elements are allowed and skipped
}

TEST(GzipCompress, DecodesToTheSameBytes) {
  for (int series : {0, 1, 1000, 60000}) {
    std::string text = page(series);
    auto gz = gzipCompress(text);
    ASSERT_TRUE(gz) << gz.error().message();
    ASSERT_GE(gz->size(), 18u);  // header (10) + trailer (8)
    EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
    EXPECT_EQ(gunzip(*gz), text) << series << " series";
  }
}

TEST(GzipCompress, AMetricsPageShrinksManyTimes) {
  std::string text = page(60000);
  auto gz = gzipCompress(text);
  ASSERT_TRUE(gz) << gz.error().message();
  EXPECT_LT(gz->size() * 4, text.size()) << text.size() << " -> " << gz->size();
  EXPECT_LT(gz->capacity(), text.size() / 2) << "the deflateBound-sized buffer was kept";
}

TEST(GzipCompress, EveryByteValueSurvives) {
  std::string text;
  for (int i = 0; i < 70000; ++i) text += static_cast<char>((i * 7919) & 0xff);
  auto gz = gzipCompress(text, 6);
  ASSERT_TRUE(gz) << gz.error().message();
  EXPECT_EQ(gunzip(*gz), text);
}

}  // namespace
}  // namespace vnetd::exporters
