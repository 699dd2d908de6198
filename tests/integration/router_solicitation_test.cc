// platform::sendRouterSolicitation on the real (Linux) kernel (issue 19: what vnetd sends
// from inside a FreeBSD jail with address6 = "slaac"; the sender is RFC 3542 code shared
// by both systems). Two namespaces of this test joined by a veth: the sender in one, a
// RouterSocket — the daemon's own receiving side — on the peer in the other. The peer
// must see exactly one solicitation, hop limit 255, type 133, from the sender's
// link-local address, with the sender's MAC in the source link-layer address option,
// and the router's decoder (what RouterAdvertiser answers) must accept it. Then end to
// end: the daemon answers the solicitation sent from inside a "slaac" jail whose kernel
// sends none of its own (as a FreeBSD jail's kernel does not).
//
// Addresses: only link-local ones (fe80::/64) and MACs 02:00:c6:12:bc:xx (198.18.188);
// this test's range is 198.18.188.0/24-198.18.189.0/24, 2001:db8:188::/48-2001:db8:189::/48.
// Every wait polls with a deadline; nothing sleeps.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/naming.h"
#include "core/ndp.h"
#include "platform/router_socket.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::inNamespace;
using testing::run;

const MacAddress kSenderMac = MacAddress::parse("02:00:c6:12:bc:01").value();
const IpAddress kSenderLinkLocal = IpAddress::parse("fe80::c6:12bc:1").value();

class RouterSolicitationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::isRoot()) GTEST_SKIP() << "needs root (namespaces, veth)";
    sender_ns_ = net_.jailName("rss");
    router_ns_ = net_.jailName("rsr");
    net_.addNamespace(sender_ns_);
    net_.addNamespace(router_ns_);
    // Neither kernel may send solicitations of its own (accept_ra = 0: net/ipv6/addrconf.c
    // addrconf_dad_completed sends them only when ipv6_accept_ra()), so what arrives is
    // the function's. No DAD: a link-local address is usable the moment it exists. The
    // sender gets no automatic link-local address (addr_gen_mode 1): the test adds one.
    sysctls(sender_ns_, {{"accept_ra", "0"}, {"accept_dad", "0"}, {"addr_gen_mode", "1"}});
    sysctls(router_ns_, {{"accept_ra", "0"}, {"accept_dad", "0"}});
    ipOk({"ip", "-n", sender_ns_, "link", "add", kSender, "address", kSenderMac.toString(), "type", "veth", "peer",
          "name", kRouter, "netns", router_ns_});
    ipOk({"ip", "-n", router_ns_, "link", "set", kRouter, "up"});
    ipOk({"ip", "-n", sender_ns_, "link", "set", kSender, "up"});
    inNamespace(router_ns_, [&] {
      const unsigned index = ::if_nametoindex(kRouter);
      ASSERT_NE(index, 0u);
      auto s = platform::RouterSocket::open(kRouter, index);
      ASSERT_TRUE(s) << s.error().message();
      router_.emplace(std::move(*s));
    });
    ASSERT_TRUE(router_.has_value());
  }

  void sysctls(const std::string& ns, std::initializer_list<std::pair<const char*, const char*>> kv) {
    for (const auto& [key, value] : kv)
      ipOk({"ip", "netns", "exec", ns, "sysctl", "-q", "-w", std::string("net.ipv6.conf.default.") + key + "=" + value});
  }
  static void ipOk(const std::vector<std::string>& argv) {
    auto r = run(argv);
    ASSERT_EQ(r.status, 0) << argv[0] << " " << argv[1] << " ...: " << r.err;
  }

  Result<void> sendFromSender() {
    Result<void> out = success();
    inNamespace(sender_ns_, [&] { out = platform::sendRouterSolicitation(kSender, kSenderMac); });
    return out;
  }

  // The next message on the router's socket, waiting at most `ms`.
  std::optional<platform::RouterSocket::Received> next(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      auto r = router_->receive();
      EXPECT_TRUE(r) << r.error().message();
      if (!r) return std::nullopt;
      if (*r) return std::move(**r);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{router_->fd(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }

  static constexpr const char* kSender = "rs_s0";
  static constexpr const char* kRouter = "rs_r0";
  testing::TestNet net_;
  std::string sender_ns_, router_ns_;
  std::optional<platform::RouterSocket> router_;
};

TEST_F(RouterSolicitationTest, OneSolicitationArrivesAsARouterExpectsIt) {
  ipOk({"ip", "-n", sender_ns_, "addr", "add", kSenderLinkLocal.toString() + "/64", "dev", kSender, "nodad"});
  auto sent = sendFromSender();
  ASSERT_TRUE(sent) << sent.error().message();

  auto got = next(5000);
  ASSERT_TRUE(got.has_value()) << "no router solicitation arrived";
  EXPECT_EQ(got->hop_limit, 255);
  EXPECT_EQ(got->source, kSenderLinkLocal);
  EXPECT_EQ(got->destination, IpAddress::parse("ff02::2").value()) << "all routers (RFC 4861 6.3.7)";
  ASSERT_GE(got->icmp.size(), 8u);
  EXPECT_EQ(std::to_integer<int>(got->icmp[0]), ndp::kRouterSolicitation);
  EXPECT_EQ(std::to_integer<int>(got->icmp[1]), 0) << "code";
  // Exactly what the encoder makes for this MAC (checksum bytes 2-3 are the kernel's).
  ndp::RouterSolicitation with_mac;
  with_mac.source_link_layer = kSenderMac;
  auto want = ndp::encodeRouterSolicitation(with_mac);
  ASSERT_EQ(got->icmp.size(), want.size());
  for (size_t i = 4; i < want.size(); ++i) EXPECT_EQ(got->icmp[i], want[i]) << "byte " << i;
  // What the daemon's RouterAdvertiser runs on every solicitation before it answers.
  auto decoded = ndp::decodeRouterSolicitation(got->icmp, got->source, got->hop_limit);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->source_link_layer, kSenderMac);

  // One call, one message: nothing else turns up (a bounded wait for an absence).
  EXPECT_FALSE(next(300).has_value()) << "a second solicitation arrived";
}

TEST_F(RouterSolicitationTest, WithoutALinkLocalAddressNothingIsSentAndTheErrorSaysWhy) {
  // addr_gen_mode 1: the sender's link has no IPv6 address at all.
  auto sent = sendFromSender();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, EADDRNOTAVAIL);
  EXPECT_NE(sent.error().message().find("no IPv6 link-local address"), std::string::npos) << sent.error().message();
  EXPECT_NE(sent.error().message().find(kSender), std::string::npos) << sent.error().message();
  EXPECT_FALSE(next(300).has_value());
}

TEST_F(RouterSolicitationTest, NoSuchInterfaceIsAClearError) {
  Result<void> out = success();
  inNamespace(sender_ns_, [&] { out = platform::sendRouterSolicitation("rs_none0", kSenderMac); });
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("rs_none0"), std::string::npos) << out.error().message();
}

class DaemonAnswersTest : public DaemonFixture {};

// The daemon's RouterAdvertiser takes vnetd's own solicitation as valid and answers it.
// The jail's kernel solicits nothing itself (router_solicitations = 0, cnf.rtr_solicits: net/ipv6/addrconf.c
// addrconf_dad_completed sends an RS only when it is not 0), so the one solicitation the
// daemon counts is the function's, sent from inside the jail as vnetd does on FreeBSD.
TEST_F(DaemonAnswersTest, TheDaemonAnswersTheSolicitationSentFromInsideTheJail) {
  const std::string br = net_.bridgeName("br"), jail = net_.jailName("rsd");
  writeConfig("[bridge.lan]\ninterface = \"" + br +
              "\"\naddress = \"198.18.188.1/24\"\naddress6 = \"2001:db8:188::1/64\"\nrouter_advertisements = true\n\n"
              "[jail." + jail + "]\n[[jail." + jail + ".interface]]\nbridge = \"lan\"\naddress6 = \"slaac\"\n");
  startDaemon();
  net_.addNamespace(jail);
  // No DAD either (FreeBSD: enableIpv6's ND6_IFF_NO_DAD): the link-local address is
  // usable as soon as the link is up.
  for (const char* kv : {"net.ipv6.conf.default.router_solicitations=0", "net.ipv6.conf.default.accept_dad=0"})
    ASSERT_EQ(run({"ip", "netns", "exec", jail, "sysctl", "-q", "-w", kv}).status, 0) << kv;
  for (const char* phase : {"prestart", "created"}) {
    auto r = hook(phase, jail);
    ASSERT_EQ(r.status, 0) << phase << ": " << r.err;
  }
  const std::string ifname = interfaceName(jail, 0, Side::B);
  State st = loadState();
  ASSERT_EQ(st.jails.count(jail), 1u);
  const MacAddress mac = MacAddress::parse(st.jails.at(jail).interfaces.at(0).jail_mac).value();
  auto counter = [&](const char* name) { return status()["counters"].value(name, 0); };
  const int before = counter("router_solicitations_received");

  // The jail side's link-local address may still be in the kernel's DAD work queue for a
  // moment (tentative: EINVAL): send again when its addresses change, within a deadline.
  UniqueFd changes;
  inNamespace(jail, [&] {
    changes.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_IPV6_IFADDR;
    ASSERT_EQ(::bind(changes.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  });
  Result<void> sent = Error{0, "not sent"};
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    inNamespace(jail, [&] { sent = platform::sendRouterSolicitation(ifname, mac); });
    if (sent || std::chrono::steady_clock::now() > until) break;
    pollfd p{changes.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[8192];
      while (::recv(changes.get(), buf, sizeof buf, 0) > 0) {
      }
    }
  }
  ASSERT_TRUE(sent) << sent.error().message();

  int received = before;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((received = counter("router_solicitations_received")) == before && std::chrono::steady_clock::now() < deadline) {
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 100);  // the daemon counts it on its loop: re-read its status
  }
  EXPECT_EQ(received, before + 1) << "exactly the one solicitation\n" << daemon_->log();
  EXPECT_EQ(counter("router_solicitations_invalid"), 0) << daemon_->log();
}

}  // namespace
}  // namespace vnetd
