// The Linux NetStack and Jails backends, operation by operation, on real kernel objects.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "platform/jails.h"
#include "platform/netif.h"
#include "tests/support/testnet.h"

namespace vnetd::platform {
namespace {

using vnetd::testing::TestNet;

class NetStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vnetd::testing::isRoot());
    auto h = openHostStack();
    ASSERT_TRUE(h) << h.error().message();
    host_ = std::move(*h);
    auto j = openJails();
    ASSERT_TRUE(j);
    jails_ = std::move(*j);
  }
  std::optional<LinkInfo> get(const std::string& name) {
    auto l = host_->link(name);
    EXPECT_TRUE(l) << l.error().message();
    return l ? *l : std::nullopt;
  }
  PairSpec pair(const std::string& a, const std::string& b) {
    PairSpec s;
    s.host_name = a;
    s.jail_name = b;
    s.host_mac = *MacAddress::parse("02:00:00:00:20:0a");
    s.jail_mac = *MacAddress::parse("02:00:00:00:20:0b");
    return s;
  }
  TestNet net_;
  std::unique_ptr<NetStack> host_;
  std::unique_ptr<Jails> jails_;
};

TEST_F(NetStackTest, LinkOperations) {
  std::string br = net_.bridgeName("nsb"), a = net_.bridgeName("nsa"), b = net_.bridgeName("nsB"),
              renamed = net_.bridgeName("nsr");
  ASSERT_TRUE(host_->createBridge(br, 9000u));
  PairSpec spec = pair(a, b);
  spec.mtu = 9000;
  spec.bridge = br;
  spec.description = "vnetd:test:0";
  ASSERT_TRUE(host_->createPair(spec));
  auto bridge = get(br);
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->kind, LinkKind::Bridge);
  EXPECT_EQ(bridge->mtu, 9000u);
  auto la = get(a);
  ASSERT_TRUE(la);
  EXPECT_EQ(la->kind, LinkKind::Pair);
  EXPECT_EQ(la->master_index, bridge->index);
  EXPECT_EQ(la->mac.toString(), "02:00:00:00:20:0a");
  EXPECT_EQ(la->description, "vnetd:test:0");
  EXPECT_EQ(la->mtu, 9000u);
  EXPECT_TRUE(la->admin_up);
  auto lb = get(b);
  ASSERT_TRUE(lb);
  EXPECT_EQ(lb->description, "vnetd:test:0");  // jail side still on the host: described too
  EXPECT_FALSE(lb->admin_up);

  // A second create with the same names fails and leaves the first pair alone.
  auto again = host_->createPair(spec);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_TRUE(get(a));

  // Out of the bridge by hand (vnetd itself never removes a member: the pair goes whole).
  ASSERT_EQ(vnetd::testing::run({"ip", "link", "set", a, "nomaster"}).status, 0);
  EXPECT_EQ(get(a)->master_index, 0u);
  ASSERT_TRUE(host_->addBridgeMember(br, a, true));
  EXPECT_EQ(get(a)->master_index, bridge->index);
  ASSERT_TRUE(host_->setMac(b, *MacAddress::parse("02:00:00:00:20:bb")));
  EXPECT_EQ(get(b)->mac.toString(), "02:00:00:00:20:bb");
  ASSERT_TRUE(host_->setMtu(b, 1400));
  EXPECT_EQ(get(b)->mtu, 1400u);
  ASSERT_TRUE(host_->setDescription(b, "changed"));
  EXPECT_EQ(get(b)->description, "changed");
  ASSERT_TRUE(host_->setUp(b, true));
  EXPECT_TRUE(get(b)->admin_up);
  ASSERT_TRUE(host_->setUp(b, false));
  ASSERT_TRUE(host_->rename(b, renamed));
  EXPECT_FALSE(get(b));
  EXPECT_TRUE(get(renamed));

  // One dump lists everything, with counters.
  auto all = host_->links();
  ASSERT_TRUE(all);
  int seen = 0;
  for (const auto& l : *all) seen += (l.name == a || l.name == renamed || l.name == br);
  EXPECT_EQ(seen, 3);

  ASSERT_TRUE(host_->destroyLink(renamed));  // either side destroys both
  EXPECT_FALSE(get(a));
  auto gone = host_->destroyLink(a);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ENODEV);
  EXPECT_EQ(gone.error().message(), "destroy " + a + ": " + std::string(strerror(ENODEV)));
  ASSERT_TRUE(host_->destroyLink(br));
}

// Sends `n` frames out of `ifname` (a packet socket: no IP stack, no replies).
void sendFrames(const std::string& ifname, const MacAddress& dst, int n) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, dst.bytes.data(), 6);
  unsigned char frame[60] = {};
  std::memcpy(frame, dst.bytes.data(), 6);
  frame[6] = 0x02;
  frame[12] = 0x88;  // 0x88b5: IEEE local experimental EtherType
  frame[13] = 0xb5;
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(::sendto(fd, frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(sizeof frame));
  ::close(fd);
}

const LinkInfo* byName(const std::vector<LinkInfo>& links, const std::string& name) {
  for (const auto& l : links)
    if (l.name == name) return &l;
  return nullptr;
}

// pollLinks() answers like links() — same links, same identity and state — after every kind
// of change, with counters read at the call (never the table's copy from a notification).
TEST_F(NetStackTest, PollLinksFollowsChangesAndReadsCountersNow) {
  auto first = host_->pollLinks();
  ASSERT_TRUE(first) << first.error().message();
  // Only this test's links (other tests' come and go meanwhile), as comparable text.
  auto describe = [](const std::vector<LinkInfo>& links) {
    std::vector<std::string> out;
    for (const auto& l : links)
      if (l.name.find(vnetd::testing::runPrefix()) != std::string::npos)
        out.push_back(l.name + " " + l.mac.toString() + " m" + std::to_string(l.master_index) + " up" +
                      std::to_string(l.admin_up) + " run" + std::to_string(l.running) + " mtu" +
                      std::to_string(l.mtu));
    return out;
  };
  // The kernel finishes some changes a moment later (carrier follows "up" asynchronously),
  // so the two views may differ for an instant: they must agree within two seconds. A table
  // that missed a change never would.
  auto same = [&](const char* step) {
    std::vector<std::string> got, want;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    do {
      auto polled = host_->pollLinks();
      auto dumped = host_->links();
      ASSERT_TRUE(polled && dumped) << step;
      got = describe(*polled);
      want = describe(*dumped);
      if (got == want) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(got, want) << step;
  };
  std::string br = net_.bridgeName("plb"), a = net_.bridgeName("pla"), b = net_.bridgeName("plB"),
              renamed = net_.bridgeName("plr");
  ASSERT_TRUE(host_->createBridge(br, std::nullopt));
  ASSERT_TRUE(host_->createPair(pair(a, b)));
  same("created");
  ASSERT_TRUE(host_->addBridgeMember(br, a, false));
  same("joined the bridge");
  ASSERT_TRUE(host_->setMac(b, *MacAddress::parse("02:00:00:00:21:bb")));
  ASSERT_TRUE(host_->setMtu(b, 1400));
  same("MAC and MTU");
  ASSERT_TRUE(host_->setUp(a, true));
  ASSERT_TRUE(host_->setUp(b, true));
  // Frames sent before the carrier is up are dropped: wait for it (it follows "up" shortly).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!(get(a)->running && get(b)->running) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(get(a)->running && get(b)->running) << "no carrier on the pair after 5 s";
  same("up, carrier");

  // Counters: frames sent after a full dump show up in the next poll.
  auto before = host_->links();
  ASSERT_TRUE(before);
  sendFrames(a, *MacAddress::parse("02:00:00:00:21:bb"), 25);
  auto polled = host_->pollLinks();
  auto after = host_->links();
  ASSERT_TRUE(polled && after);
  const LinkInfo *pb = byName(*before, a), *pp = byName(*polled, a), *pa = byName(*after, a);
  ASSERT_TRUE(pb && pp && pa);
  EXPECT_GE(pp->counters.tx_packets, pb->counters.tx_packets + 25);
  EXPECT_LE(pp->counters.tx_packets, pa->counters.tx_packets);
  EXPECT_GE(byName(*polled, b)->counters.rx_packets, byName(*before, b)->counters.rx_packets + 25);

  ASSERT_TRUE(host_->setUp(b, false));
  ASSERT_TRUE(host_->rename(b, renamed));
  same("down and renamed");
  ASSERT_TRUE(host_->destroyLink(a));
  same("destroyed");
  auto last = host_->pollLinks();
  ASSERT_TRUE(last);
  EXPECT_FALSE(byName(*last, a));
  EXPECT_FALSE(byName(*last, renamed));
  EXPECT_TRUE(byName(*last, br));
  ASSERT_TRUE(host_->destroyLink(br));
}

// A stack that follows the link notifications answers currentLink() from its table: as current
// as a query for changes another process (here: another stack, its own socket) made and
// had acknowledged just before — no notification may be missing or late.
TEST_F(NetStackTest, LinkFromTheNotificationTableSeesEveryAcknowledgedChange) {
  ASSERT_TRUE(host_->pollLinks());  // from here host_ follows the notifications
  auto o = openHostStack();
  ASSERT_TRUE(o);
  std::unique_ptr<NetStack> other = std::move(*o);
  std::string a = net_.bridgeName("lta"), b = net_.bridgeName("ltB");
  auto get = [&](const std::string& name) -> std::optional<LinkInfo> {
    auto l = host_->currentLink(name);
    EXPECT_TRUE(l) << l.error().message();
    return l ? *l : std::nullopt;
  };
  for (int round = 0; round < 30; ++round) {
    ASSERT_TRUE(other->createPair(pair(a, b))) << round;
    auto seen = get(a);
    ASSERT_TRUE(seen) << "round " << round << ": a pair made and acknowledged is not in the table";
    EXPECT_EQ(seen->mac.toString(), "02:00:00:00:20:0a");
    ASSERT_TRUE(other->setMac(a, *MacAddress::parse("02:00:00:00:22:01")));
    ASSERT_TRUE(other->setMtu(a, 1400));
    seen = get(a);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->mac.toString(), "02:00:00:00:22:01") << round;
    EXPECT_EQ(seen->mtu, 1400u) << round;
    ASSERT_TRUE(other->destroyLink(a));
    EXPECT_FALSE(get(a)) << "round " << round << ": a destroyed pair is still in the table";
    EXPECT_FALSE(get(b)) << round;
  }
}

TEST_F(NetStackTest, JailsAreNamespacesIdentifiedByInode) {
  std::string j = net_.jailName("ns");
  auto none = jails_->find(j);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  net_.addNamespace(j);
  auto found = jails_->find(j);
  ASSERT_TRUE(found && *found);
  struct stat st {};
  ASSERT_EQ(::stat(("/run/netns/" + j).c_str(), &st), 0);
  EXPECT_EQ((*found)->id, static_cast<int64_t>(st.st_ino));
  EXPECT_TRUE((*found)->own_stack);
  // Opening the jail's stack enters its namespace on this thread and comes back: the
  // thread is where it was, and what it makes next is the host's.
  struct stat home_before {}, home_after {};
  ASSERT_EQ(::stat("/proc/thread-self/ns/net", &home_before), 0);
  {
    auto inside = jails_->openStack(**found);
    ASSERT_TRUE(inside) << inside.error().message();
    auto their_links = (*inside)->links();
    ASSERT_TRUE(their_links);
    EXPECT_LE(their_links->size(), 2u) << "the jail's stack lists the host's links";
  }
  ASSERT_EQ(::stat("/proc/thread-self/ns/net", &home_after), 0);
  EXPECT_EQ(home_after.st_ino, home_before.st_ino) << "the thread stayed in the jail's namespace";
  auto list = jails_->list();
  ASSERT_TRUE(list);
  bool listed = false;
  for (const auto& info : *list) listed |= info.name == j && info.id == (*found)->id;
  EXPECT_TRUE(listed);

  // A plain file in /run/netns (an interrupted `ip netns del` leaves one) is no jail.
  std::string plain = net_.jailName("plain");
  std::string plain_path = "/run/netns/" + plain;
  {
    int fd = ::open(plain_path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  auto plain_found = jails_->find(plain);
  auto relisted = jails_->list();
  ::unlink(plain_path.c_str());
  ASSERT_TRUE(plain_found && relisted);
  EXPECT_FALSE(*plain_found);
  for (const auto& info : *relisted) EXPECT_NE(info.name, plain);
  listed = false;
  for (const auto& info : *relisted) listed |= info.name == j;
  EXPECT_TRUE(listed);

  // A pair whose jail side goes straight into the namespace, then configured inside.
  std::string a = net_.bridgeName("nja"), b = "e0b_test";
  PairSpec spec = pair(a, b);
  spec.peer_in_jail = &**found;
  ASSERT_TRUE(host_->createPair(spec));
  EXPECT_FALSE(get(b)) << "jail side must be created inside the jail";
  auto inside = jails_->openStack(**found);
  ASSERT_TRUE(inside) << inside.error().message();
  auto lb = (*inside)->link(b);
  ASSERT_TRUE(lb && *lb);
  ASSERT_TRUE((*inside)->loopbackUp());
  ASSERT_TRUE((*inside)->addAddress(b, *Cidr::parse("198.18.95.2/24")));
  ASSERT_TRUE((*inside)->addAddress(b, *Cidr::parse("198.18.95.2/24"))) << "adding twice is idempotent";
  ASSERT_TRUE((*inside)->setUp(b, true));
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("198.18.95.1")));
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("198.18.95.1"))) << "replacing is idempotent";
  auto addrs = (*inside)->addresses((*lb)->index);
  ASSERT_TRUE(addrs);
  bool has = false;
  for (const auto& ad : *addrs) {
    EXPECT_EQ(ad.link_index, (*lb)->index) << "filtered dump returned another link's address";
    has |= ad.cidr.toString() == "198.18.95.2/24";
  }
  EXPECT_TRUE(has);
  auto routes = (*inside)->defaultRoutes();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  ASSERT_TRUE((*routes)[0].gateway);
  EXPECT_EQ((*routes)[0].gateway->toString(), "198.18.95.1");
  EXPECT_EQ((*routes)[0].out_index, (*lb)->index);

  // Moving back and forth: the host-side stack moves its own link into the jail.
  std::string c = net_.bridgeName("njc"), d = net_.bridgeName("njd");
  ASSERT_TRUE(host_->createPair(pair(c, d)));
  ASSERT_TRUE(host_->moveToJail(d, **found));
  EXPECT_FALSE(get(d));
  auto moved = (*inside)->link(d);
  ASSERT_TRUE(moved && *moved);

  // A namespace deleted and re-created under the same name is a different jail.
  JailInfo stale = **found;
  net_.deleteNamespace(j);
  net_.addNamespace(j);
  auto r = jails_->openStack(stale);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ESTALE);
}

// A default route is replaced, never appended to: the FreeBSD backend had that bug (a
// second RTM_ADD became an ECMP nexthop); on Linux NLM_F_REPLACE is what prevents it —
// without it IPv4 keeps a second default route and IPv6 makes the two a multipath route.
// A multipath default made by someone else collapses to ours too.
TEST_F(NetStackTest, DefaultRouteIsReplacedNotAppended) {
  std::string j = net_.jailName("dr");
  net_.addNamespace(j);
  auto found = jails_->find(j);
  ASSERT_TRUE(found && *found);
  std::string a = net_.bridgeName("dra"), b = "e0b_route";
  PairSpec spec = pair(a, b);
  spec.peer_in_jail = &**found;
  ASSERT_TRUE(host_->createPair(spec));
  auto inside = jails_->openStack(**found);
  ASSERT_TRUE(inside) << inside.error().message();
  ASSERT_TRUE((*inside)->addAddress(b, *Cidr::parse("198.18.97.2/24")));
  ASSERT_TRUE((*inside)->addAddress(b, *Cidr::parse("2001:db8:97::2/64")));
  ASSERT_TRUE((*inside)->setUp(b, true));

  // The default routes as the administrator sees them: one line per route, plus one per
  // nexthop of a multipath route.
  auto shown = [&](const char* family) {
    auto r = vnetd::testing::run({"ip", "-n", j, family, "route", "show", "default"});
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  };
  auto expectOnly = [&](const std::string& v4, const std::string& v6) {
    auto routes = (*inside)->defaultRoutes();
    ASSERT_TRUE(routes) << routes.error().message();
    std::vector<std::string> gateways;
    for (const auto& r : *routes)
      gateways.push_back(r.gateway ? r.gateway->toString() : std::string("(none)"));
    EXPECT_EQ(gateways, (std::vector<std::string>{v4, v6}));
    std::string out4 = shown("-4"), out6 = shown("-6");
    EXPECT_EQ(std::count(out4.begin(), out4.end(), '\n'), 1) << out4;
    EXPECT_EQ(std::count(out6.begin(), out6.end(), '\n'), 1) << out6;
    EXPECT_EQ(out4.find("nexthop"), std::string::npos) << out4;
    EXPECT_EQ(out6.find("nexthop"), std::string::npos) << out6;
  };

  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("198.18.97.1")));
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("2001:db8:97::1")));
  expectOnly("198.18.97.1", "2001:db8:97::1");
  // Another gateway: replaced.
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("198.18.97.3")));
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("2001:db8:97::3")));
  expectOnly("198.18.97.3", "2001:db8:97::3");

  // Multipath defaults made by hand (ip route append adds a second nexthop to IPv6's).
  auto ip = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", j});
    auto r = vnetd::testing::run(args);
    ASSERT_EQ(r.status, 0) << r.err;
  };
  ip({"-4", "route", "replace", "default", "nexthop", "via", "198.18.97.4", "nexthop", "via",
      "198.18.97.5"});
  ip({"-6", "route", "replace", "default", "via", "2001:db8:97::4"});
  ip({"-6", "route", "append", "default", "via", "2001:db8:97::5"});
  ASSERT_NE(shown("-4").find("nexthop"), std::string::npos) << "not multipath: the test is void";
  ASSERT_NE(shown("-6").find("nexthop"), std::string::npos) << "not multipath: the test is void";
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("198.18.97.3")));
  ASSERT_TRUE((*inside)->setDefaultRoute(*IpAddress::parse("2001:db8:97::3")));
  expectOnly("198.18.97.3", "2001:db8:97::3");
}

// The host side's last steps go to the kernel as one request (isolated, description, up):
// each is in place afterwards, as when they were three.
TEST_F(NetStackTest, APrivateMembersLastStepsAreOneRequestAndAllTakeEffect) {
  std::string br = net_.bridgeName("pmb"), a = net_.bridgeName("pma"), b = net_.bridgeName("pmB");
  ASSERT_TRUE(host_->createBridge(br, std::nullopt));
  auto bridge = get(br);
  ASSERT_TRUE(bridge);
  PairSpec spec = pair(a, b);
  spec.bridge = br;
  spec.bridge_index = bridge->index;  // known: no lookup
  spec.private_member = true;
  spec.description = "vnetd:private:0";
  ASSERT_TRUE(host_->createPair(spec));
  auto la = get(a);
  ASSERT_TRUE(la);
  EXPECT_EQ(la->master_index, bridge->index);
  EXPECT_EQ(la->description, "vnetd:private:0");
  EXPECT_TRUE(la->admin_up);
  auto shown = vnetd::testing::run({"ip", "-d", "link", "show", a});
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_NE(shown.out.find("isolated on"), std::string::npos) << shown.out;
  EXPECT_EQ(get(b)->description, "vnetd:private:0") << "jail side on the host: described too";
}

// A combined request the kernel refuses still fails in one line naming what failed, and
// leaves no half-made pair behind: a description longer than the kernel's IFALIASZ - 1
// (ifla_policy) is refused in the host side's finishing request, after the creation.
TEST_F(NetStackTest, ARefusedFinishingRequestNamesItsStepAndLeavesNoPair) {
  std::string br = net_.bridgeName("rfb"), a = net_.bridgeName("rfa"), b = net_.bridgeName("rfB");
  ASSERT_TRUE(host_->createBridge(br, std::nullopt));
  PairSpec spec = pair(a, b);
  spec.bridge = br;
  spec.description = std::string(300, 'x');
  auto r = host_->createPair(spec);
  ASSERT_FALSE(r);
  const std::string message = r.error().message();
  EXPECT_EQ(message.rfind("set description on " + b + " ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_FALSE(get(a)) << "half a pair left behind";
  EXPECT_FALSE(get(b));

  // The same in the jail: the jail side goes straight in, so the host side's request is
  // the one refused, and it says so.
  std::string j = net_.jailName("rf");
  net_.addNamespace(j);
  auto found = jails_->find(j);
  ASSERT_TRUE(found && *found);
  spec.peer_in_jail = &**found;
  r = host_->createPair(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("bring up " + a + " with its description ", 0), 0u)
      << r.error().message();
  EXPECT_FALSE(get(a));

  // A name collision refuses the creation itself, before anything else is sent: the other
  // interface keeps its description and state.
  spec.description = "vnetd:collide:0";
  spec.peer_in_jail = nullptr;
  ASSERT_TRUE(host_->createPair(spec));
  ASSERT_TRUE(host_->setDescription(a, "someone else's"));
  ASSERT_TRUE(host_->setUp(a, false));
  auto again = host_->createPair(spec);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_EQ(again.error().message().rfind("create pair " + a + "/" + b + ": ", 0), 0u) << again.error().message();
  EXPECT_EQ(get(a)->description, "someone else's");
  EXPECT_FALSE(get(a)->admin_up);
}

// describeAndBringUp is one request inside a jail: description and up both take effect;
// a missing link fails in one line that names both steps. addAddressAt uses the index.
TEST_F(NetStackTest, DescribeAndBringUpAndAddressByIndex) {
  std::string j = net_.jailName("du");
  net_.addNamespace(j);
  auto found = jails_->find(j);
  ASSERT_TRUE(found && *found);
  std::string a = net_.bridgeName("dua"), b = "e0b_du";
  PairSpec spec = pair(a, b);
  spec.peer_in_jail = &**found;
  ASSERT_TRUE(host_->createPair(spec));
  auto inside = jails_->openStack(**found);
  ASSERT_TRUE(inside) << inside.error().message();
  auto lb = (*inside)->link(b);
  ASSERT_TRUE(lb && *lb);
  ASSERT_TRUE((*inside)->addAddressAt((*lb)->index, b, *Cidr::parse("198.18.96.2/24")));
  ASSERT_TRUE((*inside)->describeAndBringUp(b, "vnetd:du:0"));
  auto after = (*inside)->link(b);
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((*after)->description, "vnetd:du:0");
  EXPECT_TRUE((*after)->admin_up);
  auto addrs = (*inside)->addresses((*lb)->index);
  ASSERT_TRUE(addrs);
  std::vector<std::string> v4;
  for (const auto& ad : *addrs)
    if (ad.cidr.address.family == IpFamily::V4) v4.push_back(ad.cidr.toString());
  EXPECT_EQ(v4, std::vector<std::string>{"198.18.96.2/24"});
  auto missing = (*inside)->describeAndBringUp("e0b_none", "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().rfind("describe and bring up e0b_none", 0), 0u) << missing.error().message();
  auto wrong = (*inside)->addAddressAt(999999, b, *Cidr::parse("198.18.96.3/24"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message().rfind("add address 198.18.96.3/24 to " + b + " ", 0), 0u)
      << wrong.error().message();
}

// `created`'s steps as one batch: every step takes effect, and a failing step is named by
// its own message (the kernel answers it with an error and goes on with the next).
TEST_F(NetStackTest, TheJailSideSetupIsOneBatchAndAFailureNamesItsStep) {
  std::string j = net_.jailName("cb");
  net_.addNamespace(j);
  auto found = jails_->find(j);
  ASSERT_TRUE(found && *found);
  std::string a = net_.bridgeName("cba"), b = "e0b_cb";
  PairSpec spec = pair(a, b);
  spec.peer_in_jail = &**found;
  ASSERT_TRUE(host_->createPair(spec));
  auto inside = jails_->openStack(**found);
  ASSERT_TRUE(inside) << inside.error().message();
  auto lb = (*inside)->link(b);
  ASSERT_TRUE(lb && *lb);
  NetStack::JailSideSetup setup;
  setup.interfaces.push_back({b, (*lb)->index, {*Cidr::parse("198.18.97.2/24"), *Cidr::parse("198.18.98.2/24")},
                              "vnetd:cb:0"});
  setup.default_routes = {*IpAddress::parse("198.18.97.1")};
  ASSERT_TRUE((*inside)->configureJailSide(setup));
  auto after = (*inside)->link(b);
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((*after)->description, "vnetd:cb:0");
  EXPECT_TRUE((*after)->admin_up);
  auto lo = (*inside)->link("lo");
  ASSERT_TRUE(lo && *lo);
  EXPECT_TRUE((*lo)->admin_up);
  auto addrs = (*inside)->addresses((*lb)->index);
  ASSERT_TRUE(addrs);
  std::set<std::string> v4;
  for (const auto& ad : *addrs)
    if (ad.cidr.address.family == IpFamily::V4) v4.insert(ad.cidr.toString());
  EXPECT_EQ(v4, (std::set<std::string>{"198.18.97.2/24", "198.18.98.2/24"}));
  auto routes = (*inside)->defaultRoutes();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  ASSERT_TRUE((*routes)[0].gateway);
  EXPECT_EQ((*routes)[0].gateway->toString(), "198.18.97.1");

  // The second message fails (no link of that index); the first error is reported with
  // its step, and the batch's later steps ran anyway (the documented contract).
  NetStack::JailSideSetup bad;
  bad.interfaces.push_back({b, 999999, {*Cidr::parse("198.18.99.2/24")}, "vnetd:cb:0"});
  bad.default_routes = {*IpAddress::parse("198.18.98.1")};
  auto failed = (*inside)->configureJailSide(bad);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message().rfind("add address 198.18.99.2/24 to " + b + " ", 0), 0u)
      << failed.error().message();
  routes = (*inside)->defaultRoutes();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  ASSERT_TRUE((*routes)[0].gateway);
  EXPECT_EQ((*routes)[0].gateway->toString(), "198.18.98.1");
}

// One neighbour dump answers for both families (AF_UNSPEC): ARP and NDP entries alike.
TEST_F(NetStackTest, NeighboursOfBothFamiliesInOneDump) {
  std::string br = net_.bridgeName("nbb");
  ASSERT_TRUE(host_->createBridge(br, std::nullopt));
  ASSERT_TRUE(host_->setUp(br, true));
  auto bridge = get(br);
  ASSERT_TRUE(bridge);
  for (auto args : {std::vector<std::string>{"ip", "neigh", "add", "198.18.98.7", "lladdr", "02:00:00:00:98:07",
                                             "nud", "permanent", "dev", br},
                    std::vector<std::string>{"ip", "-6", "neigh", "add", "2001:db8:98::7", "lladdr",
                                             "02:00:00:00:98:08", "nud", "permanent", "dev", br}}) {
    auto r = vnetd::testing::run(args);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto n = host_->neighbours(bridge->index);
  ASSERT_TRUE(n) << n.error().message();
  std::set<std::string> seen;
  for (const auto& e : *n) {
    EXPECT_EQ(e.link_index, bridge->index);
    seen.insert(e.address.toString());
  }
  EXPECT_TRUE(seen.count("198.18.98.7")) << "ARP entry missing";
  EXPECT_TRUE(seen.count("2001:db8:98::7")) << "NDP entry missing";
}

}  // namespace
}  // namespace vnetd::platform
