// IPv6 autoconfiguration end to end (issue 19), on the real kernel: the daemon sends
// router advertisements on a bridge with router_advertisements = true; jails with
// address6 = "slaac" form the EUI-64 address of their stable MAC in the bridge's /64,
// learn the bridge's link-local address as default router and reach the bridge. A jail
// with a static IPv4 address keeps its IPv4 default route when the RAs arrive (iocage
// #756). The capture attributes the jail's neighbour discovery traffic to it.
//
// Addresses: 198.18.180.0/24-198.18.189.0/24 and 2001:db8:180::/48-2001:db8:189::/48
// (ISSUE19.md). Every wait polls with a deadline; nothing sleeps.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "core/unique_fd.h"

#include "core/ndp.h"
#include "platform/router_socket.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

namespace vnetd {
namespace {

using Clock = std::chrono::steady_clock;
using testing::TestNet;

// Wakes when the jail's stack changes (addresses, routes, neighbours, links: the rtnetlink
// groups a SLAAC start touches), or when `ms` pass: the pacing of the polls below, which
// then re-read the state they wait for.
class ChangeWaiter {
 public:
  explicit ChangeWaiter(const std::string& ns) {
    testing::inNamespace(ns, [&] {
      fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
      sockaddr_nl sa{};
      sa.nl_family = AF_NETLINK;
      sa.nl_groups = RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH | RTMGRP_LINK;
      ASSERT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    });
  }
  void wait(int ms) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return;
    char buf[8192];
    while (::recv(fd_.get(), buf, sizeof buf, 0) > 0) {
    }
  }

 private:
  UniqueFd fd_;
};

class SlaacTest : public DaemonFixture {
 protected:
  // A bridge "lan" sending RAs for 2001:db8:<n>::/64 (and 198.18.<n>.1/24), and jail
  // tables `jails` (text).
  void configure(int n, const std::string& bridge, const std::string& jails) {
    const std::string net = std::to_string(n);
    writeConfig("[bridge.lan]\ninterface = \"" + bridge + "\"\naddress = \"198.18." + net + ".1/24\"\naddress6 = \"2001:db8:" + net +
                "::1/64\"\nrouter_advertisements = true\n\n" + jails);
  }

  // A jail whose namespace would not autoconfigure on its own: new links there default
  // to accept_ra = 0, autoconf = 0 and no link-local address (addr_gen_mode 1, "none"),
  // as a hardened jail's sysctl.conf might have it. What works then is vnetd's doing
  // (NetStack::enableAutoconf), not the kernel's defaults.
  void startJail(const std::string& jail) {
    net_.addNamespace(jail);
    ASSERT_NO_FATAL_FAILURE(hardenDefaults(jail));
    for (const char* phase : {"prestart", "created"}) {
      auto r = hook(phase, jail);
      ASSERT_EQ(r.status, 0) << phase << " " << jail << ": " << r.err;
    }
  }
  static void hardenDefaults(const std::string& jail) {
    for (const auto& [key, value] : {std::pair{"accept_ra", "0"}, {"autoconf", "0"}, {"addr_gen_mode", "1"}}) {
      auto r = testing::run({"ip", "netns", "exec", jail, "sysctl", "-q", "-w",
                             std::string("net.ipv6.conf.default.") + key + "=" + value});
      ASSERT_EQ(r.status, 0) << key << ": " << r.err;
    }
  }

  static std::string slaacJail(const std::string& jail, const std::string& v4 = "") {
    std::string t = "[jail." + jail + "]\n[[jail." + jail + ".interface]]\nbridge = \"lan\"\naddress6 = \"slaac\"\n";
    if (!v4.empty()) t += "address = \"" + v4 + "\"\n";
    return t + "\n";
  }

  // The jail side's recorded (stable) MAC.
  MacAddress jailMac(const std::string& jail) {
    State s = loadState();
    auto it = s.jails.find(jail);
    EXPECT_TRUE(it != s.jails.end() && !it->second.interfaces.empty()) << jail;
    if (it == s.jails.end() || it->second.interfaces.empty()) return {};
    return MacAddress::parse(it->second.interfaces[0].jail_mac).value_or(MacAddress{});
  }

  struct Inside {
    std::vector<platform::AddressInfo> addresses;
    std::vector<platform::RouteInfo> routes;
  };
  Inside inside(const std::string& jail) {
    Inside out;
    auto info = jails_->find(jail);
    if (!info || !*info) return out;
    auto stack = jails_->openStack(**info);
    if (!stack) return out;
    if (auto a = (*stack)->addresses()) out.addresses = *a;
    if (auto r = (*stack)->defaultRoutes()) out.routes = *r;
    return out;
  }
  static bool hasAddress(const Inside& in, const Cidr& want) {
    for (const auto& a : in.addresses)
      if (a.cidr == want) return true;
    return false;
  }
  static std::optional<platform::RouteInfo> defaultRoute(const Inside& in, IpFamily family) {
    for (const auto& r : in.routes)
      if (r.destination.address.family == family) return r;
    return std::nullopt;
  }

  // Polls until the jail has `address` and an IPv6 default route, or `seconds` pass.
  Inside waitForSlaac(const std::string& jail, const Cidr& address, int seconds) {
    ChangeWaiter changes(jail);
    const auto until = Clock::now() + std::chrono::seconds(seconds);
    Inside in;
    do {
      in = inside(jail);
      if (hasAddress(in, address) && defaultRoute(in, IpFamily::V6)) break;
      changes.wait(500);
    } while (Clock::now() < until);
    return in;
  }
};

TEST_F(SlaacTest, JailGetsItsEui64AddressAndTheBridgeAsDefaultRouterAndPingsTheBridge) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("six");
  configure(180, br, slaacJail(jail));
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(jail));
  const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:180::/64"), jailMac(jail)), 64};
  Inside in = waitForSlaac(jail, want, 40);
  EXPECT_TRUE(hasAddress(in, want)) << "expected " << want.toString() << "\n" << daemon_->log();
  auto route = defaultRoute(in, IpFamily::V6);
  ASSERT_TRUE(route.has_value()) << "no IPv6 default route learned";
  // The RA's source: the bridge's link-local address (RFC 4861 6.1.2).
  auto bridge_ll = platform::linkLocalAddress(br);
  ASSERT_TRUE(bridge_ll && *bridge_ll);
  EXPECT_EQ(route->gateway, **bridge_ll);
  EXPECT_TRUE(TestNet::pingWithin(jail, "2001:db8:180::1", 10)) << "the jail cannot reach the bridge's address6";
  // No static IPv6 address was added: the only global one is the EUI-64 one.
  for (const auto& a : in.addresses) {
    if (a.cidr.address.family == IpFamily::V6 && !ndp::isLinkLocal(a.cidr.address) &&
        a.cidr.address != *IpAddress::parse("::1")) {
      EXPECT_EQ(a.cidr, want) << "unexpected address " << a.cidr.toString();
    }
  }
  Json st = status();
  EXPECT_GE(st["counters"].value("router_advertisements_sent", 0), 1);
  EXPECT_EQ(st["counters"].value("router_solicitations_invalid", 0), 0);
}

// vnetctl doctor reads the jail's IPv6 autoconfiguration from inside it ("slaac:JAIL:IF"):
// healthy after the start; a jail that stopped accepting RAs is a failure naming accept_ra,
// and the fix doctor prints (the poststart hook) repairs it.
TEST_F(SlaacTest, DoctorChecksAutoconfigurationInsideTheJail) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("doc");
  configure(184, br, slaacJail(jail));
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(jail));
  const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:184::/64"), jailMac(jail)), 64};
  ASSERT_TRUE(hasAddress(waitForSlaac(jail, want, 40), want));
  const std::string ifname = interfaceName(jail, 0, Side::B);
  const std::string check = "slaac:" + jail + ":" + ifname;
  auto verdict = [&]() -> Json {
    auto r = testing::run({VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--json"}, 30);
    Json all = Json::parse(r.out, nullptr, false);
    if (all.is_array())
      for (const auto& c : all)
        if (c.value("check", "") == check) return c;
    ADD_FAILURE() << "no " << check << " in:\n" << r.out << r.err;
    return Json::object();
  };
  Json v = verdict();
  EXPECT_EQ(v.value("status", ""), "ok") << v.dump();
  EXPECT_NE(v.value("message", "").find(want.toString()), std::string::npos) << v.dump();

  ASSERT_EQ(testing::run({"ip", "netns", "exec", jail, "sysctl", "-q", "-w", "net.ipv6.conf." + ifname + ".accept_ra=0"}).status, 0);
  v = verdict();
  EXPECT_EQ(v.value("status", ""), "fail") << v.dump();
  EXPECT_NE(v.value("message", "").find("accept_ra"), std::string::npos) << v.dump();
  EXPECT_EQ(v.value("fix", ""), "vnetd-hook poststart " + jail) << v.dump();
  ASSERT_EQ(hook("poststart", jail).status, 0);
  EXPECT_EQ(verdict().value("status", ""), "ok");
}

// The jail's kernel solicits when its link comes up; the daemon answers at once (not at
// the next periodic RA, 10-30 s away), and the jail configures itself again from it.
TEST_F(SlaacTest, SolicitationsAreAnswered) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("rs");
  configure(183, br, slaacJail(jail));
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(jail));
  const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:183::/64"), jailMac(jail)), 64};
  ASSERT_TRUE(hasAddress(waitForSlaac(jail, want, 40), want));
  auto counter = [&](const char* name) { return status()["counters"].value(name, 0); };
  const int solicited = counter("router_solicitations_received");
  const int sent = counter("router_advertisements_sent");
  // Down and up: the addresses go (keep_addr_on_down is off in a new namespace), the
  // link-local address is formed again, then the kernel solicits (net/ipv6/addrconf.c
  // addrconf_dad_completed).
  const std::string ifname = interfaceName(jail, 0, Side::B);
  for (const char* state : {"down", "up"})
    ASSERT_EQ(testing::run({"ip", "netns", "exec", jail, "ip", "link", "set", "dev", ifname, state}).status, 0);
  const auto until = Clock::now() + std::chrono::seconds(15);
  ChangeWaiter changes(jail);
  while (counter("router_solicitations_received") == solicited && Clock::now() < until) changes.wait(200);
  EXPECT_GT(counter("router_solicitations_received"), solicited) << daemon_->log();
  // Answered well before the next periodic RA could have come (at least 10 s away).
  Inside in = waitForSlaac(jail, want, 5);
  EXPECT_TRUE(hasAddress(in, want));
  EXPECT_TRUE(defaultRoute(in, IpFamily::V6).has_value());
  EXPECT_GT(counter("router_advertisements_sent"), sent);
  EXPECT_EQ(counter("router_solicitations_invalid"), 0);
}

// iocage #756: RAs arriving must not disturb IPv4. The jail keeps its static IPv4
// default route (vnetd's, via the bridge's IPv4 address) next to the learned IPv6 one.
TEST_F(SlaacTest, StaticIpv4DefaultRouteSurvivesRouterAdvertisements) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("dual");
  configure(181, br, slaacJail(jail, "198.18.181.10/24"));
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(jail));
  const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:181::/64"), jailMac(jail)), 64};
  Inside in = waitForSlaac(jail, want, 40);
  ASSERT_TRUE(hasAddress(in, want)) << daemon_->log();
  ASSERT_TRUE(defaultRoute(in, IpFamily::V6).has_value());
  // At least one RA after the address: the periodic or answered ones keep coming.
  Json st = status();
  EXPECT_GE(st["counters"].value("router_advertisements_sent", 0), 1);
  auto v4 = defaultRoute(in, IpFamily::V4);
  ASSERT_TRUE(v4.has_value()) << "the IPv4 default route is gone";
  EXPECT_EQ(v4->gateway, IpAddress::parse("198.18.181.1"));
  EXPECT_TRUE(hasAddress(in, *Cidr::parse("198.18.181.10/24")));
  EXPECT_TRUE(TestNet::ping(jail, "198.18.181.1"));
  EXPECT_TRUE(TestNet::pingWithin(jail, "2001:db8:181::1", 10));
}

// The jail's router solicitations (and its other neighbour discovery and MLD messages)
// are in its ICMPv6 transmit count, which must equal what the jail's kernel says it sent
// on the interface (/proc/net/dev_snmp6/<if> Icmp6OutMsgs, per link). The RAs are
// multicast from the bridge, not from a jail: the traffic counters count multicast for
// its sender only, so they are in no jail's traffic counts (the router discovery
// counters have them: CaptureCountsRouterDiscoveryPerJailLikeTheJailsKernel below).
TEST_F(SlaacTest, CaptureCountsTheJailsIcmpv6FramesExactly) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("cnt");
  configure(182, br, slaacJail(jail));
  startDaemon();
  ASSERT_NO_FATAL_FAILURE(startJail(jail));
  const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:182::/64"), jailMac(jail)), 64};
  ASSERT_TRUE(hasAddress(waitForSlaac(jail, want, 40), want));
  const std::string ifname = interfaceName(jail, 0, Side::B);
  auto kernel = [&](const std::string& key) {
    long value = -1;
    testing::inNamespace(jail, [&] {
      std::ifstream f("/proc/thread-self/net/dev_snmp6/" + ifname);  // this thread's namespace
      std::string k;
      long v;
      while (f >> k >> v)
        if (k == key) value = v;
    });
    return value;
  };
  Json st = status();
  std::string url = st["daemon"]["metrics_url"];
  const auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  const std::vector<std::string> labels{"jail=\"" + jail + "\"", "family=\"ipv6\"", "protocol=\"icmp6\""};
  double captured = -1;
  long sent = -2;
  ChangeWaiter changes(jail);
  const auto until = Clock::now() + std::chrono::seconds(20);
  do {  // both move while the jail settles (MLD reports, solicitations): poll for agreement
    sent = kernel("Icmp6OutMsgs");
    captured = testing::sample(testing::httpGet(port, "/metrics"), "vnetd_jail_traffic_transmit_packets_total", labels);
    if (captured == static_cast<double>(sent) && sent == kernel("Icmp6OutMsgs")) break;
    changes.wait(500);  // the capture publishes its counts periodically
  } while (Clock::now() < until);
  EXPECT_EQ(captured, static_cast<double>(sent)) << "capture vs the jail's Icmp6OutMsgs";
  EXPECT_GE(kernel("Icmp6OutRouterSolicits"), 1) << "the jail solicited";
  EXPECT_GE(kernel("Icmp6InRouterAdvertisements"), 1) << "the jail received the bridge's RAs";
}

// The capture's router discovery counters (issue 19), per jail, against each jail's own
// kernel on its interface (/proc/net/dev_snmp6/<if>, read inside the jail): two jails
// with slaac on a bridge that sends RAs. The bridge's RAs are multicast (ff02::1), so
// each counts once for each jail: a jail's RA receive count equals its kernel's
// Icmp6InRouterAdvertisements; its solicitations equal Icmp6OutRouterSolicits; neither
// sent an RA. Then jail a sends one itself (a rogue router, seen as such): a's transmit
// count is the one RA sent, b receives it (its kernel again agrees), a does not (the
// bridge sends no frame back to its sender, and the socket does not loop it back).
// Addresses 198.18.185.0/24, 2001:db8:185::/64.
TEST_F(SlaacTest, CaptureCountsRouterDiscoveryPerJailLikeTheJailsKernel) {
  const std::string br = net_.bridgeName("br"), a = net_.jailName("ra"), b = net_.jailName("rb");
  configure(185, br, slaacJail(a) + slaacJail(b));
  startDaemon();
  Json st = status();
  std::string url = st["daemon"]["metrics_url"];
  const auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  const std::string rs_tx = "vnetd_jail_router_solicitations_transmit_packets_total",
                    ra_rx = "vnetd_jail_router_advertisements_receive_packets_total",
                    ra_tx = "vnetd_jail_router_advertisements_transmit_packets_total";
  // startJail, except that `created` (which brings the jail's link up and starts its
  // autoconfiguration) waits until the capture knows the jail's MAC (its series exist):
  // then no RA can reach the jail's kernel before the capture attributes them.
  for (const auto& jail : {a, b}) {
    net_.addNamespace(jail);
    ASSERT_NO_FATAL_FAILURE(hardenDefaults(jail));
    auto r = hook("prestart", jail);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto until = Clock::now() + std::chrono::seconds(10);
    const std::vector<std::string> label{"jail=\"" + jail + "\""};
    while (testing::sample(testing::httpGet(port, "/metrics"), ra_rx, label) < 0 && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // pacing of a bounded poll: nothing to wake on
    ASSERT_GE(testing::sample(testing::httpGet(port, "/metrics"), ra_rx, label), 0) << "the capture never knew " << jail;
    r = hook("created", jail);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  for (const auto& jail : {a, b}) {
    const Cidr want{ndp::eui64Address(*Cidr::parse("2001:db8:185::/64"), jailMac(jail)), 64};
    ASSERT_TRUE(hasAddress(waitForSlaac(jail, want, 40), want)) << jail << "\n" << daemon_->log();
  }

  auto kernel = [&](const std::string& jail, const std::string& key) {
    const std::string ifname = interfaceName(jail, 0, Side::B);
    double value = -1;
    testing::inNamespace(jail, [&] {
      std::ifstream f("/proc/thread-self/net/dev_snmp6/" + ifname);  // this thread's namespace
      std::string k;
      long v;
      while (f >> k >> v)
        if (k == key) value = static_cast<double>(v);
    });
    return value;
  };
  // (solicitations sent, RAs received, RAs sent) of each jail: from one scrape, or from
  // the jails' kernels (which count no RA a jail sends: -1 there, not compared).
  using Counts = std::map<std::string, std::array<double, 3>>;
  auto captured = [&] {
    const std::string text = testing::httpGet(port, "/metrics");
    Counts c;
    for (const auto& jail : {a, b}) {
      const std::vector<std::string> label{"jail=\"" + jail + "\""};
      c[jail] = {testing::sample(text, rs_tx, label), testing::sample(text, ra_rx, label),
                 testing::sample(text, ra_tx, label)};
    }
    return c;
  };
  // Polls for a quiet moment at which the capture agrees with the kernels: RAs come every
  // 10-30 s and the capture publishes every second, so the scrape may lag the kernel by
  // one RA. A scrape, the kernels, a scrape again: agreement when both scrapes are equal
  // and match the kernels. `ra_sent`: RAs each jail sent (the kernel has no per-type count
  // of what a raw socket sends).
  ChangeWaiter changes(a);
  auto agree = [&](const std::map<std::string, double>& ra_sent, Counts* got, Counts* want) {
    const auto until = Clock::now() + std::chrono::seconds(40);
    do {
      Counts first = captured();
      Counts k;
      for (const auto& jail : {a, b})
        k[jail] = {kernel(jail, "Icmp6OutRouterSolicits"), kernel(jail, "Icmp6InRouterAdvertisements"),
                   ra_sent.at(jail)};
      *got = captured();
      *want = k;
      if (first == *got && *got == k) return true;
      changes.wait(500);
    } while (Clock::now() < until);
    return false;
  };
  Counts got, want;
  EXPECT_TRUE(agree({{a, 0}, {b, 0}}, &got, &want))
      << "capture (solicitations sent, RAs received, RAs sent) vs the jails' kernels:\n"
      << a << ": " << got[a][0] << " " << got[a][1] << " " << got[a][2] << " vs " << want[a][0] << " " << want[a][1]
      << " " << want[a][2] << "\n"
      << b << ": " << got[b][0] << " " << got[b][1] << " " << got[b][2] << " vs " << want[b][0] << " " << want[b][1]
      << " " << want[b][2];
  for (const auto& jail : {a, b}) {
    EXPECT_GE(want[jail][0], 1) << jail << " solicited";
    EXPECT_GE(want[jail][1], 1) << jail << " received the bridge's RAs";
  }
  const double b_received = want[b][1], a_received = want[a][1];

  // Jail a advertises itself (router lifetime 0 and no prefix: no host takes it as a
  // router or forms an address from it; every kernel counts it all the same).
  const std::string a_if = interfaceName(a, 0, Side::B);
  testing::inNamespace(a, [&] {
    auto source = platform::linkLocalAddress(a_if);
    ASSERT_TRUE(source && *source) << "a has no link-local address";
    auto sock = platform::RouterSocket::open(a_if, ::if_nametoindex(a_if.c_str()));
    ASSERT_TRUE(sock) << sock.error().message();
    ndp::RouterAdvertisement ra;
    ra.router_lifetime_seconds = 0;
    auto sent = sock->send(ndp::encodeRouterAdvertisement(ra), *IpAddress::parse("ff02::1"), **source);
    ASSERT_TRUE(sent) << sent.error().message();
  });
  EXPECT_TRUE(agree({{a, 1}, {b, 0}}, &got, &want))
      << "after a's RA:\n"
      << a << ": " << got[a][0] << " " << got[a][1] << " " << got[a][2] << " vs " << want[a][0] << " " << want[a][1]
      << " " << want[a][2] << "\n"
      << b << ": " << got[b][0] << " " << got[b][1] << " " << got[b][2] << " vs " << want[b][0] << " " << want[b][1]
      << " " << want[b][2];
  // b's kernel got a's RA on top of the bridge's, a's kernel only the bridge's: the
  // bridge's may have come meanwhile, to both alike.
  EXPECT_EQ(want[b][1] - b_received, want[a][1] - a_received + 1) << "b's kernel received a's RA, a's did not";
}

}  // namespace
}  // namespace vnetd
