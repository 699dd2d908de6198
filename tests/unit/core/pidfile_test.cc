#include "core/pidfile.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/file_util.h"

namespace vnetd {
namespace {

class Pidfile : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string tempPath() {
    char tmpl[] = "/tmp/vnetd-pid-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    return dir_ + "/vnetd.pid";
  }
  std::string dir_;
};

TEST_F(Pidfile, WritesPidAndRemovesItOnRelease) {
  std::string path = tempPath();
  {
    auto p = vnetd::Pidfile::acquire(path);
    ASSERT_TRUE(p) << p.error().message();
    auto text = readSmallFile(path, 64);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, std::to_string(::getpid()) + "\n");
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "released pidfile must be removed";
}

TEST_F(Pidfile, SecondInstanceIsRefusedWhileTheFirstRuns) {
  std::string path = tempPath();
  auto first = vnetd::Pidfile::acquire(path);
  ASSERT_TRUE(first);
  // Another process (flock is per open file description: a child's own open conflicts).
  pid_t child = ::fork();
  if (child == 0) {
    auto second = vnetd::Pidfile::acquire(path);
    bool ok = !second &&
              second.error().message() == "vnetd is already running (pid " + std::to_string(::getppid()) +
                                              ", pidfile " + path + ")";
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(Pidfile, StaleFileFromACrashedInstanceDoesNotBlock) {
  std::string path = tempPath();
  std::ofstream(path) << "999999\n";  // nobody holds a lock on it
  auto p = vnetd::Pidfile::acquire(path);
  ASSERT_TRUE(p) << p.error().message();
  auto text = readSmallFile(path, 64);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, std::to_string(::getpid()) + "\n");
}

}  // namespace
}  // namespace vnetd
