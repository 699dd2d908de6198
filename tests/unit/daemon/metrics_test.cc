#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "collectors/metric_family.h"

namespace vnetd::daemon {
namespace {

// Families of `per_family` series each; values and labels differ per series so that a
// piece of text in the wrong place cannot go unnoticed.
class Many final : public prometheus::Collectable {
 public:
  Many(int families, int per_family) : families_(families), per_family_(per_family) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    for (int f = 0; f < families_; ++f) {
      auto fam = collectors::exposition::family(("test_family_" + std::to_string(f) + "_total").c_str(),
                                                "A test family.", prometheus::MetricType::Counter);
      for (int i = 0; i < per_family_; ++i)
        collectors::exposition::add(fam, {{"jail", "j" + std::to_string(i)}, {"n", std::to_string(f)}},
                                    f * 100000.0 + i);
      out.push_back(std::move(fam));
    }
    return out;
  }

 private:
  int families_, per_family_;
};

std::string serially(const prometheus::Collectable& c) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, c.Collect());
  return out.str();
}

size_t occurrences(const std::string& text, const std::string& piece) {
  size_t n = 0;
  for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
  return n;
}

// A page, small or big, holds the collectors' families exactly as prometheus-cpp's own
// TextSerializer writes them, after the daemon's families and in order.
TEST(DaemonMetrics, APageReadsExactlyAsTextSerializerWritesIt) {
  for (auto [families, per_family] : {std::pair{3, 10}, std::pair{7, 1500}, std::pair{2, 5000}, std::pair{40, 333}}) {
    DaemonMetrics metrics;
    auto many = std::make_shared<Many>(families, per_family);
    metrics.add(many);
    std::string expected = serially(*many);
    for (int round = 0; round < 2; ++round) {  // the second one with last_size_ known
      std::string page = metrics.render();
      EXPECT_EQ(occurrences(page, expected), 1u) << families << "x" << per_family << " round " << round;
      // The daemon's own families come first, then the collectors'.
      EXPECT_TRUE(page.starts_with("# HELP vnetd_")) << page.substr(0, 80);
      EXPECT_TRUE(page.ends_with(expected));
    }
  }
}

}  // namespace
}  // namespace vnetd::daemon

namespace vnetd::daemon {
namespace {

TEST(DaemonMetrics, BridgeNatActiveFollowsEachPassAndDropsBridgesThatNoLongerAskForNat) {
  DaemonMetrics m;
  m.setBridgeNat({{"br0", true}, {"br1", false}});
  std::string page = m.render();
  EXPECT_NE(page.find("vnetd_bridge_nat_active{bridge=\"br0\"} 1"), std::string::npos) << page;
  EXPECT_NE(page.find("vnetd_bridge_nat_active{bridge=\"br1\"} 0"), std::string::npos) << page;
  m.setBridgeNat({{"br1", true}});
  page = m.render();
  EXPECT_EQ(page.find("bridge=\"br0\""), std::string::npos) << "br0 no longer configured with NAT\n" << page;
  EXPECT_NE(page.find("vnetd_bridge_nat_active{bridge=\"br1\"} 1"), std::string::npos) << page;
}

}  // namespace
}  // namespace vnetd::daemon

namespace vnetd::daemon {
namespace {

// Alerts watch hook failures: each (phase, reason) is on the page at 0 before the first
// failure, so that increase() over a window holding it sees it.
TEST(DaemonMetrics, HookFailuresStartAtZeroForEveryPhaseAndReason) {
  DaemonMetrics m;
  std::string page = m.render();
  for (const char* phase : {"prestart", "created", "poststart", "prestop", "poststop"})
    for (const char* reason : {"kernel", "refused"})
      EXPECT_NE(page.find(std::string("vnetd_hook_failures_total{phase=\"") + phase + "\",reason=\"" + reason +
                          "\"} 0\n"),
                std::string::npos)
          << phase << " " << reason << "\n"
          << page;
  m.hookFailed(HookPhase::Created, Error{0, "refused"});
  page = m.render();
  EXPECT_NE(page.find("vnetd_hook_failures_total{phase=\"created\",reason=\"refused\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace vnetd::daemon
