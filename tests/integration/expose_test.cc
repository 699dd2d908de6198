// Port forwards (issue 19, "expose") on Linux, end to end with real traffic: a service in a
// jail is reached from "the outside" through the host's address, IPv4 and IPv6, TCP and UDP;
// a forward bound to one external address answers only there; the daemon's reconciler puts
// the rules back when vnetd's table is deleted; poststop removes them; two jails claiming
// the same external port are refused at --check-config.
//
// As nat_outside_test.cc: every test plays a whole host of its own. The main thread enters
// a namespace of this run ("host") where the daemon, the hooks and ip(8) run, so vnetd's
// table "inet vnetd" and the forwarding switches are that namespace's, never the machine's.
// The outside is a second namespace behind a veth (<host> up0: 198.18.171.1/24 and
// 198.18.171.3/24, 2001:db8:171::1/64 ↔ up1: 198.18.171.2/24, 2001:db8:171::2/64); it has no
// route to the jails' subnets (198.18.170.0/24, 2001:db8:170::/64), so only forwarded
// traffic reaches the jail. The jail's service answers every TCP connection and UDP
// datagram with the address it saw the client at: the forward keeps the client's address.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/unique_fd.h"
#include "platform/linux/nftables.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"
#include "tests/integration/nft_support.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::TestNet;

UniqueFd openNamespaceFile(const std::string& path) { return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); }

// sockaddr for "198.18.171.1" or "2001:db8:171::1" and a port.
socklen_t toSockaddr(const std::string& address, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (address.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &a->sin_addr);
  return sizeof *a;
}

std::string peerText(const sockaddr_storage& from) {
  char text[INET6_ADDRSTRLEN] = {};
  if (from.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&from);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) ::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof text);
    else ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&from)->sin_addr, text, sizeof text);
  }
  return text;
}

// The jail's service, on a thread inside the jail: TCP and UDP on [::]:80 and [::]:53
// (dual stack), each answering with the client's address as the jail saw it.
class JailService {
 public:
  explicit JailService(std::string ns) : ns_(std::move(ns)) {}
  ~JailService() { stop(); }
  bool start(std::string* why) {
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) return false;
    std::promise<std::string> ready;
    auto f = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    *why = f.get();
    return why->empty();
  }
  void stop() {
    if (!thread_.joinable()) return;
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
    thread_.join();
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }

 private:
  void run(std::promise<std::string>& ready) {
    UniqueFd ns = openNamespaceFile("/run/netns/" + ns_);
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return ready.set_value("cannot enter " + ns_);
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_addr = in6addr_any;
    UniqueFd tcp(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    UniqueFd udp(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int zero = 0, one = 1;
    for (int fd : {tcp.get(), udp.get()}) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    any.sin6_port = htons(80);
    if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 || ::listen(tcp.get(), 16) != 0)
      return ready.set_value(std::string("tcp [::]:80: ") + std::strerror(errno));
    any.sin6_port = htons(53);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
      return ready.set_value(std::string("udp [::]:53: ") + std::strerror(errno));
    ready.set_value("");
    for (;;) {
      pollfd p[3] = {{stop_pipe_[0], POLLIN, 0}, {tcp.get(), POLLIN, 0}, {udp.get(), POLLIN, 0}};
      if (::poll(p, 3, -1) < 0 && errno != EINTR) return;
      if (p[0].revents) return;
      if (p[1].revents & POLLIN) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        UniqueFd c(::accept4(tcp.get(), reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC));
        if (c) {
          std::string answer = "tcp " + peerText(from);
          (void)::send(c.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
        }
      }
      if (p[2].revents & POLLIN) {
        char buf[64];
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        if (::recvfrom(udp.get(), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len) >= 0) {
          std::string answer = "udp " + peerText(from);
          (void)::sendto(udp.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
      }
    }
  }

  std::string ns_;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

// One exchange from namespace `ns` with address:port: the service's answer, "" when none
// came within a second (refused, unreachable, dropped).
std::string askOnce(const std::string& ns, bool tcp, const std::string& address, uint16_t port) {
  std::string answer;
  testing::inNamespace(ns, [&] {
    sockaddr_storage to{};
    socklen_t len = toSockaddr(address, port, to);
    UniqueFd s(::socket(to.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
    timeval tv{1, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buf[128] = {};
    if (tcp) {
      if (::connect(s.get(), reinterpret_cast<sockaddr*>(&to), len) != 0) return;
    } else if (::sendto(s.get(), "q", 1, 0, reinterpret_cast<sockaddr*>(&to), len) != 1) {
      return;
    }
    ssize_t n = ::recv(s.get(), buf, sizeof buf - 1, 0);
    if (n > 0) answer.assign(buf, static_cast<size_t>(n));
  });
  return answer;
}

// askOnce until an answer comes, for at most `seconds` (the first packets may wait for a
// neighbour to resolve; a datagram meeting an unresolved neighbour is dropped).
std::string askWithin(const std::string& ns, bool tcp, const std::string& address, uint16_t port, int seconds = 10) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    std::string a = askOnce(ns, tcp, address, port);
    if (!a.empty() || std::chrono::steady_clock::now() > deadline) return a;
  }
}

// Comments of the rules in vnetd's forward table, with their counts.
std::map<std::string, int> exposeRuleComments() { return vnetd::testing::nftRuleComments("inet vnetd"); }

class ExposeTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure()) return;
    original_ns_ = openNamespaceFile("/proc/self/ns/net");
    ASSERT_TRUE(original_ns_);
    host_ns_ = net_.jailName("host");
    outside_ns_ = net_.jailName("out");
    net_.addNamespace(host_ns_);
    net_.addNamespace(outside_ns_);
    UniqueFd h = openNamespaceFile("/run/netns/" + host_ns_);
    ASSERT_TRUE(h);
    ASSERT_EQ(::setns(h.get(), CLONE_NEWNET), 0) << std::strerror(errno);
    entered_ = true;
    ok({"ip", "link", "set", "lo", "up"});
    ok({"sysctl", "-qw", "net.ipv4.ip_forward=1"});
    ok({"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"});
    ASSERT_TRUE(ok({"ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1", "netns", outside_ns_}));
    for (const char* a : {"198.18.171.1/24", "198.18.171.3/24"}) ASSERT_TRUE(ok({"ip", "addr", "add", a, "dev", "up0"}));
    ASSERT_TRUE(ok({"ip", "addr", "add", "2001:db8:171::1/64", "dev", "up0", "nodad"}));
    ASSERT_TRUE(ok({"ip", "link", "set", "up0", "up"}));
    ASSERT_TRUE(ok({"ip", "-n", outside_ns_, "addr", "add", "198.18.171.2/24", "dev", "up1"}));
    ASSERT_TRUE(ok({"ip", "-n", outside_ns_, "addr", "add", "2001:db8:171::2/64", "dev", "up1", "nodad"}));
    ASSERT_TRUE(ok({"ip", "-n", outside_ns_, "link", "set", "up1", "up"}));
    ASSERT_TRUE(ok({"ip", "-n", outside_ns_, "link", "set", "lo", "up"}));
  }

  void TearDown() override {
    DaemonFixture::TearDown();
    service_.reset();
    if (entered_) {
      EXPECT_EQ(::setns(original_ns_.get(), CLONE_NEWNET), 0);
    }
  }

  bool ok(const std::vector<std::string>& argv) {
    auto r = testing::run(argv);
    EXPECT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err;
    return r.status == 0;
  }

  static std::string bridge() {
    return "[bridge.lan]\ninterface = \"br0\"\naddress = \"198.18.170.1/24\"\naddress6 = \"2001:db8:170::1/64\"\n\n";
  }
  static std::string jail(const std::string& name, int host, const std::string& expose) {
    return "[[jail." + name + ".interface]]\nbridge = \"lan\"\naddress = \"198.18.170." + std::to_string(host) +
           "/24\"\naddress6 = \"2001:db8:170::" + std::to_string(host) + "/64\"\nexpose = [" + expose + "]\n\n";
  }
  // vnetctl doctor --json's verdict of one check (null when it has none).
  Json doctorVerdict(const std::string& check) {
    auto r = testing::run({VNETD_VNETCTL_BINARY, "-c", configPath(), "doctor", "--json"});
    Json doc = Json::parse(r.out, nullptr, false);
    if (doc.is_array())
      for (const auto& v : doc)
        if (v.value("check", "") == check) return v;
    ADD_FAILURE() << "no verdict " << check << " in: " << r.out << r.err;
    return Json();
  }
  void startService(const std::string& jail_name) {
    service_ = std::make_unique<JailService>(jail_name);
    std::string why;
    ASSERT_TRUE(service_->start(&why)) << why;
  }

  UniqueFd original_ns_;
  bool entered_ = false;
  std::string host_ns_, outside_ns_;
  std::unique_ptr<JailService> service_;
};

// TCP over IPv4 and IPv6 and UDP reach the jail's service through the host's address, and
// the jail sees the client's own address (destination NAT only).
TEST_F(ExposeTest, TcpAndUdpReachTheJailThroughTheHostsAddressesKeepingTheClientAddress) {
  const std::string j = net_.jailName("web");
  writeConfig(bridge() + jail(j, 10, "\"tcp/8080:80\", \"udp/5353:53\""));
  startDaemon();
  startJail(j);
  // Per forward and family: prerouting, output (the host itself) and postrouting (hairpin).
  EXPECT_EQ(exposeRuleComments().size(), 12u) << "created loads them";
  startService(j);
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2");
  EXPECT_EQ(askWithin(outside_ns_, true, "2001:db8:171::1", 8080), "tcp 2001:db8:171::2");
  EXPECT_EQ(askWithin(outside_ns_, false, "198.18.171.1", 5353), "udp 198.18.171.2");
  EXPECT_EQ(askWithin(outside_ns_, false, "2001:db8:171::1", 5353), "udp 2001:db8:171::2");
  // Not forwarded: the jail port itself, and the other protocol.
  EXPECT_EQ(askOnce(outside_ns_, true, "198.18.171.1", 80), "");
  EXPECT_EQ(askOnce(outside_ns_, true, "198.18.171.1", 5353), "");
  // Three rules per forward and family, each named for the jail.
  auto comments = exposeRuleComments();
  EXPECT_EQ(comments.size(), 12u);
  for (const auto& [comment, count] : comments) {
    EXPECT_EQ(comment.rfind("vnetd:expose:" + j + ":", 0), 0u) << comment;
    EXPECT_EQ(count, 1) << comment;
  }
  // The daemon's status lists the interface's forwards (vnetctl status shows them).
  const Json doc = status();
  const Json* st = findJail(doc, j);
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["interfaces"][0]["expose"], (Json{"tcp/8080:80", "udp/5353:53"}));
}

// With NAT on the bridge, a forward without address takes the egress's addresses
// (iifname "up0" fib daddr . iif type local): reached on both of up0's addresses.
TEST_F(ExposeTest, OnANatBridgeTheDefaultAddressesAreTheEgresss) {
  const std::string j = net_.jailName("web");
  writeConfig("[bridge.lan]\ninterface = \"br0\"\naddress = \"198.18.170.1/24\"\naddress6 = \"2001:db8:170::1/64\"\n"
              "nat = \"up0\"\n\n" +
              jail(j, 18, "\"tcp/8080:80\""));
  startDaemon();
  startJail(j);
  startService(j);
  // Through the egress; the jail still sees the client's own address (no masquerade on the
  // way in: NAT translates only what leaves through up0 from the bridge's subnet).
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2");
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.3", 8080), "tcp 198.18.171.2");
  EXPECT_EQ(askWithin(outside_ns_, true, "2001:db8:171::1", 8080), "tcp 2001:db8:171::2");
}

// Hairpin: a jail on the same bridge, and the host itself, reach the forward through the
// host's address. The other jail's connection is translated to the bridge address on the
// way in (so the answer comes back through the host); the host's keeps its address.
TEST_F(ExposeTest, HairpinFromAJailOfTheSameBridgeAndFromTheHost) {
  const std::string a = net_.jailName("a"), b = net_.jailName("b");
  writeConfig(bridge() + jail(a, 19, "\"tcp/8080:80\"") + jail(b, 20, "\"tcp/8090:80\""));
  startDaemon();
  startJail(a);
  startJail(b);
  startService(a);
  EXPECT_EQ(askWithin(b, true, "198.18.171.1", 8080), "tcp 198.18.170.1");
  EXPECT_EQ(askWithin(b, true, "2001:db8:171::1", 8080), "tcp 2001:db8:170::1");
  EXPECT_EQ(askWithin(host_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.1");
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2") << "the outside keeps its own";
}

// A forward bound to one external address answers there and not on the host's other one.
TEST_F(ExposeTest, AnAddressBoundForwardAnswersOnlyOnItsAddress) {
  const std::string j = net_.jailName("web");
  writeConfig(bridge() + jail(j, 11, "\"tcp/198.18.171.1:8081:80\", \"tcp/[2001:db8:171::1]:8082:80\""), 60,
              /*interval=*/3600);
  startDaemon();
  startJail(j);
  // doctor checks each forward hop by hop: nothing listens in the jail yet.
  EXPECT_EQ(doctorVerdict("expose:" + j + ":tcp/198.18.171.1:8081:80")["status"], "warn");
  startService(j);
  Json ok = doctorVerdict("expose:" + j + ":tcp/198.18.171.1:8081:80");
  EXPECT_EQ(ok["status"], "ok") << ok.dump();
  EXPECT_NE(ok.value("message", "").find("the jail listens on tcp port 80"), std::string::npos) << ok.dump();
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8081), "tcp 198.18.171.2");
  EXPECT_EQ(askOnce(outside_ns_, true, "198.18.171.3", 8081), "") << "bound to 198.18.171.1 only";
  EXPECT_EQ(askOnce(outside_ns_, true, "2001:db8:171::1", 8081), "") << "an IPv4 forward";
  EXPECT_EQ(askWithin(outside_ns_, true, "2001:db8:171::1", 8082), "tcp 2001:db8:171::2");
  EXPECT_EQ(askOnce(outside_ns_, true, "198.18.171.1", 8082), "") << "an IPv6 forward";
  EXPECT_EQ(exposeRuleComments().size(), 6u);
  // Rules gone (the reconciler's next pass is an hour away): doctor names that hop.
  ASSERT_TRUE(platform::lnx::nftRun("delete table inet vnetd", "test: delete vnetd's forward table"));
  Json gone = doctorVerdict("expose:" + j + ":tcp/[2001:db8:171::1]:8082:80");
  EXPECT_EQ(gone["status"], "fail") << gone.dump();
  EXPECT_NE(gone.value("message", "").find("its rules are not loaded"), std::string::npos) << gone.dump();
}

// vnetd's table deleted by hand: the reconciler loads the forwards again within its
// interval, and the metric says so.
TEST_F(ExposeTest, TheForwardSurvivesDeletionOfVnetdsTable) {
  const std::string j = net_.jailName("web");
  const uint16_t port = testing::freeLoopbackPort();
  writeConfig("[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n" + bridge() +
                  jail(j, 12, "\"tcp/8080:80\""),
              60, /*interval=*/1);
  startDaemon();
  startJail(j);
  startService(j);
  ASSERT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2");
  size_t mark = daemon_->logSize();
  ASSERT_TRUE(platform::lnx::nftRun("delete table inet vnetd", "test: delete vnetd's forward table"));
  EXPECT_TRUE(exposeRuleComments().empty());
  ASSERT_TRUE(daemon_->waitForLog("repaired: forwards of jail " + j + " not loaded: tcp/8080:80; loaded them", 10000,
                                  mark))
      << daemon_->log();
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2");
  EXPECT_EQ(askWithin(outside_ns_, true, "2001:db8:171::1", 8080), "tcp 2001:db8:171::2");
  EXPECT_EQ(exposeRuleComments().size(), 6u);
  EXPECT_GE(status()["counters"].value("ensure_expose", 0), 1);
  // vnetd_expose_active says the forward is in place (set at the end of the pass that
  // logged the repair, or the next one).
  bool active = false;
  for (int i = 0; i < 100 && !active; ++i) {
    active = testing::sample(testing::httpGet(port, "/metrics"), "vnetd_expose_active",
                             {"jail=\"" + j + "\"", "expose=\"tcp/8080:80\""}) == 1;
    if (!active) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll with a bound
  }
  EXPECT_TRUE(active) << testing::httpGet(port, "/metrics");
  // The same after a flush of the chain (rules gone, table and chain kept).
  mark = daemon_->logSize();
  ASSERT_TRUE(platform::lnx::nftRun("flush chain inet vnetd prerouting", "test: flush vnetd's forward chain"));
  ASSERT_TRUE(daemon_->waitForLog("repaired: forwards of jail " + j, 10000, mark)) << daemon_->log();
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2");
}

// poststop removes exactly the jail's rules: the other jail's forward keeps working.
TEST_F(ExposeTest, PoststopRemovesTheJailsForwardsOnly) {
  const std::string a = net_.jailName("a"), b = net_.jailName("b");
  writeConfig(bridge() + jail(a, 13, "\"tcp/8080:80\"") + jail(b, 14, "\"tcp/8090:80\""));
  startDaemon();
  startJail(a);
  startJail(b);
  startService(b);
  ASSERT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8090), "tcp 198.18.171.2");
  ASSERT_EQ(exposeRuleComments().size(), 12u);
  net_.deleteNamespace(a);
  auto r = hook("poststop", a);
  ASSERT_EQ(r.status, 0) << r.err;
  auto comments = exposeRuleComments();
  EXPECT_EQ(comments.size(), 6u);
  for (const auto& [comment, count] : comments) EXPECT_EQ(comment.rfind("vnetd:expose:" + b + ":", 0), 0u) << comment;
  EXPECT_EQ(askWithin(outside_ns_, true, "198.18.171.1", 8090), "tcp 198.18.171.2");
}

// vnetd_jail_expose_connections_total counts exactly the connections made: one per TCP
// connection (its SYN), one per UDP datagram, seen by the bridge capture.
TEST_F(ExposeTest, TheConnectionsMetricCountsExactlyTheConnectionsMade) {
  const std::string j = net_.jailName("web");
  const uint16_t port = testing::freeLoopbackPort();
  writeConfig("[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n" + bridge() +
              jail(j, 17, "\"tcp/8080:80\", \"udp/5353:53\""));
  startDaemon();
  startJail(j);
  startService(j);
  // Neighbours resolved first (outside -> host, host -> jail), so no connection below is
  // lost or retried; pings are not counted.
  ASSERT_TRUE(TestNet::pingWithin(outside_ns_, "198.18.171.1", 10));
  ASSERT_TRUE(TestNet::pingWithin(host_ns_, "198.18.170.17", 10));
  auto value = [&](const char* expose) {
    return testing::sample(testing::httpGet(port, "/metrics"), "vnetd_jail_expose_connections_total",
                           {"jail=\"" + j + "\"", std::string("expose=\"") + expose + "\""});
  };
  const int tcp = 5, udp = 3;
  for (int i = 0; i < tcp; ++i) ASSERT_EQ(askOnce(outside_ns_, true, "198.18.171.1", 8080), "tcp 198.18.171.2") << i;
  for (int i = 0; i < udp; ++i) ASSERT_EQ(askOnce(outside_ns_, false, "198.18.171.1", 5353), "udp 198.18.171.2") << i;
  // Published once a second: poll with a bound.
  double t = -1, u = -1;
  for (int i = 0; i < 100 && (t != tcp || u != udp); ++i) {
    t = value("tcp/8080:80");
    u = value("udp/5353:53");
    if (t != tcp || u != udp) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(t, tcp) << testing::httpGet(port, "/metrics");
  EXPECT_EQ(u, udp);
}

// Two jails claiming one external port: --check-config refuses, naming both.
TEST_F(ExposeTest, TwoJailsClaimingOnePortAreRefusedAtConfigLoad) {
  writeConfig(bridge() + jail("one", 15, "\"tcp/8080:80\"") + jail("two", 16, "\"udp/8080\", \"tcp/8000-8100\""));
  auto r = testing::run({VNETD_DAEMON_BINARY, "--config", configPath(), "--check-config"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("expose 'tcp/8000-8100' of jail 'two' interface 0 overlaps expose 'tcp/8080:80' of jail 'one' "
                       "interface 0"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("udp/8080"), std::string::npos) << "another protocol does not overlap: " << r.err;
}

}  // namespace
}  // namespace vnetd
