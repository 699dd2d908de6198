// exporters/text_exposition.h writes what prometheus::TextSerializer writes, byte for byte
// (the serializer every scrape used before), and what the text format asks where the two
// differ (HELP escaping).
#include "exporters/text_exposition.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

namespace vnetd::exporters {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string reference(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::string ours(const std::vector<MetricFamily>& families) {
  std::string out;
  appendExposition(out, families);
  return out;
}

MetricFamily family(std::string name, MetricType type, std::string help = "Some help.") {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// Values where a formatter can go wrong: signs, zeros, the integer fast path's edges
// (1e16 = 17 digits switches "%.16g" to an exponent), fractions, the unrepresentable
// and the special.
const std::vector<double> kValues = {0.0,
                                     -0.0,
                                     1,
                                     -1,
                                     0.5,
                                     1.0 / 3,
                                     0.001,
                                     0.0025,
                                     1e-7,
                                     242,
                                     999999999999999.0,
                                     1e15,
                                     9999999999999998.0,
                                     1e16,
                                     1e16 + 2,
                                     123456789012345678.0,
                                     18446744073709551615.0,
                                     1e300,
                                     -2.5,
                                     -1e16,
                                     std::numeric_limits<double>::min(),
                                     std::numeric_limits<double>::denorm_min(),
                                     std::numeric_limits<double>::max(),
                                     std::numeric_limits<double>::quiet_NaN(),
                                     std::numeric_limits<double>::infinity(),
                                     -std::numeric_limits<double>::infinity()};

TEST(TextExposition, CountersGaugesAndUntypedReadAsTextSerializerWritesThem) {
  std::vector<MetricFamily> families;
  for (auto type : {MetricType::Counter, MetricType::Gauge, MetricType::Untyped}) {
    auto f = family("vnetd_test_" + std::to_string(static_cast<int>(type)), type);
    for (double v : kValues) {
      ClientMetric m;
      m.label = {{"jail", "web"}, {"family", "ipv4"}};
      m.counter.value = m.gauge.value = m.untyped.value = v;
      f.metric.push_back(m);
    }
    ClientMetric bare;  // no labels: no braces
    bare.counter.value = bare.gauge.value = bare.untyped.value = 7;
    f.metric.push_back(bare);
    families.push_back(f);
  }
  EXPECT_EQ(ours(families), reference(families));
}

TEST(TextExposition, RandomNumbersReadAsTextSerializerWritesThem) {
  std::mt19937_64 rng(20);
  auto f = family("vnetd_random", MetricType::Gauge);
  for (int i = 0; i < 20000; ++i) {
    ClientMetric m;
    uint64_t bits = rng();
    double v;
    switch (i % 4) {
      case 0: v = static_cast<double>(bits >> (bits % 64)); break;               // whole numbers of every size
      case 1: v = static_cast<double>(bits >> 11) / static_cast<double>(1 << 20); break;  // fractions
      case 2: std::memcpy(&v, &bits, sizeof v); break;                           // any bit pattern
      default: v = -static_cast<double>(bits >> (bits % 64)); break;
    }
    m.gauge.value = v;
    f.metric.push_back(m);
  }
  EXPECT_EQ(ours({f}), reference({f}));
}

TEST(TextExposition, HistogramsSummariesTimestampsAndEscapedLabelsReadAsTextSerializerWritesThem) {
  auto h = family("vnetd_hook_duration_seconds", MetricType::Histogram);
  ClientMetric hm;
  hm.label = {{"phase", "created"}};
  hm.histogram.sample_count = 3;
  hm.histogram.sample_sum = 0.1;
  hm.histogram.bucket = {{1, 0.001}, {2, 0.25}, {3, 2.5}};  // no +Inf bucket: one is added
  h.metric.push_back(hm);
  ClientMetric closed;  // ends with +Inf already: nothing added
  closed.histogram.sample_count = 1;
  closed.histogram.sample_sum = 4;
  closed.histogram.bucket = {{0, 1}, {1, std::numeric_limits<double>::infinity()}};
  h.metric.push_back(closed);

  auto s = family("vnetd_summary", MetricType::Summary, "");  // no help: no HELP line
  ClientMetric sm;
  sm.label = {{"a", "b"}};
  sm.summary.sample_count = 3;
  sm.summary.sample_sum = 1.5;
  sm.summary.quantile = {{0.5, 1.5}, {0.99, 2}};
  sm.timestamp_ms = 1700000000123;
  s.metric.push_back(sm);

  auto c = family("vnetd_escaped_total", MetricType::Counter);
  ClientMetric cm;
  cm.label = {{"jail", "a\\b\"c\nd"}, {"empty", ""}};
  cm.counter.value = 1;
  cm.timestamp_ms = -5;
  c.metric.push_back(cm);
  auto empty = family("vnetd_no_series", MetricType::Gauge);

  std::vector<MetricFamily> all = {h, s, c, empty};
  EXPECT_EQ(ours(all), reference(all));
}

// TextSerializer writes HELP text raw; a line feed in it would end the comment and leave
// a line no parser accepts. The format escapes \ and line feed there.
TEST(TextExposition, HelpTextIsEscapedAsTheFormatAsks) {
  auto f = family("vnetd_x", MetricType::Gauge, "one\\two\nthree \"quoted\"");
  ClientMetric m;
  m.gauge.value = 1;
  f.metric.push_back(m);
  EXPECT_EQ(ours({f}), "# HELP vnetd_x one\\\\two\\nthree \"quoted\"\n# TYPE vnetd_x gauge\nvnetd_x 1\n");
}

TEST(TextExposition, AppendsToWhatIsThere) {
  auto f = family("vnetd_x", MetricType::Counter);
  ClientMetric m;
  m.counter.value = 2;
  f.metric.push_back(m);
  std::string out = "before\n";
  appendExposition(out, {f});
  EXPECT_EQ(out, "before\n# HELP vnetd_x Some help.\n# TYPE vnetd_x counter\nvnetd_x 2\n");
}

}  // namespace
}  // namespace vnetd::exporters
