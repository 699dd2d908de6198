#include "cli/vnetctl/top_view.h"

#include <gtest/gtest.h>

namespace vnetd::cli {
namespace {

Counters counters(uint64_t rx_bytes, uint64_t tx_bytes, uint64_t rx_packets, uint64_t tx_packets,
                  uint64_t rx_dropped = 0, uint64_t tx_dropped = 0) {
  Counters c;
  c.rx_bytes = rx_bytes;
  c.tx_bytes = tx_bytes;
  c.rx_packets = rx_packets;
  c.tx_packets = tx_packets;
  c.rx_dropped = rx_dropped;
  c.tx_dropped = tx_dropped;
  return c;
}

JailSample jail(const std::string& name, std::optional<int64_t> jid,
                std::vector<std::pair<std::string, Counters>> ifs) {
  JailSample j;
  j.name = name;
  j.jid = jid;
  j.running = jid.has_value();
  j.interfaces = std::move(ifs);
  return j;
}

const JailRow& row(const std::vector<JailRow>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name) return r;
  static JailRow none;
  ADD_FAILURE() << "no row " << name;
  return none;
}

TEST(TopView, CounterDeltaNeverGoesNegative) {
  EXPECT_EQ(counterDelta(100, 150), 50u);
  EXPECT_EQ(counterDelta(100, 100), 0u);
  EXPECT_EQ(counterDelta(1000, 40), 40u) << "reset: counts again from zero";
  EXPECT_EQ(counterDelta(UINT64_MAX - 5, 3), 3u) << "wrap is a reset too: a lower bound, never negative";
  EXPECT_EQ(counterDelta(UINT32_MAX, 10), 10u);
}

TEST(TopView, RatesFromTheGrowthBetweenTwoSamples) {
  TopSample a{10.0, {jail("web", 1, {{"e0a_web", counters(1000, 500, 10, 5, 1, 0)}})}};
  TopSample b{12.0, {jail("web", 1, {{"e0a_web", counters(251000, 10500, 1010, 105, 3, 2)}})}};
  b.jails[0].flows = 4;
  auto rows = topRows(&a, b);
  ASSERT_EQ(rows.size(), 1u);
  const auto& r = rows[0];
  EXPECT_DOUBLE_EQ(*r.rx_bps, 250000.0 * 8 / 2);
  EXPECT_DOUBLE_EQ(*r.tx_bps, 10000.0 * 8 / 2);
  EXPECT_DOUBLE_EQ(*r.rx_pps, 500.0);
  EXPECT_DOUBLE_EQ(*r.tx_pps, 50.0);
  EXPECT_DOUBLE_EQ(*r.drops_ps, 2.0);  // (2 + 2) / 2 s
  EXPECT_EQ(r.flows, 4u);
  EXPECT_DOUBLE_EQ(*r.total(), 1040000.0);
}

TEST(TopView, ResetsRestartsAndNewInterfacesGiveNoNegativeRates) {
  // Two interfaces; one's counters went backwards (pair re-created), one is new.
  TopSample a{0.0, {jail("web", 1, {{"e0a_web", counters(5000, 5000, 50, 50)}, {"e1a_web", counters(10, 10, 1, 1)}}),
                    jail("db", 2, {{"e0a_db", counters(900000, 900000, 9000, 9000)}})}};
  TopSample b{1.0, {jail("web", 1, {{"e0a_web", counters(100, 200, 1, 2)}, {"e1a_web", counters(20, 30, 2, 3)},
                                    {"e2a_web", counters(7, 0, 1, 0)}}),
                    // Restarted: new jid, counters of the new pair below the old ones.
                    jail("db", 9, {{"e0a_db", counters(1000, 2000, 10, 20)}})}};
  auto rows = topRows(&a, b);
  const auto& web = row(rows, "web");
  EXPECT_DOUBLE_EQ(*web.rx_bps, (100 + 10 + 7) * 8.0);
  EXPECT_DOUBLE_EQ(*web.tx_bps, (200 + 20 + 0) * 8.0);
  const auto& db = row(rows, "db");
  EXPECT_DOUBLE_EQ(*db.rx_bps, 8000.0) << "new jid: the new pair's counters count from zero";
  EXPECT_DOUBLE_EQ(*db.tx_pps, 20.0);
  // A restarted jail whose new counters already exceed the old ones still counts from zero.
  TopSample c{2.0, {jail("db", 10, {{"e0a_db", counters(5000, 5000, 50, 50)}})}};
  EXPECT_DOUBLE_EQ(*row(topRows(&b, c), "db").rx_bps, 5000 * 8.0);
  for (const auto* r : {&web, &db})
    for (auto v : {r->rx_bps, r->tx_bps, r->rx_pps, r->tx_pps, r->drops_ps}) EXPECT_GE(*v, 0.0);
}

TEST(TopView, WithoutAPreviousSampleTheDaemonsAveragesOrUnknown) {
  JailSample web = jail("web", 1, {{"e0a_web", counters(1, 1, 1, 1)}});
  web.daemon_rates = Rates{800, 1600, 1, 2, 2};
  TopSample first{5.0, {web, jail("db", 2, {{"e0a_db", counters(1, 1, 1, 1)}})}};
  auto rows = topRows(nullptr, first);
  EXPECT_DOUBLE_EQ(*row(rows, "web").tx_bps, 1600.0);
  EXPECT_FALSE(row(rows, "web").drops_ps) << "the daemon has no drop rate";
  EXPECT_FALSE(row(rows, "db").rx_bps);
  EXPECT_EQ(rows[0].name, "web") << "known rates first";
  // The clock did not advance: no division by zero, the daemon's averages again.
  auto same = topRows(&first, first);
  EXPECT_DOUBLE_EQ(*row(same, "web").rx_bps, 800.0);
  EXPECT_FALSE(row(same, "db").rx_bps);
}

TEST(TopView, SampleSumsTheDaemonsRatesOnlyWhenEveryInterfaceHasThem) {
  StatusSnapshot s;
  JailStatus j;
  j.name = "web";
  j.running = true;
  j.jid = 4;
  for (int k = 0; k < 2; ++k) {
    InterfaceStatus i;
    i.host_name = "e" + std::to_string(k) + "a_web";
    i.counters = counters(100, 200, 1, 2);
    i.rates = Rates{1000, 2000, 10, 20, 2};
    j.interfaces.push_back(i);
  }
  InterfaceStatus gone;
  gone.host_name = "e2a_web";  // host side absent: no counters
  j.interfaces.push_back(gone);
  s.jails.push_back(j);
  TopSample t = topSample(s, 3.5);
  EXPECT_DOUBLE_EQ(t.at, 3.5);
  ASSERT_EQ(t.jails.size(), 1u);
  EXPECT_EQ(t.jails[0].interfaces.size(), 2u);
  EXPECT_FALSE(t.jails[0].daemon_rates) << "one interface has no rate: a partial sum would understate";
  s.jails[0].interfaces.pop_back();
  t = topSample(s, 3.5);
  ASSERT_TRUE(t.jails[0].daemon_rates);
  EXPECT_DOUBLE_EQ(t.jails[0].daemon_rates->tx_bps, 4000.0);
  EXPECT_DOUBLE_EQ(t.jails[0].daemon_rates->rx_pps, 20.0);
}

TEST(TopView, SortedByTotalRateThenName) {
  std::vector<JailRow> rows(5);
  rows[0].name = "idle";
  rows[0].rx_bps = 0, rows[0].tx_bps = 0;
  rows[1].name = "unknown";
  rows[2].name = "busy";
  rows[2].rx_bps = 10, rows[2].tx_bps = 1e6;
  rows[3].name = "b-mid";
  rows[3].rx_bps = 500, rows[3].tx_bps = 500;
  rows[4].name = "a-mid";
  rows[4].rx_bps = 1000, rows[4].tx_bps = 0;
  sortRows(rows);
  std::vector<std::string> order;
  for (const auto& r : rows) order.push_back(r.name);
  EXPECT_EQ(order, (std::vector<std::string>{"busy", "a-mid", "b-mid", "idle", "unknown"}));
}

std::vector<JailRow> someRows(size_t n, const std::string& prefix = "jail") {
  std::vector<JailRow> rows;
  for (size_t k = 0; k < n; ++k) {
    JailRow r;
    r.name = prefix + std::to_string(k);
    r.running = k % 2 == 0;
    r.rx_bps = 1e6 * static_cast<double>(n - k);
    r.tx_bps = 2e3;
    r.rx_pps = 100;
    r.tx_pps = 3;
    r.drops_ps = 0;
    r.flows = k;
    rows.push_back(r);
  }
  return rows;
}

// A sampled capture's flows are those seen in the sampled frames: the totals line says so.
TEST(TopView, SampledFlowsAreMarked) {
  auto rows = someRows(3);
  for (auto& r : rows) r.flows_sample = 64;
  auto ls = layoutTop(rows, TopHeader{"14:02:33", 2, ""}, 120, 24);
  EXPECT_EQ(ls[1], "total  rx 6.00M bit/s 300 pkt/s  tx 6.00k bit/s 9 pkt/s  drops 0/s  flows 3 (sampled capture, 1 "
                   "frame in 64)");
}

TEST(TopView, LayoutHeaderTotalsAndColumns) {
  auto rows = someRows(3);
  TopHeader h{"14:02:33", 2, "q quits"};
  auto ls = layoutTop(rows, h, 80, 24);
  ASSERT_EQ(ls.size(), 4u + 3u);
  EXPECT_EQ(ls[0], "vnetctl top  14:02:33  3 jails, 2 running  every 2s  (q quits)");
  EXPECT_EQ(ls[1], "total  rx 6.00M bit/s 300 pkt/s  tx 6.00k bit/s 9 pkt/s  drops 0/s  flows 3");
  EXPECT_EQ(ls[2], "");
  EXPECT_EQ(ls[3], "JAIL   RX-bit/s  TX-bit/s  RX-pkt/s  TX-pkt/s  FLOWS  DROP/s");
  EXPECT_EQ(ls[4], "jail0     3.00M     2.00k       100         3      0       0");
  for (const auto& l : ls) EXPECT_LE(l.size(), 80u);
  // Unknowns: "-" in the cells and in the totals.
  JailRow u;
  u.name = "new";
  ls = layoutTop({u}, TopHeader{"00:00:00", 0.5, ""}, 80, 24);
  EXPECT_EQ(ls[0], "vnetctl top  00:00:00  1 jail, 0 running  every 0.5s");
  EXPECT_EQ(ls[1], "total  rx 0 bit/s 0 pkt/s  tx 0 bit/s 0 pkt/s  drops -  flows -");
  EXPECT_EQ(ls[4], "new          -         -         -         -      -       -");
}

TEST(TopView, LayoutFitsTheWidthCuttingNamesThenDroppingColumns) {
  auto rows = someRows(2, "a-very-long-jail-name-indeed-");
  TopHeader h{"14:02:33", 2, "q quits"};
  for (unsigned w : {80u, 60u, 40u, 30u, 20u}) {
    auto ls = layoutTop(rows, h, w, 24);
    for (const auto& l : ls) EXPECT_LE(l.size(), w) << w << ": " << l;
  }
  auto ls = layoutTop(rows, h, 80, 24);
  // 80 columns: every column stays, the names are cut with '~'.
  EXPECT_EQ(ls[3].rfind("JAIL ", 0), 0u);
  EXPECT_NE(ls[3].find("DROP/s"), std::string::npos);
  EXPECT_NE(ls[4].find("~ "), std::string::npos) << ls[4];
  EXPECT_EQ(ls[4].size(), 80u);
  // 40 columns: packets/s go first, then flows; bits/s stay.
  ls = layoutTop(rows, h, 40, 24);
  EXPECT_EQ(ls[3].find("pkt/s"), std::string::npos) << ls[3];
  EXPECT_NE(ls[3].find("RX-bit/s"), std::string::npos) << ls[3];
  // No limit (batch to a file): nothing cut.
  ls = layoutTop(rows, h, 0, 0);
  EXPECT_EQ(ls[4].rfind("a-very-long-jail-name-indeed-0  ", 0), 0u) << ls[4];
  EXPECT_NE(ls[3].find("DROP/s"), std::string::npos);
}

TEST(TopView, LayoutCutsRowsToTheHeightAndSaysHowManyMore) {
  auto rows = someRows(30);
  TopHeader h{"14:02:33", 2, ""};
  auto ls = layoutTop(rows, h, 80, 24);
  ASSERT_EQ(ls.size(), 24u);
  EXPECT_EQ(ls[4].rfind("jail0 ", 0), 0u) << "busiest first";
  EXPECT_EQ(ls[23], "... 11 more jails");  // 24 - 4 header lines - 1 = 19 shown
  EXPECT_EQ(layoutTop(rows, h, 80, 0).size(), 34u);
  EXPECT_EQ(layoutTop(rows, h, 80, 3).size(), 3u);
  EXPECT_EQ(layoutTop(someRows(20), h, 80, 24).size(), 24u) << "exactly fits: no 'more' line";
  EXPECT_EQ(layoutTop(someRows(20), h, 80, 24).back().rfind("jail19 ", 0), 0u);
}

}  // namespace
}  // namespace vnetd::cli
