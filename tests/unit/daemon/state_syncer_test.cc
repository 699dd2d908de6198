#include "daemon/state_syncer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/log.h"
#include "core/state_store.h"

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A sync seam: counts calls, can be held shut (a slow fsync the test controls), and can
// fail on demand. The test waits on its condition variable: no sleeps.
class FakeSync {
 public:
  Result<void> operator()() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return permits_ != 0; });
    if (permits_ > 0) --permits_;
    ++calls_;
    call_times_.push_back(Clock::now());
    Result<void> out = success();
    if (failures_left_ > 0) {
      --failures_left_;
      out = Error{EIO, "fsync /var/db/vnetd/state.json"};
    }
    changed_.notify_all();
    return out;
  }
  void hold() { set([&] { permits_ = 0; }); }
  void release() { set([&] { permits_ = -1; }); }
  void allow(int calls) { set([&] { permits_ += calls; }); }  // after hold(): lets `calls` calls through
  void failNext(int n) { set([&] { failures_left_ = n; }); }
  // Waits until `done` holds (under the lock); false after 30 s (the test fails, not hangs).
  bool waitFor(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 30s, done);
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return entered_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  Clock::time_point firstCall() {
    std::lock_guard<std::mutex> lock(mutex_);
    return call_times_.empty() ? Clock::time_point{} : call_times_.front();
  }

  std::mutex mutex_;
  int entered_ = 0;  // calls that began (a held one too)
  int calls_ = 0;    // calls that returned

 private:
  void set(const std::function<void()>& change) {
    std::lock_guard<std::mutex> lock(mutex_);
    change();
    changed_.notify_all();
  }
  std::condition_variable changed_;
  int permits_ = -1;  // calls that may pass; -1: all
  int failures_left_ = 0;
  std::vector<Clock::time_point> call_times_;
};

StateSyncer::SyncFn seam(FakeSync& fake) {
  return [&fake] { return fake(); };
}

// Counter names → counts, as the daemon's Counters would get them.
struct Counted {
  std::mutex mutex;
  std::map<std::string, int> n;
  StateSyncer::Count fn() {
    return [this](const char* name) {
      std::lock_guard<std::mutex> lock(mutex);
      ++n[name];
    };
  }
  int operator[](const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex);
    return n[name];
  }
};

TEST(StateSyncer, SavesWithinTheWindowShareOneSync) {
  FakeSync fake;
  Counted counted;
  constexpr auto kDelay = 1000ms;  // far more than 50 saved() calls take
  StateSyncer syncer(seam(fake), kDelay, counted.fn());
  const auto first_save = Clock::now();
  for (int i = 0; i < 50; ++i) syncer.saved();
  ASSERT_TRUE(fake.waitFor([&] { return fake.calls_ >= 1; }));
  // The deadline, not the first save, set it off...
  EXPECT_GE(fake.firstCall() - first_save, kDelay);
  syncer.stop();  // ...and nothing was left for the stop to sync.
  EXPECT_EQ(fake.calls(), 1);
  auto stats = syncer.stats();
  EXPECT_EQ(stats.saves, 50u);
  EXPECT_EQ(stats.syncs, 1u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(counted["state_syncs"], 1);
  EXPECT_EQ(counted["state_sync_errors"], 0);
}

// The preparation of the next save runs right after each save, on the syncer's thread —
// not at the sync deadline (here 30 s away): jails start back to back.
TEST(StateSyncer, PrepareRunsSoonAfterEachSaveNotAtTheDeadline) {
  FakeSync fake;
  std::mutex mutex;
  std::condition_variable called;
  int prepares = 0;
  StateSyncer syncer(seam(fake), 30s, {}, [&] {
    std::lock_guard<std::mutex> lock(mutex);
    ++prepares;
    called.notify_all();
  });
  for (int round = 1; round <= 3; ++round) {
    syncer.saved();
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(called.wait_for(lock, 10s, [&] { return prepares >= round; })) << round;
  }
  EXPECT_EQ(fake.entered(), 0) << "the sync ran before its deadline";
  syncer.stop();  // the stop syncs what is pending
  EXPECT_EQ(fake.calls(), 1);
}

TEST(StateSyncer, NothingSavedNothingSynced) {
  FakeSync fake;
  {
    StateSyncer syncer(seam(fake), 0ms);
    syncer.stop();
  }
  EXPECT_EQ(fake.entered(), 0);
}

TEST(StateSyncer, ACleanStopSyncsWhatIsPendingAtOnce) {
  FakeSync fake;
  StateSyncer syncer(seam(fake), std::chrono::hours(1));  // the deadline never comes
  syncer.saved();
  syncer.saved();
  syncer.saved();
  EXPECT_EQ(syncer.stats().pending, 3u);
  syncer.stop();
  EXPECT_EQ(fake.calls(), 1);
  EXPECT_EQ(syncer.stats().pending, 0u);
  syncer.saved();  // after the stop: noted, never synced
  syncer.stop();
  EXPECT_EQ(fake.calls(), 1);
}

TEST(StateSyncer, ASaveDuringASyncGetsASyncOfItsOwn) {
  // The running sync may have flushed the file before this save renamed a new one in:
  // the save stays pending until a sync that started after it.
  FakeSync fake;
  fake.hold();
  StateSyncer syncer(seam(fake), 0ms);
  syncer.saved();
  ASSERT_TRUE(fake.waitFor([&] { return fake.entered_ == 1; }));
  syncer.saved();  // while the first sync is under way
  fake.allow(1);   // the first sync ends; the second starts and is held
  ASSERT_TRUE(fake.waitFor([&] { return fake.entered_ == 2; })) << "the second save was never synced";
  EXPECT_EQ(syncer.stats().syncs, 1u);
  EXPECT_EQ(syncer.stats().pending, 1u) << "the first sync was taken to cover a save it may have missed";
  fake.release();
  ASSERT_TRUE(fake.waitFor([&] { return fake.calls_ == 2; }));
  syncer.stop();
  EXPECT_EQ(fake.calls(), 2);
  EXPECT_EQ(syncer.stats().pending, 0u);
}

TEST(StateSyncer, SavedNeverWaitsForARunningSync) {
  // The hook path: saved() returns while a sync (a slow fsync, held here) is under way.
  FakeSync fake;
  fake.hold();
  StateSyncer syncer(seam(fake), 0ms);
  syncer.saved();
  ASSERT_TRUE(fake.waitFor([&] { return fake.entered_ == 1; }));
  for (int i = 0; i < 100; ++i) syncer.saved();  // would block here if saved() waited
  EXPECT_EQ(fake.calls(), 0);                    // the first sync is still held
  EXPECT_EQ(syncer.stats().saves, 101u);
  fake.release();
  syncer.stop();
  EXPECT_EQ(syncer.stats().pending, 0u);
}

// Captures the logger's stderr into a file for one test.
class StderrCapture {
 public:
  StderrCapture() {
    char tmpl[] = "/tmp/vnetd-syncer-log-XXXXXX";
    int fd = ::mkstemp(tmpl);
    path_ = tmpl;
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() {
    restore();
    ::unlink(path_.c_str());
  }
  std::string text() {
    restore();
    auto r = readSmallFile(path_, 1 << 20);
    return r ? *r : std::string();
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::string path_;
  int saved_ = -1;
};

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(StateSyncer, AFailingSyncIsCountedEveryTimeLoggedOnceAndRetried) {
  log::init(log::Sink::Stderr, log::Level::Info, "vnetd");
  StderrCapture capture;
  FakeSync fake;
  Counted counted;
  fake.failNext(3);
  StateSyncer syncer(seam(fake), 1ms, counted.fn());
  syncer.saved();
  // Three failures, then the retry that works: nobody saved again in between.
  ASSERT_TRUE(fake.waitFor([&] { return fake.calls_ == 4; }));
  syncer.stop();
  auto stats = syncer.stats();
  EXPECT_EQ(stats.sync_errors, 3u);
  EXPECT_EQ(stats.syncs, 1u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(counted["state_sync_errors"], 3);
  EXPECT_EQ(counted["state_syncs"], 1);
  const std::string log = capture.text();
  EXPECT_EQ(count(log, "fsync /var/db/vnetd/state.json"), 1u) << log;
  EXPECT_EQ(count(log, "may not survive a power loss"), 1u) << log;
  EXPECT_EQ(count(log, "syncs to disk again"), 1u) << log;
}


// ------------------------------------------------- with the real StateStore (fsync seam)

// A fresh state directory under /tmp, removed after.
struct TempStateDir {
  TempStateDir() {
    char pattern[] = "/tmp/vnetd-syncer-test-XXXXXX";
    path = ::mkdtemp(pattern) ? pattern : "";
  }
  ~TempStateDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

State someState(int jails) {
  State s;
  for (int i = 0; i < jails; ++i) {
    JailRecord j;
    j.name = "j" + std::to_string(i);
    j.phase = "prestart";
    s.jails.emplace(j.name, j);
  }
  return s;
}

TEST(StateSyncer, WriteBehindSavesDoNoFsyncAndShareOneFileAndOneDirectoryFsync) {
  TempStateDir tmp;
  ASSERT_FALSE(tmp.path.empty());
  auto store = StateStore::open(tmp.path + "/state");
  ASSERT_TRUE(store);
  std::mutex mutex;
  std::condition_variable synced;
  std::vector<std::string> fsynced;  // what each fsync was of, from /proc/self/fd
  store->setFsync([&](int fd) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    std::lock_guard<std::mutex> lock(mutex);
    fsynced.push_back(target.string());
    synced.notify_all();
    return ::fsync(fd);
  });
  StateSyncer syncer([s = *store] { return s.sync(); }, 1000ms);
  store->setWriteBehind([&syncer] { syncer.saved(); });
  {
    auto lock = store->lock();
    ASSERT_TRUE(lock);
    State s = someState(3);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->save(*lock, s).ok());
    std::lock_guard<std::mutex> guard(mutex);
    EXPECT_TRUE(fsynced.empty()) << "a write-behind save fsync'd " << fsynced.front();
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(synced.wait_for(lock, 30s, [&] { return fsynced.size() >= 2; }));
  }
  syncer.stop();
  std::lock_guard<std::mutex> guard(mutex);
  // The file that is state.json, then its directory: once for the 20 saves.
  ASSERT_EQ(fsynced.size(), 2u);
  EXPECT_EQ(fsynced[0], store->statePath());
  EXPECT_EQ(fsynced[1], store->dir());
}

TEST(StateSyncer, AFailingFsyncOfTheRealStoreIsReportedWithThePath) {
  log::init(log::Sink::Stderr, log::Level::Info, "vnetd");
  StderrCapture capture;
  TempStateDir tmp;
  auto store = StateStore::open(tmp.path + "/state");
  ASSERT_TRUE(store);
  std::atomic<int> calls{0};
  store->setFsync([&](int) {
    ++calls;
    errno = EIO;
    return -1;
  });
  Counted counted;
  {
    StateSyncer syncer([s = *store] { return s.sync(); }, std::chrono::hours(1), counted.fn());
    store->setWriteBehind([&syncer] { syncer.saved(); });
    auto lock = store->lock();
    ASSERT_TRUE(lock);
    State s = someState(1);
    ASSERT_TRUE(store->save(*lock, s).ok());  // the save itself succeeds: it is in place
    syncer.stop();                            // the stop's sync fails
    EXPECT_EQ(syncer.stats().sync_errors, 1u);
    EXPECT_EQ(syncer.stats().pending, 1u);
    store->setWriteBehind({});
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(counted["state_sync_errors"], 1);
  const std::string log = capture.text();
  EXPECT_NE(log.find("fsync " + store->statePath() + ": Input/output error"), std::string::npos) << log;
}

}  // namespace
}  // namespace vnetd::daemon
