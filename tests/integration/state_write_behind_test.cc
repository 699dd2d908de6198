// The daemon's state write-behind (core/state_store.h "Durability contract",
// daemon/state_syncer.h) on real namespaces, veths and bridges:
//  - a hook through the daemon's Mutator is answered while the fsync of its state is
//    held shut (a slow fsync injected through StateStore::setFsync): the reply waits for
//    the kernel work and the rename, never for an fsync;
//  - SIGKILL right after a hook's reply leaves a complete state that loads and holds the
//    hook's record (atomic: the rename happened before the reply);
//  - a clean stop (SIGTERM) syncs what the last hook saved before the daemon exits.
// Test network rules (DESIGN.md): this run's prefixed names, 198.18.0.0/15 addresses,
// clean-up by TestNet's sweep.
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>

#include "core/config.h"
#include "core/control_protocol.h"
#include "core/file_util.h"
#include "daemon/dispatcher.h"
#include "daemon/metrics.h"
#include "daemon/mutator.h"
#include "daemon/state_syncer.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An fsync that blocks until released (a disk that takes as long as the test wants), then
// does the real fsync. Counts who entered and who got out.
class HeldFsync {
 public:
  int operator()(int fd) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    lock.unlock();
    const int rc = ::fsync(fd);
    const int saved_errno = errno;
    lock.lock();
    ++returned_;
    changed_.notify_all();
    errno = saved_errno;
    return rc;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int returned() {
    std::lock_guard<std::mutex> lock(mutex_);
    return returned_;
  }
  bool waitReturned(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 30s, [&] { return returned_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int entered_ = 0;
  int returned_ = 0;
};

class StateWriteBehindTest : public DaemonFixture {
 protected:
  // The daemon's log at debug level (the syncer's lines are debug).
  void debugLogging() {
    auto text = readSmallFile(configPath(), 1 << 20);
    ASSERT_TRUE(text);
    std::string t = *text;
    const std::string info = "log_level = \"info\"";
    auto at = t.find(info);
    ASSERT_NE(at, std::string::npos);
    t.replace(at, info.size(), "log_level = \"debug\"");
    dir_.write("vnetd.toml", t);
  }

  std::string hookLine(HookPhase phase, const std::string& jail) {
    control::Request r;
    r.op = control::Op::Hook;
    r.phase = phase;
    r.jail = jail;
    return control::encodeRequest(r);
  }
};

TEST_F(StateWriteBehindTest, HookThroughTheMutatorIsAnsweredWhileTheStateFsyncIsHeld) {
  const std::string br = net_.bridgeName("wm");
  writeConfig(bridgeWithDefaults(br, "198.18.131.1/24"));
  const std::string jail = net_.jailName("wm");
  net_.addNamespace(jail);
  auto loaded = loadConfigFile(configPath());
  ASSERT_TRUE(loaded.ok());
  auto config = std::make_shared<const Config>(std::move(*loaded.config));

  auto store = StateStore::open(config->daemon.state_dir);
  ASSERT_TRUE(store);
  HeldFsync fsync;
  store->setFsync([&fsync](int fd) { return fsync(fd); });
  // No delay: the syncer starts its (held) sync the moment the hook saves.
  daemon::StateSyncer syncer([s = *store] { return s.sync(); }, 0ms);
  store->setWriteBehind([&syncer] { syncer.saved(); });
  struct ReleaseAtExit {  // whatever fails below, the syncer's thread can end
    HeldFsync& f;
    ~ReleaseAtExit() { f.release(); }
  } release_at_exit{fsync};

  auto dispatcher = daemon::Dispatcher::create();
  ASSERT_TRUE(dispatcher);
  daemon::Counters counters;
  daemon::DaemonMetrics metrics;
  auto mutator = daemon::Mutator::create(**dispatcher, config, hostId(), *store, counters, metrics,
                                         [](std::set<std::string>) {}, [] {});
  ASSERT_TRUE(mutator) << mutator.error().message();

  std::string reply;
  int fsyncs_returned_at_reply = -1;
  const auto asked = Clock::now();
  Clock::duration took{};
  control::Request request;
  request.op = control::Op::Hook;
  request.phase = HookPhase::Prestart;
  request.jail = jail;
  (*mutator)->hook(request, daemon::Mutator::HookClient{-1, [] { return false; }}, [&](std::string line) {
    took = Clock::now() - asked;
    reply = std::move(line);
    fsyncs_returned_at_reply = fsync.returned();
    (*dispatcher)->exit();
  });
  // A hook that waited for the held fsync would never answer: give up after 30 s.
  auto watchdog = (*dispatcher)->onTimer(30s, false, [&] { (*dispatcher)->exit(); });
  ASSERT_TRUE(watchdog);
  ASSERT_TRUE((*dispatcher)->run());
  ASSERT_FALSE(reply.empty()) << "no reply within 30 s while the state fsync was held: the hook waits for it";
  auto outcome = control::decodeHookReply(reply);
  ASSERT_TRUE(outcome) << reply;
  EXPECT_EQ(fsyncs_returned_at_reply, 0) << "an fsync completed before the reply";
  // What the reply promises is in place already: the record, in a complete file.
  auto peeked = store->peek();
  ASSERT_TRUE(peeked) << peeked.error().message();
  EXPECT_TRUE(peeked->jails.count(jail));
  std::printf("[ reply    ] prestart answered in %.2f ms with the state fsync still held\n",
              std::chrono::duration<double, std::milli>(took).count());

  // Released, the held sync completes (file, then directory) and nothing stays pending.
  fsync.release();
  ASSERT_TRUE(fsync.waitReturned(2));
  mutator->reset();
  syncer.stop();
  EXPECT_EQ(syncer.stats().pending, 0u);
  EXPECT_GE(syncer.stats().syncs, 1u);
}

TEST_F(StateWriteBehindTest, SigkillRightAfterAHookReplyLeavesACompleteStateWithItsRecord) {
  const std::string br = net_.bridgeName("wk");
  writeConfig(bridgeWithDefaults(br, "198.18.132.1/24"));
  std::vector<std::string> jails;
  for (int round = 0; round < 3; ++round) {
    jails.push_back(net_.jailName("wk"));
    net_.addNamespace(jails.back());
    startDaemon();
    ASSERT_FALSE(HasFatalFailure());
    const std::string line = daemon_->request(hookLine(HookPhase::Prestart, jails.back()));
    ASSERT_TRUE(control::decodeHookReply(line)) << line;
    // Well inside the syncer's delay: nothing of this save has been fsync'd yet.
    EXPECT_EQ(daemon_->stop(SIGKILL), 128 + SIGKILL);
    State s = loadState();  // fails the test if the file is torn or unreadable
    for (const auto& j : jails) {
      ASSERT_TRUE(s.jails.count(j)) << "round " << round << ": " << j << " is not recorded";
      EXPECT_EQ(s.jails.at(j).phase, "prestart");
      EXPECT_EQ(s.jails.at(j).interfaces.size(), 1u);
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir_.file("state"))) {
      const std::string name = entry.path().filename().string();
      EXPECT_EQ(name.find("corrupt"), std::string::npos) << name;
    }
  }
}

TEST_F(StateWriteBehindTest, ACleanStopSyncsWhatTheLastHookSaved) {
  const std::string br = net_.bridgeName("ws");
  writeConfig(bridgeWithDefaults(br, "198.18.133.1/24"));
  debugLogging();
  ASSERT_FALSE(HasFatalFailure());
  // The stop must come before the syncer's own deadline (0.5 s after the save) for the
  // stop to be what syncs; on a machine too loaded for that, try again with a new jail.
  bool judged = false;
  for (int attempt = 0; attempt < 3 && !judged; ++attempt) {
    const std::string jail = net_.jailName("ws");
    net_.addNamespace(jail);
    startDaemon();
    ASSERT_FALSE(HasFatalFailure());
    const size_t from = daemon_->logSize();
    const std::string line = daemon_->request(hookLine(HookPhase::Prestart, jail));
    ASSERT_TRUE(control::decodeHookReply(line)) << line;
    ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
    const std::string log = daemon_->log().substr(from);
    if (log.find("state.json synced (") != std::string::npos) continue;  // the deadline came first
    judged = true;
    EXPECT_NE(log.find("state.json synced at stop"), std::string::npos) << log;
    // The stop's sync comes before the daemon says it stopped.
    EXPECT_LT(log.find("state.json synced at stop"), log.find("stopped; jail networking left in place")) << log;
  }
  EXPECT_TRUE(judged) << "the syncer's deadline came before the SIGTERM three times";
}

}  // namespace
}  // namespace vnetd
