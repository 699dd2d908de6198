#include "daemon/reloader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vnetd::daemon {
namespace {

class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("reloader_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "vnetd.toml").string();
    write("[daemon]\nstate_dir = \"/tmp/a\"\ncontrol_socket = \"/tmp/a.sock\"\nlog_level = \"info\"\n");
    auto loaded = loadConfigFile(path_);
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front().toString();
    running_ = *loaded.config;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_) << text; }

  std::filesystem::path dir_;
  std::string path_;
  Config running_;
};

TEST_F(ReloaderTest, RestartOnlyKeysKeepTheirRunningValuesOtherKeysChange) {
  write("[daemon]\nstate_dir = \"/tmp/b\"\ncontrol_socket = \"/tmp/b.sock\"\nlog_level = \"debug\"\n"
        "[metrics]\nlisten = \"127.0.0.1:0\"\n");
  Reloader r(path_);
  auto next = r.read(running_);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->daemon.state_dir, "/tmp/a");
  EXPECT_EQ(next->daemon.control_socket, "/tmp/a.sock");
  EXPECT_EQ(next->metrics.listen, running_.metrics.listen);
  EXPECT_EQ(next->daemon.log_level, log::Level::Debug) << "applied on reload";
  EXPECT_NE(next->digest, running_.digest) << "the new file's digest";
}

TEST_F(ReloaderTest, ChangesAreListedByTheirKeys) {
  Config fresh = running_;
  fresh.daemon.pidfile = "/tmp/other.pid";
  fresh.daemon.host_id = "clone";
  fresh.metrics.path = "/m";
  fresh.daemon.orphan_grace_seconds = 1;  // not restart-only
  auto changes = restartOnlyChanges(running_, fresh);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, "[daemon] pidfile");
  EXPECT_EQ(changes[0].after, "/tmp/other.pid");
  EXPECT_EQ(changes[1].key, "[daemon] host_id");
  EXPECT_EQ(changes[2].key, "[metrics] path");
  keepRestartOnly(running_, fresh);
  EXPECT_TRUE(restartOnlyChanges(running_, fresh).empty());
  EXPECT_EQ(fresh.daemon.orphan_grace_seconds, 1u);
}

TEST_F(ReloaderTest, AFileWithProblemsIsRefusedInOneLine) {
  write("[daemon]\nlog_level = \"loud\"\nbogus = 1\n");
  auto next = Reloader(path_).read(running_);
  ASSERT_FALSE(next);
  const std::string m = next.error().message();
  EXPECT_EQ(m.rfind("configuration not reloaded: " + path_ + ":", 0), 0u) << m;
  EXPECT_NE(m.find("(and 1 more)"), std::string::npos) << m;
  EXPECT_NE(m.find("; the previous configuration stays in effect"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace vnetd::daemon
