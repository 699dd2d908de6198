#include "collectors/jail_counters.h"

#include <gtest/gtest.h>
#include "tests/support/metric_families.h"

namespace vnetd::collectors {
namespace {

using platform::LinkInfo;

using testing::findFamily;
using testing::labelValue;

struct Fixture {
  State state;
  std::vector<LinkInfo> links;
  std::vector<platform::JailInfo> running;

  Fixture() {
    JailRecord rec;
    rec.name = "web";
    rec.phase = "created";
    InterfaceRecord ir;
    ir.index = 0;
    ir.host_name = "e0a_web";
    ir.jail_name = "eth0";
    ir.host_mac = "02:00:00:00:00:0a";
    ir.jail_mac = "02:00:00:00:00:0b";
    ir.bridge = "bridge0";
    rec.interfaces.push_back(ir);
    state.jails["web"] = rec;
    LinkInfo br;
    br.index = 1;
    br.name = "bridge0";
    LinkInfo hs;
    hs.index = 2;
    hs.name = "e0a_web";
    hs.mac = *MacAddress::parse("02:00:00:00:00:0a");
    hs.master_index = 1;
    hs.running = true;
    hs.counters.rx_bytes = 1000;   // the jail sent
    hs.counters.tx_bytes = 5000;   // the jail received
    hs.counters.rx_packets = 10;
    hs.counters.tx_packets = 50;
    links = {br, hs};
    running = {{"web", 42, true}};
  }
};

TEST(JailCounters, DirectionIsTheJailsAndLabelsAreNames) {
  Fixture f;
  auto fs = jailCounterFamilies(f.state, f.links, f.running, {"bridge0"});
  const auto* rx = findFamily(fs, "vnetd_jail_network_receive_bytes_total");
  const auto* tx = findFamily(fs, "vnetd_jail_network_transmit_bytes_total");
  ASSERT_TRUE(rx && tx);
  ASSERT_EQ(rx->metric.size(), 1u);
  EXPECT_EQ(rx->type, prometheus::MetricType::Counter);
  EXPECT_EQ(rx->metric[0].counter.value, 5000);
  EXPECT_EQ(tx->metric[0].counter.value, 1000);
  EXPECT_EQ(labelValue(rx->metric[0], "jail"), "web");
  EXPECT_EQ(labelValue(rx->metric[0], "interface"), "eth0");
  EXPECT_EQ(labelValue(rx->metric[0], "bridge"), "bridge0");
  EXPECT_EQ(labelValue(rx->metric[0], "jid"), "") << "jid only in vnetd_jail_info";
  EXPECT_EQ(findFamily(fs, "vnetd_jail_network_receive_packets_total")->metric[0].counter.value, 50);
  const auto* info = findFamily(fs, "vnetd_jail_info");
  ASSERT_EQ(info->metric.size(), 1u);
  EXPECT_EQ(labelValue(info->metric[0], "jid"), "42");
  EXPECT_EQ(findFamily(fs, "vnetd_jail_up")->metric[0].gauge.value, 1);
  EXPECT_EQ(findFamily(fs, "vnetd_interface_up")->metric[0].gauge.value, 1);
  EXPECT_EQ(findFamily(fs, "vnetd_bridge_members")->metric[0].gauge.value, 1);
}

TEST(JailCounters, AStoppedJailIsDownWithoutInterfaceSeries) {
  Fixture f;
  f.running.clear();
  f.links.pop_back();  // its pair went with it
  auto fs = jailCounterFamilies(f.state, f.links, f.running, {"bridge0"});
  EXPECT_TRUE(findFamily(fs, "vnetd_jail_network_receive_bytes_total")->metric.empty());
  EXPECT_TRUE(findFamily(fs, "vnetd_jail_info")->metric.empty());
  EXPECT_EQ(findFamily(fs, "vnetd_jail_up")->metric[0].gauge.value, 0);
}

TEST(JailCounters, ALinkThatTookTheNameButNotTheMacIsNotTheJails) {
  Fixture f;
  f.links[1].mac = *MacAddress::parse("02:00:00:00:00:99");
  auto fs = jailCounterFamilies(f.state, f.links, f.running, {});
  EXPECT_TRUE(findFamily(fs, "vnetd_jail_network_transmit_bytes_total")->metric.empty());
  EXPECT_TRUE(findFamily(fs, "vnetd_bridge_members")->metric.empty()) << "no configured bridges given";
}

TEST(JailCounters, ForgottenJailsHaveNoSeries) {
  Fixture f;
  f.state.jails.clear();
  auto fs = jailCounterFamilies(f.state, f.links, f.running, {"bridge0"});
  for (const auto& fam : fs)
    for (const auto& m : fam.metric) EXPECT_EQ(labelValue(m, "jail"), "") << fam.name;
}

}  // namespace
}  // namespace vnetd::collectors
