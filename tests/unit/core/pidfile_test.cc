#include "core/pidfile.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

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

// The race of two instances starting while a third stops: the file we opened is unlinked
// (by the stopping instance's destructor) and another instance creates and locks a new
// one, all before our flock. Our lock on the old inode then succeeds but excludes no
// one: acquire must notice and lock the file that is at the path now.
TEST_F(Pidfile, AFileReplacedBetweenOpenAndLockIsNotTheOneHeld) {
  std::string path = tempPath();
  int ready[2], finish[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(finish), 0);
  pid_t other = -1;
  std::vector<int> attempts;
  auto p = vnetd::Pidfile::acquire(path, [&](int attempt) {
    attempts.push_back(attempt);
    if (attempt != 0) return;
    ASSERT_EQ(::unlink(path.c_str()), 0);
    other = ::fork();
    if (other == 0) {
      ::close(finish[1]);  // else our own copy keeps the read below from seeing EOF
      auto theirs = vnetd::Pidfile::acquire(path);
      char c = theirs ? 'y' : 'n';
      (void)!::write(ready[1], &c, 1);
      (void)!::read(finish[0], &c, 1);  // hold the pidfile until the test is done
      ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
  });
  ASSERT_FALSE(p) << "locked the unlinked inode while pid " << other << " holds " << path;
  EXPECT_EQ(p.error().message(),
            "vnetd is already running (pid " + std::to_string(other) + ", pidfile " + path + ")");
  EXPECT_EQ(attempts, (std::vector<int>{0, 1}));
  ::close(finish[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(other, &status, 0), other);
  for (int fd : {ready[0], ready[1], finish[0]}) ::close(fd);
}

// The file moved away between open and lock, nobody else there: the second attempt
// creates and holds the file at the path.
TEST_F(Pidfile, AFileMovedAwayBetweenOpenAndLockIsMadeAnew) {
  std::string path = tempPath();
  std::vector<int> attempts;
  auto p = vnetd::Pidfile::acquire(path, [&](int attempt) {
    attempts.push_back(attempt);
    if (attempt == 0) {
      ASSERT_EQ(::rename(path.c_str(), (path + ".old").c_str()), 0);
    }
  });
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(attempts, (std::vector<int>{0, 1}));
  auto text = readSmallFile(path, 64);
  ASSERT_TRUE(text) << "the pidfile must be at its path";
  EXPECT_EQ(*text, std::to_string(::getpid()) + "\n");
  pid_t child = ::fork();
  if (child == 0) ::_exit(vnetd::Pidfile::acquire(path) ? 1 : 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the file at the path must be the one locked";
}

}  // namespace
}  // namespace vnetd
