// Jails reach "the outside" through vnetd's NAT on Linux (issue 16), end to end with real
// traffic, and vnetd touches nothing but its own nftables table.
//
// Every test plays a whole host of its own: the test process's main thread enters a network
// namespace of this run ("host"), where the daemon (a child, so it inherits the namespace),
// the hooks, vnetctl and ip(8) all run. vnetd's table `ip vnetd`, the forwarding switch and a
// "foreign" table the test creates (standing for firewalld's, Docker's or the
// administrator's) are that namespace's, so tests running in parallel never share a rule
// and the machine's own ruleset and forwarding are never read or changed. "The outside" is
// a second namespace ("uplink") behind a veth from the host namespace (<prefix>up0,
// 198.19.N.1/24 ↔ 198.19.N.2/24) that answers ping and echoes UDP and TCP; it has no route
// to the jails' 198.18 subnets, so only translated traffic is answered. A packet socket in
// the uplink namespace records the source address of every IPv4 packet arriving there.
//
// After every test: vnetd's table holds exactly the rules the test expects (one per NAT
// bridge, each read back by the product's Policy as configured), and the rest of the
// host namespace's ruleset is what it was before the daemon started.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <csignal>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/unique_fd.h"
#include "platform/linux/nftables.h"
#include "platform/policy.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"
#include "tests/integration/nft_support.h"
#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::TestNet;
constexpr uint16_t kEchoPort = 7007;

UniqueFd openNamespaceFile(const std::string& path) { return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); }

// The uplink namespace's services, on a thread inside it: a UDP and a TCP echo on
// 198.19.N.2:7007, and a packet socket on its veth recording every IPv4 source address.
class Outside {
 public:
  Outside(std::string ns, std::string ifname) : ns_(std::move(ns)), ifname_(std::move(ifname)) {}
  ~Outside() { stop(); }

  // Starts the thread and waits until its sockets are bound (so no packet is missed).
  bool start(std::string* why) {
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) return false;
    std::promise<std::string> ready;
    auto ready_f = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    *why = ready_f.get();
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
  // IPv4 source addresses seen on the uplink veth, with their packet counts.
  std::map<std::string, int> sources() const {
    std::lock_guard<std::mutex> g(mutex_);
    return sources_;
  }
  std::set<std::string> echoPeers() const {
    std::lock_guard<std::mutex> g(mutex_);
    return peers_;
  }
  int fromSubnet(const std::string& prefix) const {  // "198.18." etc.
    int n = 0;
    for (const auto& [src, count] : sources())
      if (src.rfind(prefix, 0) == 0) n += count;
    return n;
  }

 private:
  void run(std::promise<std::string>& ready) {
    UniqueFd ns = openNamespaceFile("/run/netns/" + ns_);
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return ready.set_value("cannot enter " + ns_);
    unsigned index = ::if_nametoindex(ifname_.c_str());
    UniqueFd cap(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP)));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = static_cast<int>(index);
    if (!index || !cap || ::bind(cap.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0)
      return ready.set_value("packet socket on " + ifname_ + ": " + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kEchoPort);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(tcp.get(), 8) != 0)
      return ready.set_value(std::string("echo sockets: ") + std::strerror(errno));
    ready.set_value("");
    for (;;) {
      pollfd p[4] = {{stop_pipe_[0], POLLIN, 0}, {cap.get(), POLLIN, 0}, {udp.get(), POLLIN, 0}, {tcp.get(), POLLIN, 0}};
      if (::poll(p, 4, 1000) < 0 && errno != EINTR) return;
      if (p[0].revents) return;
      if (p[1].revents & POLLIN) {
        unsigned char buf[128];
        ssize_t n = ::recv(cap.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n >= 20 && (buf[0] >> 4) == 4) {
          char src[INET_ADDRSTRLEN];
          ::inet_ntop(AF_INET, buf + 12, src, sizeof src);
          std::lock_guard<std::mutex> g(mutex_);
          ++sources_[src];
        }
      }
      if (p[2].revents & POLLIN) {
        char buf[512];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(udp.get(), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) {
          notePeer(from);
          (void)::sendto(udp.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
      }
      if (p[3].revents & POLLIN) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        UniqueFd c(::accept4(tcp.get(), reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC));
        if (c) {
          notePeer(from);
          timeval tv{2, 0};
          ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          char buf[512];
          ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
          if (n > 0) (void)::send(c.get(), buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
      }
    }
  }
  void notePeer(const sockaddr_in& from) {
    char a[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &from.sin_addr, a, sizeof a);
    std::lock_guard<std::mutex> g(mutex_);
    peers_.insert(a);
  }

  std::string ns_, ifname_;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::string, int> sources_;
  std::set<std::string> peers_;
};

// From inside `jail`: one UDP datagram and one TCP exchange with the outside's echo;
// true when both came back.
bool echoBothFrom(const std::string& jail, const std::string& address) {
  bool udp_ok = false, tcp_ok = false;
  testing::inNamespace(jail, [&] {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kEchoPort);
    ::inet_pton(AF_INET, address.c_str(), &to.sin_addr);
    timeval tv{2, 0};
    for (int attempt = 0; attempt < 3 && !udp_ok; ++attempt) {  // a datagram may meet an unresolved neighbour
      UniqueFd u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ::setsockopt(u.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const char msg[] = "vnetd-udp";
      char back[32] = {};
      if (::sendto(u.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0 &&
          ::recv(u.get(), back, sizeof back, 0) == static_cast<ssize_t>(sizeof msg))
        udp_ok = std::string(back) == msg;
    }
    UniqueFd t(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ::setsockopt(t.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(t.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const char msg[] = "vnetd-tcp";
    char back[32] = {};
    if (::connect(t.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
        ::send(t.get(), msg, sizeof msg, MSG_NOSIGNAL) > 0 &&
        ::recv(t.get(), back, sizeof back, MSG_WAITALL) == static_cast<ssize_t>(sizeof msg))
      tcp_ok = std::string(back) == msg;
  });
  return udp_ok && tcp_ok;
}

// libnftables' JSON listing of the host namespace's ruleset without vnetd's own table:
// what must never change.
std::string rulesetOutsideVnetd() {
  auto listing = platform::lnx::nftListJson("list ruleset", "test: list the ruleset");
  EXPECT_TRUE(listing) << listing.error().message();
  if (!listing) return "";
  Json doc = Json::parse(*listing, nullptr, false);
  Json kept = Json::array();
  for (const Json& item : doc.value("nftables", Json::array())) {
    if (item.contains("metainfo")) continue;
    bool vnetd = false;
    for (const char* kind : {"table", "chain", "rule", "set", "map", "element"})
      if (item.contains(kind)) {
        const Json& o = item[kind];
        const std::string table = o.contains("table") ? o.value("table", "") : o.value("name", "");
        vnetd = o.value("family", "") == "ip" && table == "vnetd";
      }
    if (!vnetd) kept.push_back(item);
  }
  return kept.dump();
}

// Comments of the rules in vnetd's table, each with its count ("" for a rule without).
std::map<std::string, int> vnetdRuleComments() { return vnetd::testing::nftRuleComments("ip vnetd"); }

class NatOutsideTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    if (HasFatalFailure()) return;
    original_ns_ = openNamespaceFile("/proc/self/ns/net");
    ASSERT_TRUE(original_ns_);
    host_ns_ = net_.jailName("host");
    uplink_ns_ = net_.jailName("up");
    net_.addNamespace(host_ns_);
    net_.addNamespace(uplink_ns_);
    UniqueFd h = openNamespaceFile("/run/netns/" + host_ns_);
    ASSERT_TRUE(h);
    ASSERT_EQ(::setns(h.get(), CLONE_NEWNET), 0) << std::strerror(errno);
    entered_ = true;
    // The product's views of the host, from inside the test's host namespace.
    auto hs = platform::openHostStack();
    ASSERT_TRUE(hs) << hs.error().message();
    host_ = std::move(*hs);
    policy_ = platform::openPolicy();
    ok({"ip", "link", "set", "lo", "up"});
    // The host routes for its jails (gateway_enable); the namespace starts with it off.
    ok({"sysctl", "-qw", "net.ipv4.ip_forward=1"});
    // A table that is not vnetd's, as firewalld, Docker or the administrator would have:
    // a nat chain at postrouting beside vnetd's, and a forward filter that accepts.
    auto foreign = platform::lnx::nftRun("add table inet foreign\n"
                                      "add chain inet foreign post { type nat hook postrouting priority 100; }\n"
                                      "add rule inet foreign post ip saddr 198.19.255.0/24 masquerade\n"
                                      "add chain inet foreign filterfw { type filter hook forward priority 0; policy accept; }\n"
                                      "add rule inet foreign filterfw ip daddr 198.19.254.0/24 drop\n",
                                      "test: the foreign table");
    ASSERT_TRUE(foreign) << foreign.error().message();
    foreign_before_ = rulesetOutsideVnetd();
  }

  void TearDown() override {
    if (entered_ && !HasFatalFailure()) {
      // The hidden state: vnetd's table holds exactly one rule per NAT bridge expected
      // now, each as configured; nothing else in the ruleset changed.
      std::map<std::string, int> want_comments;
      for (const auto& [bridge, nat] : expected_) want_comments["vnetd:bridge:" + bridge] = 1;
      EXPECT_EQ(vnetdRuleComments(), want_comments);
      for (const auto& [bridge, nat] : expected_) {
        auto read = policy_->bridgeNat(bridge);
        ASSERT_TRUE(read) << read.error().message();
        EXPECT_EQ(*read, std::optional<platform::BridgeNat>(nat)) << bridge;
      }
      EXPECT_EQ(rulesetOutsideVnetd(), foreign_before_) << "a table other than vnetd's changed";
    }
    DaemonFixture::TearDown();
    outside_.reset();
    policy_.reset();
    host_.reset();
    if (entered_) {
      EXPECT_EQ(::setns(original_ns_.get(), CLONE_NEWNET), 0);
    }
  }

  bool ok(const std::vector<std::string>& argv) {
    auto r = testing::run(argv);
    EXPECT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err;
    return r.status == 0;
  }

  // The uplink veth and the outside's services. `n` picks 198.19.N.0/24.
  void makeUplink(int n) {
    uplink_net_ = "198.19." + std::to_string(n);
    ASSERT_TRUE(ok({"ip", "link", "add", egress_, "type", "veth", "peer", "name", "up1", "netns", uplink_ns_}));
    ASSERT_TRUE(ok({"ip", "addr", "add", uplink_net_ + ".1/24", "dev", egress_}));
    ASSERT_TRUE(ok({"ip", "link", "set", egress_, "up"}));
    ASSERT_TRUE(ok({"ip", "-n", uplink_ns_, "addr", "add", uplink_net_ + ".2/24", "dev", "up1"}));
    ASSERT_TRUE(ok({"ip", "-n", uplink_ns_, "link", "set", "up1", "up"}));
    ASSERT_TRUE(ok({"ip", "-n", uplink_ns_, "link", "set", "lo", "up"}));
    outside_ = std::make_unique<Outside>(uplink_ns_, "up1");
    std::string why;
    ASSERT_TRUE(outside_->start(&why)) << why;
  }
  std::string outsideAddress() const { return uplink_net_ + ".2"; }

  std::string bridgeTable(const std::string& key, const std::string& ifname, const std::string& subnet, bool nat) {
    return "[bridge." + key + "]\ninterface = \"" + ifname + "\"\naddress = \"" + subnet + ".1/24\"\n" +
           (nat ? "nat = \"" + egress_ + "\"\n" : std::string()) + "\n";
  }
  std::string jailOn(const std::string& jail, const std::string& bridge_key) {
    return "[[jail." + jail + ".interface]]\nbridge = \"" + bridge_key + "\"\naddress = \"auto\"\n\n";
  }
  // vnetd_bridge_nat_active{bridge="br0"} reaches `want` within 10 s (it is set at the end
  // of the pass whose log line the caller waited for).
  static bool natActiveBecomes(uint16_t port, double want) {
    for (int i = 0; i < 100; ++i) {
      if (testing::sample(testing::httpGet(port, "/metrics"), "vnetd_bridge_nat_active", {"bridge=\"br0\""}) == want)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll with a bound: no event to wait for
    }
    return false;
  }
  platform::BridgeNat natOf(const std::string& subnet) const {
    return {egress_, {*Cidr::parse(subnet + ".0/24")}, true};
  }
  void reload(const std::string& body, int interval) {
    writeConfig(body, 60, interval);
    ::kill(daemon_->pid(), SIGHUP);
  }

  UniqueFd original_ns_;
  bool entered_ = false;
  std::string host_ns_, uplink_ns_, uplink_net_;
  std::string egress_ = "up0";  // inside the test's host namespace: no clash possible
  std::unique_ptr<platform::Policy> policy_;
  std::unique_ptr<Outside> outside_;
  std::string foreign_before_;
  std::map<std::string, platform::BridgeNat> expected_;  // by bridge interface, checked in TearDown
};

// Issue 16, test 1: the jail's ping, UDP and TCP reach the outside, which sees only the
// host's uplink address — never the jail's.
TEST_F(NatOutsideTest, AJailReachesTheOutsideAndTheOutsideSeesOnlyTheHostsAddress) {
  makeUplink(41);
  const std::string jail = net_.jailName("j");
  writeConfig(bridgeTable("out", "br0", "198.18.41", true) + jailOn(jail, "out"));
  startDaemon();
  startJail(jail);
  EXPECT_TRUE(TestNet::pingWithin(jail, outsideAddress(), 10));
  EXPECT_TRUE(echoBothFrom(jail, outsideAddress()));
  EXPECT_EQ(outside_->echoPeers(), std::set<std::string>{uplink_net_ + ".1"}) << "masqueraded to the host's address";
  EXPECT_GE(outside_->sources()[uplink_net_ + ".1"], 3) << "ping, UDP and TCP from the host's address";
  EXPECT_EQ(outside_->fromSubnet("198.18."), 0) << "a jail address reached the outside untranslated";
  expected_["br0"] = natOf("198.18.41");
}

// Issue 16, test 2: only the NAT bridges' subnets are translated. The plain bridge's jail
// gets its packets forwarded with its own source address, and the outside, with no route
// back to 198.18, never answers it.
TEST_F(NatOutsideTest, OnlyTheNatBridgesSubnetsAreTranslated) {
  makeUplink(42);
  const std::string ja = net_.jailName("a"), jb = net_.jailName("b"), jc = net_.jailName("c");
  writeConfig(bridgeTable("a", "br0", "198.18.42", true) + bridgeTable("b", "br1", "198.18.43", true) +
              bridgeTable("c", "br2", "198.18.44", false) + jailOn(ja, "a") + jailOn(jb, "b") + jailOn(jc, "c"));
  startDaemon();
  for (const auto& j : {ja, jb, jc}) startJail(j);
  EXPECT_TRUE(TestNet::pingWithin(ja, outsideAddress(), 10));
  EXPECT_TRUE(TestNet::pingWithin(jb, outsideAddress(), 10));
  EXPECT_TRUE(echoBothFrom(ja, outsideAddress()));
  EXPECT_TRUE(echoBothFrom(jb, outsideAddress()));
  EXPECT_EQ(outside_->fromSubnet("198.18."), 0);
  EXPECT_FALSE(TestNet::ping(jc, outsideAddress())) << "the plain bridge's jail must not be answered";
  EXPECT_GE(outside_->fromSubnet("198.18.44."), 1) << "its packets arrive with its own address: not translated";
  EXPECT_EQ(outside_->fromSubnet("198.18.42."), 0);
  EXPECT_EQ(outside_->fromSubnet("198.18.43."), 0);
  expected_["br0"] = natOf("198.18.42");
  expected_["br1"] = natOf("198.18.43");
}

// Issue 16, test 3: vnetd's table deleted by hand → back within the reconcile interval,
// and the jail reaches the outside again; the foreign table is untouched (TearDown).
TEST_F(NatOutsideTest, VnetdsTableDeletedByHandIsBackWithinTheReconcileInterval) {
  makeUplink(45);
  const std::string jail = net_.jailName("j");
  writeConfig(bridgeTable("out", "br0", "198.18.45", true) + jailOn(jail, "out"), 60, /*interval=*/1);
  startDaemon();
  startJail(jail);
  ASSERT_TRUE(TestNet::pingWithin(jail, outsideAddress(), 10));
  size_t mark = daemon_->logSize();
  ASSERT_TRUE(platform::lnx::nftRun("delete table ip vnetd", "test: delete vnetd's table"));
  EXPECT_TRUE(vnetdRuleComments().empty());
  ASSERT_TRUE(daemon_->waitForLog("NAT of bridge br0 (out of up0) is not loaded; loaded it", 10000, mark))
      << daemon_->log();
  EXPECT_TRUE(TestNet::pingWithin(jail, outsideAddress(), 10));
  EXPECT_TRUE(echoBothFrom(jail, outsideAddress()));
  EXPECT_GE(status()["counters"].value("ensure_nat", 0), 1);
  EXPECT_EQ(outside_->fromSubnet("198.18."), 0);
  expected_["br0"] = natOf("198.18.45");
}

// Issue 16, test 4: a reload that takes `nat` off one bridge removes exactly its rule; one
// that puts it back loads it again.
TEST_F(NatOutsideTest, AReloadRemovesAndRestoresOneBridgesRuleOnly) {
  makeUplink(46);
  const std::string ja = net_.jailName("a"), jb = net_.jailName("b");
  auto config = [&](bool nat_on_b) {
    return bridgeTable("a", "br0", "198.18.46", true) + bridgeTable("b", "br1", "198.18.47", nat_on_b) +
           jailOn(ja, "a") + jailOn(jb, "b");
  };
  writeConfig(config(true));
  startDaemon();
  startJail(ja);
  startJail(jb);
  EXPECT_EQ(vnetdRuleComments(), (std::map<std::string, int>{{"vnetd:bridge:br0", 1}, {"vnetd:bridge:br1", 1}}));

  size_t mark = daemon_->logSize();
  reload(config(false), 10);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", 10000, mark)) << daemon_->log();
  EXPECT_EQ(vnetdRuleComments(), (std::map<std::string, int>{{"vnetd:bridge:br0", 1}}));
  EXPECT_TRUE(TestNet::pingWithin(ja, outsideAddress(), 10)) << "the other bridge keeps its NAT";
  EXPECT_FALSE(TestNet::ping(jb, outsideAddress())) << "br1 is no longer translated";

  mark = daemon_->logSize();
  reload(config(true), 10);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", 10000, mark)) << daemon_->log();
  EXPECT_EQ(vnetdRuleComments(), (std::map<std::string, int>{{"vnetd:bridge:br0", 1}, {"vnetd:bridge:br1", 1}}));
  EXPECT_TRUE(TestNet::pingWithin(jb, outsideAddress(), 10));
  expected_["br0"] = natOf("198.18.46");
  expected_["br1"] = natOf("198.18.47");
}

// A bridge that is there before the daemon (made by hand, or by an earlier vnetd whose NAT
// was flushed since): nothing creates it, so only the reconciler's first pass — which runs
// before the daemon reports ready — can load its NAT.
TEST_F(NatOutsideTest, AnExistingBridgeWithoutNatGetsItWhenTheDaemonStarts) {
  makeUplink(49);
  ASSERT_TRUE(ok({"ip", "link", "add", "br0", "type", "bridge"}));
  ASSERT_TRUE(ok({"ip", "addr", "add", "198.18.49.1/24", "dev", "br0"}));
  ASSERT_TRUE(ok({"ip", "link", "set", "br0", "up"}));
  EXPECT_TRUE(vnetdRuleComments().empty());
  const std::string jail = net_.jailName("j");
  writeConfig(bridgeTable("out", "br0", "198.18.49", true) + jailOn(jail, "out"));
  startDaemon();
  EXPECT_EQ(vnetdRuleComments(), (std::map<std::string, int>{{"vnetd:bridge:br0", 1}})) << daemon_->log();
  EXPECT_NE(daemon_->log().find("NAT of bridge br0 (out of up0) is not loaded; loaded it"), std::string::npos)
      << daemon_->log();
  startJail(jail);
  EXPECT_TRUE(echoBothFrom(jail, outsideAddress()));
  EXPECT_EQ(outside_->fromSubnet("198.18."), 0);
  expected_["br0"] = natOf("198.18.49");
}

// Issue 16, test 6: `nat` names an interface that does not exist. The bridge still comes
// up and the jail starts; the NAT is reported missing (log, metric, doctor FAIL); when the
// interface appears, the interface event — not the periodic pass, an hour away here —
// loads the NAT.
TEST_F(NatOutsideTest, AMissingEgressLeavesTheBridgeWorkingAndIsTranslatedOnceItAppears) {
  const std::string jail = net_.jailName("j");
  const uint16_t port = testing::freeLoopbackPort();
  writeConfig("[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n" +
                  bridgeTable("out", "br0", "198.18.48", true) + jailOn(jail, "out"),
              60, /*interval=*/3600);
  startDaemon();
  EXPECT_TRUE(daemon_->waitForLog("bridge br0: its NAT egress interface up0 does not exist", 10000)) << daemon_->log();
  startJail(jail);
  EXPECT_TRUE(TestNet::pingWithin(jail, "198.18.48.1", 10)) << "the bridge works without its NAT";
  EXPECT_TRUE(natActiveBecomes(port, 0)) << testing::httpGet(port, "/metrics");
  auto doctor = testing::run({VNETD_VNETCTL_BINARY, "--config", configPath(), "doctor"});
  EXPECT_NE(doctor.status, 0);
  EXPECT_NE(doctor.out.find("up0, which does not exist"), std::string::npos) << doctor.out << doctor.err;
  EXPECT_TRUE(vnetdRuleComments().empty()) << "nothing loaded for an interface that is not there";

  size_t mark = daemon_->logSize();
  makeUplink(48);
  ASSERT_TRUE(daemon_->waitForLog("NAT of bridge br0 (out of up0) is not loaded; loaded it", 10000, mark))
      << daemon_->log();
  EXPECT_TRUE(TestNet::pingWithin(jail, outsideAddress(), 10));
  EXPECT_TRUE(echoBothFrom(jail, outsideAddress()));
  EXPECT_EQ(outside_->fromSubnet("198.18."), 0);
  EXPECT_TRUE(natActiveBecomes(port, 1)) << testing::httpGet(port, "/metrics");
  expected_["br0"] = natOf("198.18.48");
}

}  // namespace
}  // namespace vnetd
