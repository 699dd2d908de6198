#include "daemon/jail_facts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <system_error>

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

JailInside reading(int64_t jid, Clock::time_point at, const std::string& ifname) {
  JailInside in;
  in.jail_id = jid;
  in.read_at = at;
  platform::LinkInfo l;
  l.name = ifname;
  in.links = {l};
  return in;
}

TEST(JailFacts, TheLaterBegunReadingWinsWhicheverIsStoredLast) {
  JailFacts facts;
  auto t = Clock::now();
  facts.learn("web", reading(1, t, "after-created"));
  facts.learn("web", reading(1, t - 1s, "began-before-created"));  // a slow refresh finishing late
  ASSERT_EQ(facts.snapshot().count("web"), 1u);
  EXPECT_EQ(facts.snapshot().at("web")->links[0].name, "after-created");
  facts.learn("web", reading(2, t + 1s, "restarted"));
  EXPECT_EQ(facts.snapshot().at("web")->jail_id, 2);
}

TEST(JailFacts, ForgetAndRetainOnlyTheRecorded) {
  JailFacts facts;
  auto t = Clock::now();
  facts.learn("a", reading(1, t, "x"));
  facts.learn("b", reading(2, t, "x"));
  facts.learn("c", reading(3, t, "x"));
  facts.forget("a");
  facts.retainOnly({"b"});
  auto s = facts.snapshot();
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.count("b"));
}

// Opens nothing real: a stack that fails, counting the attempts.
class CountingJails final : public platform::Jails {
 public:
  std::atomic<int> opened{0};
  Result<std::vector<platform::JailInfo>> list() override { return std::vector<platform::JailInfo>{}; }
  Result<std::optional<platform::JailInfo>> find(const std::string& name) override {
    return std::optional<platform::JailInfo>(platform::JailInfo{name, 7, true});
  }
  Result<std::unique_ptr<platform::NetStack>> openStack(const platform::JailInfo&) override {
    ++opened;
    return plainError("gone");
  }
};

TEST(JailFactsRefresher, OnePassPerGapHoweverOftenAsked) {
  JailFacts facts;
  auto jails = std::make_unique<CountingJails>();
  CountingJails* view = jails.get();
  JailFactsRefresher refresher(facts, std::move(jails), 1h);
  std::vector<platform::JailInfo> two = {{"a", 1, true}, {"b", 2, true}};
  EXPECT_FALSE(refresher.request({})) << "nothing to read";
  ASSERT_TRUE(refresher.request(two));
  for (auto until = Clock::now() + 10s; refresher.passes() == 0 && Clock::now() < until;) std::this_thread::yield();
  ASSERT_EQ(refresher.passes(), 1u);
  EXPECT_EQ(view->opened, 2);
  EXPECT_FALSE(refresher.request(two)) << "the gap since the last pass has not passed";
  EXPECT_FALSE(refresher.busy());
  EXPECT_TRUE(facts.snapshot().empty()) << "unreadable jails teach nothing";

  // What an event says changed is read at once, gap or not.
  refresher.refreshJail("a");
  for (auto until = Clock::now() + 10s; view->opened < 3 && Clock::now() < until;) std::this_thread::yield();
  EXPECT_EQ(view->opened, 3);
}

// Entering a jail throws for "a" (Linux: std::thread's EAGAIN) and fails for "b": the
// refresher's thread survives — the pass ends, and later requests are still served.
class ThrowingJails final : public platform::Jails {
 public:
  std::atomic<int> opened{0};
  Result<std::vector<platform::JailInfo>> list() override { return std::vector<platform::JailInfo>{}; }
  Result<std::optional<platform::JailInfo>> find(const std::string& name) override {
    return std::optional<platform::JailInfo>(platform::JailInfo{name, 7, true});
  }
  Result<std::unique_ptr<platform::NetStack>> openStack(const platform::JailInfo& j) override {
    ++opened;
    if (j.name == "a") throw std::system_error(EAGAIN, std::generic_category(), "thread");
    return plainError("gone");
  }
};

TEST(JailFactsRefresher, AThrowWhileEnteringAJailCostsThatReadingOnly) {
  JailFacts facts;
  auto jails = std::make_unique<ThrowingJails>();
  ThrowingJails* view = jails.get();
  JailFactsRefresher refresher(facts, std::move(jails), 0s);
  ASSERT_TRUE(refresher.request({{"a", 1, true}, {"b", 2, true}}));
  for (auto until = Clock::now() + 10s; refresher.passes() == 0 && Clock::now() < until;) std::this_thread::yield();
  ASSERT_EQ(refresher.passes(), 1u) << "the pass ended although reading 'a' threw";
  EXPECT_EQ(view->opened, 2) << "'b' was read after 'a' threw";
  refresher.refreshJail("a");
  refresher.refreshJail("b");
  for (auto until = Clock::now() + 10s; view->opened < 4 && Clock::now() < until;) std::this_thread::yield();
  EXPECT_EQ(view->opened, 4) << "the thread still serves requests";
}

}  // namespace
}  // namespace vnetd::daemon
