// The thin vnetd-hook (src/cli/hook_main.cc) against a fake daemon on a unix socket: one
// request line out, one reply line in, printed as vnetd-hook always printed it; and its
// hand-over to the standalone implementation — executed with the same arguments exactly
// when nothing was sent (unreachable, or lost and then gone), never once the daemon may
// have the request. A stand-in vnetd-hook-standalone (a script next to a copy of the thin
// hook, found as in a build tree) records how it was run. No root, no network objects.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/testnet.h"

namespace vnetd {
namespace {

using testing::CommandResult;
using testing::TempDir;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A daemon stand-in: accepts connections, reads one line from each, then acts per `mode`.
class FakeDaemon {
 public:
  enum class Mode {
    Reply,        // writes `reply` + "\n"
    Hold,         // keeps the connection open without answering (until destroyed)
    LostThenGone  // stops listening (socket file removed), then closes the connection
  };
  FakeDaemon(std::string path, Mode mode, std::string reply = {})
      : path_(std::move(path)), mode_(mode), reply_(std::move(reply)) {
    listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    ::unlink(path_.c_str());
    EXPECT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path_;
    EXPECT_EQ(::listen(listen_, 8), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDaemon() {
    ::shutdown(listen_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    for (int fd : held_) ::close(fd);
    if (listen_ >= 0) ::close(listen_);
    ::unlink(path_.c_str());
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(listen_, nullptr, nullptr);
      if (c < 0) return;
      std::string line;
      char ch;
      while (::read(c, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(line);
      }
      switch (mode_) {
        case Mode::Reply: {
          std::string out = reply_ + "\n";
          EXPECT_EQ(::write(c, out.data(), out.size()), static_cast<ssize_t>(out.size()));
          ::close(c);
          break;
        }
        case Mode::Hold: held_.push_back(c); break;
        case Mode::LostThenGone:
          // Gone before the hook sees the connection end: its next try finds nobody.
          ::unlink(path_.c_str());
          ::close(listen_);
          listen_ = -1;
          ::close(c);
          return;
      }
    }
  }

  std::string path_;
  Mode mode_;
  std::string reply_;
  int listen_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<int> held_;
};

class ThinHook : public ::testing::Test {
 protected:
  void SetUp() override {
    // A copy of the thin hook with a stand-in standalone next to it, as in a build tree.
    hook_ = dir_.file("vnetd-hook");
    ASSERT_EQ(testing::run({"cp", VNETD_HOOK_BINARY, hook_}).status, 0);
    dir_.write("vnetd-hook-standalone",
               "#!/bin/sh\n"
               "printf '%s\\n' \"$@\" > " + dir_.file("standalone.args") + "\n"
               "printf '%s' \"${VNETD_HOOK_AFTER_LOST-unset}\" > " + dir_.file("standalone.env") + "\n"
               "echo 'standalone ran' >&2\n"
               "exit 42\n");
    ASSERT_EQ(::chmod(dir_.file("vnetd-hook-standalone").c_str(), 0755), 0);
    socket_ = dir_.file("vnetd.sock");
  }
  CommandResult hook(std::vector<std::string> args) {
    args.insert(args.begin(), hook_);
    return testing::run(args, 30);
  }
  bool standaloneRan() { return exists(dir_.file("standalone.args")); }
  std::string standaloneArgs() { return readFile(dir_.file("standalone.args")); }

  TempDir dir_;
  std::string hook_;
  std::string socket_;
};

TEST_F(ThinHook, UnreachableExecsTheStandaloneWithTheSameArguments) {
  // Inherited, it must not reach the standalone hook: only the thin hook's finding does.
  ::setenv("VNETD_HOOK_AFTER_LOST", "1", 1);
  auto r = hook({"-S", socket_, "--timeout", "5", "prestart", "web"});
  ::unsetenv("VNETD_HOOK_AFTER_LOST");
  EXPECT_EQ(r.status, 42) << r.err;
  EXPECT_EQ(r.err, "standalone ran\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(standaloneArgs(), "-S\n" + socket_ + "\n--timeout\n5\nprestart\nweb\n");
  EXPECT_EQ(readFile(dir_.file("standalone.env")), "unset");
}

TEST_F(ThinHook, StandaloneOptionExecsAtOnce) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply, R"({"v":1,"ok":true,"changed":true,"jail_side_names":[]})");
  auto r = hook({"-S", socket_, "-s", "poststop", "web"});
  EXPECT_EQ(r.status, 42) << r.err;
  EXPECT_EQ(standaloneArgs(), "-S\n" + socket_ + "\n-s\npoststop\nweb\n");
  EXPECT_TRUE(daemon.requests().empty());
}

TEST_F(ThinHook, ReplyIsPrintedAndTheRequestIsTheProtocolsLine) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply,
                    R"({"v":1,"ok":true,"changed":true,"jail_side_names":["e0b_web","e1b_web"]})");
  auto r = hook({"-S", socket_, "prestart", "web"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "e0b_web\ne1b_web\n");
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(standaloneRan());
  ASSERT_EQ(daemon.requests().size(), 1u);
  EXPECT_EQ(daemon.requests()[0], R"({"jail":"web","op":"hook","phase":"prestart","v":1})");
  // Only prestart prints the names.
  r = hook({"-S", socket_, "created", "web"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(ThinHook, DaemonErrorsAreOneLine) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply, R"({"v":1,"ok":false,"error":"bridge br0: \"gone\""})");
  auto r = hook({"-S", socket_, "created", "web"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: created web: bridge br0: \"gone\"\n");
  // prestop never fails its jail(8) step: a warning, status 0.
  r = hook({"-S", socket_, "prestop", "web"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "vnetd-hook: prestop web: bridge br0: \"gone\"\n"
                   "vnetd-hook: warning: prestop web did not finish; the jail stops anyway and poststop destroys "
                   "its interfaces\n");
  EXPECT_FALSE(standaloneRan());
}

TEST_F(ThinHook, MalformedReplyIsAFailureNotAFallback) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply, R"({"v":1,"ok":true,"changed":true,"jail_side_names":["-x"]})");
  auto r = hook({"-S", socket_, "prestart", "web"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vnetd-hook: prestart web: vnetd sent a malformed hook reply (bad interface name)\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(standaloneRan());
}

TEST_F(ThinHook, SentButNoReplyGivesUpWithoutTheStandalone) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Hold);
  auto r = hook({"-S", socket_, "--timeout", "1", "prestart", "web"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("vnetd-hook: prestart web: vnetd did not answer within 1 s; it has the request, so it is "
                       "not done here too and the start fails"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = hook({"-S", socket_, "--timeout", "1", "poststop", "web"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err.rfind("vnetd-hook: warning: poststop web: vnetd did not answer within 1 s", 0), 0u) << r.err;
  EXPECT_FALSE(standaloneRan());
  EXPECT_EQ(daemon.requests().size(), 2u);
}

TEST_F(ThinHook, LostAndThenGoneFallsBackSayingSo) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::LostThenGone);
  auto r = hook({"-S", socket_, "created", "web"});
  EXPECT_EQ(r.status, 42) << r.err;
  EXPECT_EQ(standaloneArgs(), "-S\n" + socket_ + "\ncreated\nweb\n");
  EXPECT_EQ(readFile(dir_.file("standalone.env")), "1");
  EXPECT_EQ(daemon.requests().size(), 1u);
}

TEST_F(ThinHook, NonDefaultSocketFromTheConfiguration) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply, R"({"v":1,"ok":true,"changed":false,"jail_side_names":[]})");
  dir_.write("vnetd.toml", "[daemon]\n# elsewhere\ncontrol_socket = \"" + socket_ + "\"  # the fake\n");
  auto r = hook({"-c", dir_.file("vnetd.toml"), "poststop", "web"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(standaloneRan());
  EXPECT_EQ(daemon.requests().size(), 1u);
  // A way of setting it the scanner does not follow: the standalone implementation decides.
  dir_.write("inline.toml", "daemon = { control_socket = \"" + socket_ + "\" }\n");
  r = hook({"-c", dir_.file("inline.toml"), "poststop", "web"});
  EXPECT_EQ(r.status, 42) << r.err;
  EXPECT_EQ(standaloneArgs(), "-c\n" + dir_.file("inline.toml") + "\npoststop\nweb\n");
  // So does a file that cannot be read.
  r = hook({"-c", dir_.file("missing.toml"), "poststop", "web"});
  EXPECT_EQ(r.status, 42) << r.err;
  EXPECT_EQ(daemon.requests().size(), 1u);
}

TEST_F(ThinHook, SocketOptionReadsNoConfiguration) {
  FakeDaemon daemon(socket_, FakeDaemon::Mode::Reply, R"({"v":1,"ok":true,"changed":false,"jail_side_names":[]})");
  dir_.write("broken.toml", "[daemon\nthis is not toml\n");
  auto r = hook({"-c", dir_.file("broken.toml"), "-S", socket_, "poststart", "web"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(standaloneRan());
}

TEST_F(ThinHook, MissingStandaloneIsOneLine) {
  if (exists(VNETD_HOOK_STANDALONE_INSTALLED)) GTEST_SKIP() << VNETD_HOOK_STANDALONE_INSTALLED << " is installed";
  ASSERT_EQ(::unlink(dir_.file("vnetd-hook-standalone").c_str()), 0);
  auto r = hook({"-S", socket_, "prestart", "web"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("vnetd-hook: prestart web: vnetd is not reachable (connect " + socket_), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the standalone implementation cannot be executed (" + dir_.file("vnetd-hook-standalone")),
            std::string::npos) << r.err;
  r = hook({"-S", socket_, "poststart", "web"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// The real pair, from the build tree: what the thin hook answers itself (usage, names,
// help, version) is what the standalone implementation answers.
TEST(ThinHookParity, CommandLineAnswersMatchTheStandalone) {
  std::string thin = VNETD_HOOK_BINARY;
  std::string full = thin.substr(0, thin.rfind('/') + 1) + "vnetd-hook-standalone";
  const std::vector<std::vector<std::string>> cases = {
      {"-x"}, {"--timeout", "0", "prestart", "web"}, {"--timeout=86401", "prestart", "web"}, {"prestart"},
      {"start", "web"}, {"prestart", "bad name"}, {"prestop", "-"}, {"poststart", ".."}, {"-h"}, {"-V"},
      {"prestart", "web", "extra"}};
  for (const auto& args : cases) {
    std::vector<std::string> a{thin}, b{full};
    a.insert(a.end(), args.begin(), args.end());
    b.insert(b.end(), args.begin(), args.end());
    auto ra = testing::run(a), rb = testing::run(b);
    auto strip = [](std::string s, const std::string& prog) {
      for (size_t at; (at = s.find(prog)) != std::string::npos;) s.replace(at, prog.size(), "PROG");
      return s;
    };
    SCOPED_TRACE(a.back());
    EXPECT_EQ(ra.status, rb.status);
    EXPECT_EQ(ra.out, rb.out);
    EXPECT_EQ(strip(ra.err, thin), strip(rb.err, full));
  }
}

// The thin hook needs nothing but the C and C++ runtimes — none of the libraries the
// standalone implementation links (toml++, libmnl, libnftables, ...) — and, linked static
// (the default on Linux; not with the sanitizers, whose runtimes are dynamic), not even those.
TEST(ThinHookParity, LinksOnlyLibc) {
  auto r = testing::run({"readelf", "-d", VNETD_HOOK_BINARY});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  int needed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    ++needed;
    bool runtime = false;
    for (const char* lib : {"[libc.so", "[libm.so", "[libstdc++.so", "[libgcc_s.so"})
      runtime = runtime || line.find(lib) != std::string::npos;
    EXPECT_TRUE(runtime) << line;
  }
  if (VNETD_HOOK_IS_STATIC) {
    EXPECT_EQ(needed, 0) << r.out;
  }
  auto full = testing::run({"readelf", "-d", std::string(VNETD_HOOK_BINARY) + "-standalone"});
  EXPECT_NE(full.out.find("libtomlplusplus"), std::string::npos);  // the check can see a library
}

}  // namespace
}  // namespace vnetd
