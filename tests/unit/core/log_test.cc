#include "core/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/file_util.h"

namespace vnetd::log {
namespace {

TEST(Log, ParseLevel) {
  EXPECT_EQ(parseLevel("error"), Level::Error);
  EXPECT_EQ(parseLevel("warning"), Level::Warning);
  EXPECT_EQ(parseLevel("info"), Level::Info);
  EXPECT_EQ(parseLevel("debug"), Level::Debug);
  EXPECT_FALSE(parseLevel("DEBUG"));
  EXPECT_FALSE(parseLevel("warn"));
  EXPECT_FALSE(parseLevel(""));
  for (Level l : {Level::Error, Level::Warning, Level::Info, Level::Debug})
    EXPECT_EQ(parseLevel(levelName(l)), l);
}

// Captures what the logger writes to stderr into a file, one call at a time.
class StderrCapture {
 public:
  StderrCapture() {
    char tmpl[] = "/tmp/vnetd-log-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    saved_ = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() {
    restore();
    unlink(path_.c_str());
  }
  std::string text() {
    restore();
    auto r = readSmallFile(path_, 1 << 20);
    return r ? *r : std::string();
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
  }
  std::string path_;
  int saved_ = -1;
};

TEST(Log, LevelsFilterAndFormatOneLinePerCall) {
  init(Sink::Stderr, Level::Warning, "vnetd-test");
  StderrCapture cap;
  VNETD_LOG_ERROR("bridge %s missing", "bridge0");
  VNETD_LOG_WARN("member %d re-added", 3);
  VNETD_LOG_INFO("not shown");
  VNETD_LOG_DEBUG("not shown either");
  EXPECT_EQ(cap.text(),
            "vnetd-test: error: bridge bridge0 missing\n"
            "vnetd-test: warning: member 3 re-added\n");
  EXPECT_FALSE(enabled(Level::Info));
  setLevel(Level::Debug);
  EXPECT_TRUE(enabled(Level::Debug));
  setLevel(Level::Info);
}

TEST(Log, OverlongMessagesAreTruncatedNotOverflowed) {
  init(Sink::Stderr, Level::Info, "t");
  StderrCapture cap;
  std::string huge(10000, 'x');
  VNETD_LOG_INFO("%s", huge.c_str());
  std::string out = cap.text();
  ASSERT_FALSE(out.empty());
  EXPECT_LT(out.size(), 2300u);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

}  // namespace
}  // namespace vnetd::log
