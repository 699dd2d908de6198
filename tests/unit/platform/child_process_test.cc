// runChild with real children on this machine: what a child sees (environment,
// descriptors), its input and output, exec failures, and the bounded wait.
#include "platform/child_process.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "core/unique_fd.h"

namespace vnetd::platform {
namespace {

using namespace std::chrono_literals;

ChildSpec spec(std::vector<std::string> argv) {
  ChildSpec s;
  s.program = argv[0];
  s.argv = std::move(argv);
  s.timeout = 10s;
  s.max_output = 1 << 20;
  return s;
}

// No child of this test process is left, zombie or running.
bool noChildren() { return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; }

TEST(RunChild, TheChildSeesOnlyPath) {
  ASSERT_EQ(::setenv("VNETD_TEST_SECRET", "must-not-leak", 1), 0);
  ASSERT_EQ(::setenv("LD_PRELOAD", "", 1), 0);
  auto r = runChild(spec({"/usr/bin/env"}));
  ::unsetenv("VNETD_TEST_SECRET");
  ::unsetenv("LD_PRELOAD");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->output, std::string(kChildPath) + "\n");
  EXPECT_TRUE(noChildren());
}

TEST(RunChild, OnlyStdioIsOpenInTheChild) {
  // A descriptor the parent opened without close-on-exec, above 2 and at a high number
  // as well (close_range must not stop at the lowest gap).
  char path[] = "/tmp/vnetd-child-fd-XXXXXX";
  UniqueFd leaky(::mkstemp(path));  // mkstemp: no O_CLOEXEC
  ASSERT_TRUE(leaky);
  ::unlink(path);
  ASSERT_EQ(::fcntl(leaky.get(), F_GETFD) & FD_CLOEXEC, 0);
  UniqueFd high(::fcntl(leaky.get(), F_DUPFD, 200));
  ASSERT_GE(high.get(), 200);
  // ls opens /proc/self/fd itself: that one and 0, 1, 2 are all it may list.
  auto r = runChild(spec({"/bin/ls", "-l", "/proc/self/fd"}));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->status, 0) << r->output;
  EXPECT_EQ(r->output.find("vnetd-child-fd-"), std::string::npos) << r->output;
  int fds = 0;
  for (size_t at = r->output.find(" -> "); at != std::string::npos; at = r->output.find(" -> ", at + 1)) ++fds;
  EXPECT_EQ(fds, 4) << r->output;
  for (const char* fd : {" 0 -> ", " 1 -> ", " 2 -> "}) EXPECT_NE(r->output.find(fd), std::string::npos) << r->output;
}

TEST(RunChild, InputIsFedAndOutputAndStderrComeBack) {
  // More than any pipe or socket buffer both ways: feeding and draining go together.
  std::string input;
  for (int i = 0; input.size() < (3u << 20); ++i) input += "line " + std::to_string(i) + "\n";
  ChildSpec s = spec({"/bin/cat"});
  s.input = input;
  s.max_output = 8u << 20;
  auto r = runChild(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->output.size(), input.size());
  EXPECT_TRUE(r->output == input);

  auto e = runChild(spec({"/bin/sh", "-c", "echo out; echo oops >&2; exit 3"}));
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_TRUE(e->exited);
  EXPECT_EQ(e->status, 3);
  EXPECT_EQ(e->output, "out\noops\n");
}

TEST(RunChild, OutputIsCappedButDrained) {
  ChildSpec s = spec({"/bin/sh", "-c", "head -c 1000000 /dev/zero; echo done >&2"});
  s.max_output = 100;
  auto r = runChild(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->output, std::string(100, '\0'));
}

TEST(RunChild, AProgramThatCannotRunSaysWhy) {
  auto r = runChild(spec({"/nonexistent/vnetd-tool"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_EQ(r.error().message(), "cannot run /nonexistent/vnetd-tool: No such file or directory");
  EXPECT_TRUE(noChildren());
  auto relative = runChild(spec({"pfctl"}));
  ASSERT_FALSE(relative);
}

TEST(RunChild, AChildPastItsTimeIsKilledAndReaped) {
  ChildSpec s = spec({"/bin/sleep", "30"});
  s.name = "pfctl";
  s.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = runChild(s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ETIMEDOUT);
  EXPECT_EQ(r.error().context, "pfctl did not finish in 0.3 s; killed");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(noChildren());
}

TEST(RunChild, TheTimeoutAlsoEndsWhatTheChildStartedAndAChildThatClosedItsOutput) {
  // The shell starts a grandchild holding the output pipe: killing only the shell would
  // leave our read waiting for an EOF that never comes (and the grandchild running).
  char path[] = "/tmp/vnetd-child-pid-XXXXXX";
  UniqueFd f(::mkstemp(path));
  ASSERT_TRUE(f);
  ChildSpec s = spec({"/bin/sh", "-c", std::string("sleep 30 & echo $! > ") + path + "; wait"});
  s.timeout = 300ms;
  auto r = runChild(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ETIMEDOUT);
  EXPECT_TRUE(noChildren());
  char buf[32] = {};
  ASSERT_GT(::pread(f.get(), buf, sizeof buf - 1, 0), 0);
  ::unlink(path);
  pid_t grandchild = std::atoi(buf);
  ASSERT_GT(grandchild, 0);
  // Killed (a zombie until init reaps it, or gone): never still sleeping. SIGKILL was sent
  // to the group, but a busy machine may not have run the dying grandchild yet (state R
  // for a moment): poll its state, bounded, until it is a zombie or gone.
  auto state = [&]() -> std::string {
    UniqueFd sf(::open(("/proc/" + std::to_string(grandchild) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    if (!sf) return "";  // gone (reaped by init)
    char sb[512] = {};
    ssize_t n = ::read(sf.get(), sb, sizeof sb - 1);
    std::string stat(sb, n > 0 ? static_cast<size_t>(n) : 0);
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? "" : stat.substr(close + 2, 1);
  };
  std::string st = state();
  for (auto until = std::chrono::steady_clock::now() + 5s;
       !st.empty() && st != "Z" && std::chrono::steady_clock::now() < until;)
    st = state();
  EXPECT_TRUE(st.empty() || st == "Z") << "the grandchild is still in state " << st;

  // A child that closes its output and keeps running is bounded too (the exit wait).
  ChildSpec quiet = spec({"/bin/sh", "-c", "exec >&- 2>&-; sleep 30"});
  quiet.timeout = 300ms;
  auto q = runChild(quiet);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ETIMEDOUT);
  EXPECT_TRUE(noChildren());
}

}  // namespace
}  // namespace vnetd::platform
