// libnftables in-process (platform/linux/nftables.h) and the NAT built on it (nft_nat.h)
// against the real kernel, in a PRIVATE network namespace: the process unshares its network
// namespace before the first test (single-threaded then), so the host's ruleset is never read
// or changed and names need no per-run prefix. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for
// unshare): skipped otherwise.
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "platform/host.h"
#include "platform/linux/nft_nat.h"
#include "platform/linux/nftables.h"

namespace vnetd::platform::lnx {
namespace {

Cidr cidr(const char* text) { return *Cidr::parse(text); }

// Someone else's table, which no vnetd call may change.
constexpr const char* kForeignTable =
    "add table inet admin\n"
    "add chain inet admin forward { type filter hook forward priority 0; policy accept; }\n"
    "add rule inet admin forward ip saddr 198.18.85.0/24 counter accept\n"
    "add chain inet admin nat { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add rule inet admin nat oifname \"eth0\" masquerade comment \"vnetd:bridge:br-a\"\n";

class NftablesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (a private network namespace and CAP_NET_ADMIN)";
      return;
    }
    if (::unshare(CLONE_NEWNET) != 0) skip_ = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    // Each test starts from an empty ruleset of this private namespace.
    auto flushed = nftRun("flush ruleset", "flush the test namespace's ruleset");
    ASSERT_TRUE(flushed) << flushed.error().message();
  }

  static std::string listed(const std::string& command) {
    auto json = nftListJson(command, "test listing");
    EXPECT_TRUE(json) << json.error().message();
    return json ? *json : std::string();
  }
  static NftNatListing vnetdTable() {
    auto listing = listNftNat();
    EXPECT_TRUE(listing) << listing.error().message();
    return listing ? *listing : NftNatListing{};
  }

  static inline std::string skip_;
};

TEST_F(NftablesTest, TwoBridgesLoadAndOneIsRemovedExactly) {
  ASSERT_TRUE(nftRun(kForeignTable, "foreign table"));
  const std::string foreign_before = listed("list table inet admin");
  ASSERT_NE(foreign_before.find("\"admin\""), std::string::npos) << foreign_before;

  auto a = loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24"), cidr("198.18.87.7/32")});
  ASSERT_TRUE(a) << a.error().message();
  auto b = loadNftNat("br-b", "eth1", {cidr("198.18.86.1/24")});
  ASSERT_TRUE(b) << b.error().message();
  // Someone's comment-less rule in vnetd's own chain.
  ASSERT_TRUE(nftRun("add rule ip vnetd postrouting ip saddr 10.0.0.0/8 counter", "foreign rule"));

  NftNatListing before = vnetdTable();
  EXPECT_TRUE(before.chain_as_declared);
  EXPECT_EQ(before.foreign_rules, 1u);
  ASSERT_EQ(before.bridges.size(), 2u);
  EXPECT_EQ(before.bridges.at("br-a").nat, (BridgeNat{"eth0", {cidr("198.18.85.0/24"), cidr("198.18.87.7/32")}, true}));
  EXPECT_EQ(before.bridges.at("br-b").nat, (BridgeNat{"eth1", {cidr("198.18.86.0/24")}, true}));
  EXPECT_EQ(*nftNatOf("br-b"), before.bridges.at("br-b").nat);

  auto removed = removeNftNat("br-a");
  ASSERT_TRUE(removed) << removed.error().message();
  NftNatListing after = vnetdTable();
  EXPECT_EQ(after.bridges.size(), 1u);
  EXPECT_FALSE(after.bridges.count("br-a"));
  EXPECT_FALSE(*nftNatOf("br-a"));
  // br-b's rules are the same rules (same handles), not re-created; the foreign rule stays.
  EXPECT_EQ(after.bridges.at("br-b").handles, before.bridges.at("br-b").handles);
  EXPECT_EQ(after.bridges.at("br-b").nat, before.bridges.at("br-b").nat);
  EXPECT_EQ(after.foreign_rules, 1u);

  // Removing what is not there changes nothing and succeeds.
  const std::string ruleset = listed("list ruleset");
  EXPECT_TRUE(removeNftNat("br-a"));
  EXPECT_TRUE(removeNftNat("never-loaded"));
  EXPECT_EQ(listed("list ruleset"), ruleset);

  // Reloading br-b replaces its rule (new handle) and leaves the rest.
  ASSERT_TRUE(loadNftNat("br-b", "eth2", {cidr("198.18.86.1/24")}));
  NftNatListing reloaded = vnetdTable();
  EXPECT_EQ(reloaded.bridges.at("br-b").nat, (BridgeNat{"eth2", {cidr("198.18.86.0/24")}, true}));
  EXPECT_EQ(reloaded.bridges.at("br-b").handles.size(), 1u);
  EXPECT_NE(reloaded.bridges.at("br-b").handles, before.bridges.at("br-b").handles);
  EXPECT_EQ(reloaded.foreign_rules, 1u);

  EXPECT_EQ(listed("list table inet admin"), foreign_before) << "another table is never changed";
}

TEST_F(NftablesTest, AMissingTableIsEnoentOnOneLine) {
  auto json = nftListJson("list table ip vnetd", "list vnetd's table");
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().code, ENOENT);
  EXPECT_EQ(json.error().message(), "list vnetd's table: Error: No such file or directory");
  // Which the NAT layer reads as "nothing loaded".
  auto nat = nftNatOf("br-a");
  ASSERT_TRUE(nat) << nat.error().message();
  EXPECT_FALSE(*nat);
  auto listing = listNftNat();
  ASSERT_TRUE(listing);
  EXPECT_FALSE(listing->chain_listed);
}

TEST_F(NftablesTest, ErrorsAreOneLineAndATransactionIsAllOrNothing) {
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  const std::string ruleset = listed("list ruleset");
  auto bad = nftRun("add table ip other\nadd rule ip vnetd postrouting foo bar\n", "bad syntax");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EIO);
  EXPECT_EQ(bad.error().context, "bad syntax: Error: No symbol type information");
  auto gone = nftRun("add table ip other\ndelete rule ip vnetd postrouting handle 999999\n", "delete a missing rule");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ENOENT);
  EXPECT_EQ(gone.error().message(), "delete a missing rule: Error: Could not process rule: No such file or directory");
  EXPECT_EQ(listed("list ruleset"), ruleset) << "the failed transactions' `add table ip other` was not applied";
}

TEST_F(NftablesTest, ARuleDeletedBetweenListingAndTransactionIsListedAgain) {
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  ASSERT_TRUE(loadNftNat("br-b", "eth1", {cidr("198.18.86.1/24")}));
  // The first listing is taken, then "someone" deletes br-a's rule before the transaction.
  int listings = 0;
  NftNatLister racing = [&]() -> Result<NftNatListing> {
    auto listing = listNftNat();
    if (++listings == 1 && listing) {
      for (uint64_t h : listing->bridges.at("br-a").handles)
        EXPECT_TRUE(nftRun("delete rule ip vnetd postrouting handle " + std::to_string(h), "someone"));
    }
    return listing;
  };
  auto loaded = loadNftNat("br-a", "eth9", {cidr("198.18.85.1/24")}, racing);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(listings, 2) << "ENOENT made it list again, once";
  NftNatListing now = vnetdTable();
  EXPECT_EQ(now.bridges.at("br-a").nat, (BridgeNat{"eth9", {cidr("198.18.85.0/24")}, true}));
  EXPECT_EQ(now.bridges.at("br-a").handles.size(), 1u);
  EXPECT_EQ(now.bridges.at("br-b").nat, (BridgeNat{"eth1", {cidr("198.18.86.0/24")}, true}));

  // The same for a removal.
  listings = 0;
  NftNatLister racing_b = [&]() -> Result<NftNatListing> {
    auto listing = listNftNat();
    if (++listings == 1 && listing) {
      EXPECT_TRUE(nftRun("delete rule ip vnetd postrouting handle " +
                             std::to_string(listing->bridges.at("br-b").handles.at(0)),
                         "someone"));
    }
    return listing;
  };
  ASSERT_TRUE(removeNftNat("br-b", racing_b));
  EXPECT_EQ(listings, 2);
  EXPECT_FALSE(vnetdTable().bridges.count("br-b"));

  // A second ENOENT is reported, not retried forever.
  listings = 0;
  NftNatLister always_racing = [&]() -> Result<NftNatListing> {
    auto listing = listNftNat();
    ++listings;
    if (listing) {
      NftNatListing stale = *listing;
      stale.bridges["br-a"].handles = {999999};  // a rule that is never there
      return stale;
    }
    return listing;
  };
  auto failed = removeNftNat("br-a", always_racing);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ENOENT);
  EXPECT_EQ(failed.error().message().find('\n'), std::string::npos);
  EXPECT_EQ(listings, 2);
}

TEST_F(NftablesTest, TheIssue15ChainIsDeletedByTheNextLoadOrRemove) {
  ASSERT_TRUE(loadNftNat("br-b", "eth1", {cidr("198.18.86.1/24")}));
  const std::string old_layout =
      "add chain ip vnetd nat_62722d61 { type nat hook postrouting priority srcnat; policy accept; }\n"
      "add rule ip vnetd nat_62722d61 ip saddr 198.18.85.0/24 oifname \"eth0\" masquerade comment "
      "\"vnetd:bridge:br-a\"\n";
  ASSERT_EQ(*nftLegacyNatChain("br-a"), "nat_62722d61");
  ASSERT_TRUE(nftRun(old_layout, "issue 15 layout"));
  auto nat = nftNatOf("br-a");
  ASSERT_TRUE(nat && *nat);
  EXPECT_FALSE((*nat)->recognised) << "the old chain makes the reconciler load again";

  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  NftNatListing now = vnetdTable();
  EXPECT_FALSE(now.bridges.at("br-a").legacy_chain);
  EXPECT_EQ(now.bridges.at("br-a").nat, (BridgeNat{"eth0", {cidr("198.18.85.0/24")}, true}));
  EXPECT_EQ(listed("list ruleset").find("nat_62722d61"), std::string::npos);

  ASSERT_TRUE(nftRun(old_layout, "issue 15 layout again"));
  ASSERT_TRUE(removeNftNat("br-a"));
  now = vnetdTable();
  EXPECT_FALSE(now.bridges.count("br-a"));
  EXPECT_EQ(now.bridges.at("br-b").nat, (BridgeNat{"eth1", {cidr("198.18.86.0/24")}, true}));
  EXPECT_EQ(listed("list ruleset").find("nat_62722d61"), std::string::npos);
}

TEST_F(NftablesTest, AChainWhosePolicyWasChangedIsPutBackByTheNextLoad) {
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  ASSERT_TRUE(nftRun("add chain ip vnetd postrouting { type nat hook postrouting priority srcnat; policy drop; }",
                     "policy drop by hand"));
  auto nat = nftNatOf("br-a");
  ASSERT_TRUE(nat && *nat);
  EXPECT_FALSE((*nat)->recognised);
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  NftNatListing now = vnetdTable();
  EXPECT_TRUE(now.chain_as_declared);
  EXPECT_TRUE(now.bridges.at("br-a").nat.recognised);
}

TEST_F(NftablesTest, EachCallWorksInTheCallingThreadsNamespace) {
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  // A thread in a namespace of its own (unshare(CLONE_NEWNET) moves only the calling thread):
  // it sees an empty ruleset and its load lands there, not in this thread's namespace.
  std::optional<BridgeNat> seen_a, seen_z;
  std::string failure;
  std::thread other([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      failure = std::string("unshare: ") + std::strerror(errno);
      return;
    }
    auto a = nftNatOf("br-a");
    auto loaded = loadNftNat("br-z", "eth5", {cidr("198.18.95.1/24")});
    auto z = nftNatOf("br-z");
    if (!a || !loaded || !z) {
      failure = "libnftables failed in the other namespace";
      return;
    }
    seen_a = *a;
    seen_z = *z;
  });
  other.join();
  ASSERT_TRUE(failure.empty()) << failure;
  EXPECT_FALSE(seen_a) << "br-a is not in the other thread's namespace";
  ASSERT_TRUE(seen_z);
  EXPECT_EQ(seen_z->egress, "eth5");
  NftNatListing here = vnetdTable();
  EXPECT_FALSE(here.bridges.count("br-z"));
  EXPECT_TRUE(here.bridges.count("br-a"));
}

// Doctor's NAT facts (host_support.cc) read the same rules through the same wrapper.
TEST_F(NftablesTest, DoctorSeesTheBridgesRule) {
  auto facts = readBridgeNat("br-a", cidr("198.18.85.1/24"), "eth0");
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->state, NatState::Absent);
  EXPECT_EQ(facts->detail,
            "no NAT rule for bridge br-a in nftables table ip vnetd (a running vnetd loads it again within "
            "reconcile_interval_seconds; start it)");
  ASSERT_TRUE(loadNftNat("br-a", "eth0", {cidr("198.18.85.1/24")}));
  facts = readBridgeNat("br-a", cidr("198.18.85.1/24"), "eth0");
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->state, NatState::Present) << facts->detail;
  facts = readBridgeNat("br-a", cidr("198.18.85.1/24"), "eth1");
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->state, NatState::Absent) << "another egress is not what the configuration asks";
}

// Without CAP_NET_ADMIN (root turned nobody, in a child process): EPERM, on one line.
TEST_F(NftablesTest, NotPermittedIsEpermOnOneLine) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(2);
    auto json = nftListJson("list table ip vnetd", "list vnetd's table");
    std::string report = json ? std::string("succeeded") : std::to_string(json.error().code) + " " + json.error().message();
    (void)!::write(pipe_fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not drop root";
  EXPECT_EQ(report, std::to_string(EPERM) +
                        " list vnetd's table: netlink: Error: cache initialization failed: Operation not permitted");
}

// libnftables waits with select(): a socket numbered FD_SETSIZE or more would overflow its
// fd_set, so the wrapper refuses before libnftables opens one.
TEST_F(NftablesTest, NoCallWhenItsSocketWouldBeBeyondFdSetsize) {
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  struct rlimit more = old;
  if (more.rlim_cur < FD_SETSIZE + 16) more.rlim_cur = FD_SETSIZE + 16;
  if (more.rlim_max < more.rlim_cur) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below FD_SETSIZE";
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &more), 0);
  std::vector<int> held;
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    if (fd >= FD_SETSIZE) {
      ::close(fd);  // the lowest free number is now >= FD_SETSIZE (fd was it)
      break;
    }
    held.push_back(fd);
  }
  auto json = nftListJson("list ruleset", "list the ruleset");
  for (int fd : held) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().code, EMFILE);
  EXPECT_EQ(json.error().message().find('\n'), std::string::npos);
  EXPECT_TRUE(nftListJson("list ruleset", "list the ruleset")) << "fine again with fewer descriptors";
}

}  // namespace
}  // namespace vnetd::platform::lnx
