// The Linux NetStack and Jails backends, operation by operation, on real kernel objects.
#include <gtest/gtest.h>
#include <sys/stat.h>

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

  ASSERT_TRUE(host_->removeBridgeMember(br, a));
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
  auto list = jails_->list();
  ASSERT_TRUE(list);
  bool listed = false;
  for (const auto& info : *list) listed |= info.name == j && info.id == (*found)->id;
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

}  // namespace
}  // namespace vnetd::platform
