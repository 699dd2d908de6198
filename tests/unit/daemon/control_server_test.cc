#include "daemon/control_server.h"

#include <dirent.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <algorithm>
#include <vector>

#include "core/file_util.h"
#include "daemon/job_queue.h"

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uid_t kNobody = 65534;
// A gid root is not a member of (no such group on a test host; checked where it matters).
constexpr gid_t kForeignGroup = 4242;
constexpr const char* kPing = R"({"v":1,"op":"ping"})";

std::string statusRequest(const std::string& jail) { return R"({"v":1,"op":"status","jail":")" + jail + R"("})"; }

// Replies with the op, the jail and the peer's uid, so tests can see routing and order.
std::string echoHandler(const control::Request& r, const PeerCredentials& peer) {
  return R"({"v":1,"ok":true,"op":")" + std::string(control::opName(r.op)) + R"(","jail":")" + r.jail +
         R"(","uid":)" + std::to_string(peer.uid) + "}";
}
std::string pingReply() { return echoHandler(control::Request{}, PeerCredentials{::getuid(), 0, 0, {}}); }
std::string pingReply65534() { return echoHandler(control::Request{}, PeerCredentials{65534, 0, 0, {}}) + "\n"; }
std::string statusReply(const std::string& jail) {
  return echoHandler(control::Request{control::Op::Status, std::nullopt, jail}, PeerCredentials{::getuid(), 0, 0, {}});
}

std::set<int> openFds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return fds;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') fds.insert(std::atoi(e->d_name));
  fds.erase(::dirfd(dir));
  ::closedir(dir);
  return fds;
}

// A plain blocking client. Receive/send timeouts make a broken server fail a test instead
// of hanging it.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fd_.reset();
  }
  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // The next line without its '\n'; nullopt on EOF, error or timeout.
  std::optional<std::string> readLine() {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[8192];
      ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  std::string request(const std::string& line) {
    if (!send(line + "\n")) return "<send failed>";
    return readLine().value_or("<no reply>");
  }
  // True when the server has closed the connection with nothing more to read: EOF, or
  // ECONNRESET (Linux reports that instead of EOF when the server closed with our unread
  // bytes still queued). False when data arrives or after the 5 s timeout.
  bool closedByServer() {
    if (!buffer_.empty()) return false;
    char c;
    ssize_t n = ::recv(fd_.get(), &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  UniqueFd fd_;
  std::string buffer_;
};

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnetd-ctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/vnetd.sock";
    auto d = Dispatcher::create();
    ASSERT_TRUE(d) << d.error().message();
    dispatcher_ = std::move(*d);
  }
  void TearDown() override {
    stopLoop();
    server_.reset();
    dispatcher_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  ControlServerOptions options() {
    ControlServerOptions o;
    o.path = path_;
    return o;
  }
  // Creates the server (before the loop runs, as the threading contract allows) and starts
  // the loop on its own thread.
  void start(ControlServerOptions o, ControlServer::Handler handler = echoHandler) {
    auto s = ControlServer::create(*dispatcher_, std::move(o), std::move(handler));
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
    loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });
  }
  void stopLoop() {
    if (!loop_.joinable()) return;
    dispatcher_->post([d = dispatcher_.get()] { d->exit(); });
    loop_.join();
  }
  // Runs `f` on the loop thread (the server is loop-thread only) and returns its result.
  template <typename F>
  auto onLoop(F f) -> decltype(f()) {
    std::promise<decltype(f())> done;
    auto result = done.get_future();
    dispatcher_->post([&] { done.set_value(f()); });
    return result.get();
  }
  ControlServer::Stats stats() {
    return onLoop([this] { return server_->stats(); });
  }
  size_t connections() {
    return onLoop([this] { return server_->connectionCount(); });
  }
  // Polls the loop until `pred` holds; false after 5 s.
  bool eventually(const std::function<bool()>& pred) {
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(1ms))
      if (onLoop(pred)) return true;
    return false;
  }

  std::string dir_, path_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<ControlServer> server_;
  std::thread loop_;
};

TEST_F(ControlServerTest, PingRoundTripCarriesPeerCredentialsToTheHandler) {
  PeerCredentials seen{};
  start(options(), [&](const control::Request& r, const PeerCredentials& peer) {
    seen = peer;
    return echoHandler(r, peer);
  });
  Client c(path_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.request(kPing), pingReply());
  PeerCredentials peer = onLoop([&] { return seen; });
  EXPECT_EQ(peer.uid, ::getuid());
  EXPECT_EQ(peer.gid, ::getgid());
  EXPECT_TRUE(peer.pid == ::getpid() || peer.pid == -1) << peer.pid;
  auto s = stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.requests, 1u);
}

TEST_F(ControlServerTest, BadRequestGetsAnErrorLineAndTheConnectionKeepsServing) {
  start(options());
  Client c(path_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.request("this is not json"), control::encodeError("request is not valid JSON"));
  EXPECT_EQ(c.request(kPing), pingReply());
  EXPECT_EQ(c.request(R"({"v":1,"op":"nope"})"), control::encodeError("unknown op \"nope\""));
  EXPECT_EQ(c.request(kPing), pingReply());
  auto s = stats();
  EXPECT_EQ(s.bad_requests, 2u);
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(connections(), 1u);
}

TEST_F(ControlServerTest, PipelinedRequestsAreAnsweredInOrderBlankLinesIgnoredCrLfAccepted) {
  start(options());
  Client c(path_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("\n" + statusRequest("web") + "\r\n\r\n\n" + statusRequest("db") + "\n" + statusRequest("mail") +
                     "\n"));
  EXPECT_EQ(c.readLine(), statusReply("web"));
  EXPECT_EQ(c.readLine(), statusReply("db"));
  EXPECT_EQ(c.readLine(), statusReply("mail"));
  // Nothing extra was queued for the blank lines: the next line is this ping's reply.
  EXPECT_EQ(c.request(kPing), pingReply());
  EXPECT_EQ(stats().requests, 4u);
}

TEST_F(ControlServerTest, HalfClosedClientStillGetsItsRepliesThenEof) {
  start(options());
  Client c(path_);
  ASSERT_TRUE(c.connected());
  // The last line has no newline: end of input completes it.
  ASSERT_TRUE(c.send(statusRequest("web") + "\n" + kPing));
  ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
  EXPECT_EQ(c.readLine(), statusReply("web"));
  EXPECT_EQ(c.readLine(), pingReply());
  EXPECT_TRUE(c.closedByServer());
  EXPECT_TRUE(eventually([this] { return server_->connectionCount() == 0; }));
}

TEST_F(ControlServerTest, OversizedLineIsRefusedWithoutReadingItAllAndOthersAreStillServed) {
  start(options());
  Client big(path_);
  ASSERT_TRUE(big.connected());
  std::atomic<size_t> sent{0};
  std::thread writer([&] {
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 10; ++i) {
      for (size_t off = 0; off < chunk.size();) {
        ssize_t n = ::send(big.fd(), chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // EPIPE/ECONNRESET once the server has closed: expected
        off += static_cast<size_t>(n);
        sent += static_cast<size_t>(n);
      }
    }
  });
  EXPECT_EQ(big.readLine(),
            control::encodeError("request larger than " + std::to_string(control::kMaxRequestBytes) + " bytes"));
  EXPECT_TRUE(big.closedByServer());
  writer.join();
  EXPECT_LT(sent.load(), size_t{10} << 20) << "the server read the whole 10 MB line";

  Client other(path_);
  ASSERT_TRUE(other.connected());
  EXPECT_EQ(other.request(kPing), pingReply());
  EXPECT_EQ(stats().oversized, 1u);
}

TEST_F(ControlServerTest, ExactlyMaxRequestBytesIsAccepted) {
  auto o = options();
  o.max_request_bytes = 64;
  start(o);
  Client c(path_);
  ASSERT_TRUE(c.connected());
  std::string padded = std::string(64 - std::strlen(kPing), ' ') + kPing;  // JSON allows leading spaces
  ASSERT_EQ(padded.size(), 64u);
  EXPECT_EQ(c.request(padded + "\r"), pingReply());
  EXPECT_EQ(c.request(" " + padded), control::encodeError("request larger than 64 bytes"));
  EXPECT_TRUE(c.closedByServer());
}

TEST_F(ControlServerTest, IdleConnectionsTimeOutButActiveOnesStay) {
  auto o = options();
  o.idle_timeout = 200ms;
  const auto t0 = Clock::now();
  start(o);
  Client silent(path_), partial(path_), active(path_);
  ASSERT_TRUE(silent.connected() && partial.connected() && active.connected());
  ASSERT_TRUE(partial.send(R"({"v":1,"op")"));  // an unfinished line is not a request
  // Keep `active` busy (a request every ~20 ms, paced by the poll timeout) until the
  // silent client has been closed.
  bool silent_closed = false;
  while (!silent_closed && Clock::now() - t0 < 5s) {
    ASSERT_EQ(active.request(kPing), pingReply());
    pollfd p{silent.fd(), POLLIN, 0};
    if (::poll(&p, 1, 20) == 1) silent_closed = silent.closedByServer();
  }
  ASSERT_TRUE(silent_closed);
  // The server's clock, not libevent's timer, decides: never before the timeout.
  EXPECT_GE(Clock::now() - t0, 200ms);
  EXPECT_TRUE(partial.closedByServer());
  EXPECT_EQ(active.request(kPing), pingReply());
  EXPECT_EQ(stats().timeouts, 2u);
  EXPECT_TRUE(eventually([this] { return server_->connectionCount() == 1; }));
}

TEST_F(ControlServerTest, TwoHundredParallelConnectionsAllSucceed) {
  start(options());
  constexpr int kClients = 200;
  std::latch replied(kClients), release(1);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client c(path_);
      std::string jail = "j" + std::to_string(i);
      if (c.connected() && c.request(statusRequest(jail)) == statusReply(jail)) ++ok;
      replied.count_down();
      release.wait();  // hold the connection open until every client has its reply
    });
  }
  replied.wait();
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_EQ(connections(), static_cast<size_t>(kClients));
  release.count_down();
  for (auto& t : threads) t.join();
  auto s = stats();
  EXPECT_EQ(s.accepted, static_cast<uint64_t>(kClients));
  EXPECT_EQ(s.requests, static_cast<uint64_t>(kClients));
  EXPECT_EQ(s.refused_too_many, 0u);
}

TEST_F(ControlServerTest, ConnectionsBeyondTheLimitGetOneErrorLine) {
  auto o = options();
  o.max_connections = 2;
  start(o);
  Client a(path_), b(path_);
  ASSERT_EQ(a.request(kPing), pingReply());
  ASSERT_EQ(b.request(kPing), pingReply());
  Client c(path_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.readLine(), control::encodeError("too many connections (2 open); try again later"));
  EXPECT_TRUE(c.closedByServer());
  EXPECT_EQ(stats().refused_too_many, 1u);
  a.close();
  ASSERT_TRUE(eventually([this] { return server_->connectionCount() == 1; }));
  Client d(path_);
  EXPECT_EQ(d.request(kPing), pingReply());
}

TEST_F(ControlServerTest, ClientThatDoesNotReadIsDropped) {
  auto o = options();
  o.max_pending_output = 64 * 1024;
  const std::string big_reply = R"({"v":1,"ok":true,"pad":")" + std::string(4000, 'p') + R"("})";
  start(o, [&](const control::Request&, const PeerCredentials&) { return big_reply; });
  Client c(path_);
  ASSERT_TRUE(c.connected());
  std::string many;
  for (int i = 0; i < 1000; ++i) many += std::string(kPing) + "\n";  // 4 MB of replies, never read
  c.send(many);  // may fail half-way once the server has dropped us
  ASSERT_TRUE(eventually([this] { return server_->stats().dropped_slow == 1; }));
  int replies = 0;
  while (auto line = c.readLine()) {
    ASSERT_EQ(*line, big_reply);
    ++replies;
  }
  EXPECT_LT(replies, 1000);
  EXPECT_EQ(connections(), 0u);
}

TEST_F(ControlServerTest, HandlerCannotBreakFramingOrThrowThroughTheServer) {
  start(options(), [](const control::Request& r, const PeerCredentials&) -> std::string {
    if (r.op == control::Op::Reload) throw std::runtime_error("boom");
    return "two\nlines\r";
  });
  Client c(path_);
  EXPECT_EQ(c.request(kPing), "two lines ");
  EXPECT_EQ(c.request(R"({"v":1,"op":"reload"})"), control::encodeError("internal error"));
  EXPECT_EQ(c.request(kPing), "two lines ");
}

TEST_F(ControlServerTest, SocketIsRootOnlyByDefault) {
  start(options());
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST_F(ControlServerTest, SocketIsGroupAccessibleWhenAGroupIsConfigured) {
  auto o = options();
  o.access.group = kForeignGroup;
  start(o);
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, kForeignGroup);
}

// Sends one ping from a forked child running as uid with gid and the supplementary
// `groups` (setgroups), and returns everything the server answered.
std::string pingAs(const std::string& path, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  int out[2];
  if (::pipe(out) != 0) return "<pipe failed>";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const std::string request = std::string(kPing) + "\n";
  pid_t child = ::fork();
  if (child == 0) {
    // Only system calls from here (the parent has threads).
    ::close(out[0]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(11);
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[1024];
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = ::recv(fd, buf + got, sizeof buf - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
      if (std::memchr(buf, '\n', got)) break;
    }
    if (::write(out[1], buf, got) != static_cast<ssize_t>(got)) ::_exit(12);
    ::_exit(0);
  }
  if (child < 0) return "<fork failed>";
  ::close(out[1]);
  std::string reply;
  char buf[1024];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "<child failed: status " + std::to_string(status) + ">";
  return reply;
}

// Whether the user database lists `group` for `uid` (primary or supplementary).
bool databaseSaysMember(uid_t uid, gid_t group) {
  passwd* pw = ::getpwuid(uid);
  if (!pw) return false;
  if (pw->pw_gid == group) return true;
  int n = 256;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) return false;
  groups.resize(static_cast<size_t>(n));
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

TEST_F(ControlServerTest, PeerOutsideThePolicyIsRefusedEvenIfTheSocketModeLetsItIn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become uid 65534";
  auto o = options();
  o.access.group = kForeignGroup;
  start(o);
  // An administrator's mistake: the file mode no longer keeps others out, the credential
  // check must.
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  std::string reply = pingAs(path_, kNobody, kNobody, {});
  std::string why = accessProblem(PeerCredentials{kNobody, kNobody, -1, {}}, o.access);
  EXPECT_EQ(why.rfind("uid 65534 is not root and not in group ", 0), 0u) << why;
  EXPECT_EQ(reply, control::encodeError("permission denied: " + why) + "\n");
  EXPECT_EQ(stats().refused_access, 1u);
  // Root still gets in.
  Client root(path_);
  EXPECT_EQ(root.request(kPing), pingReply());
}

// Group access follows the groups the connecting process has (SO_PEERGROUPS /
// LOCAL_PEERCRED), not what the user database says its user is in.
TEST_F(ControlServerTest, GroupAccessUsesThePeersOwnGroupsNotTheUserDatabase) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become uid 65534";
  ASSERT_FALSE(databaseSaysMember(kNobody, kForeignGroup)) << "test host lists uid 65534 in group 4242";
  auto o = options();
  o.access.group = kForeignGroup;
  start(o);
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  // The process has the group as a supplementary group; the database does not list it.
  EXPECT_EQ(pingAs(path_, kNobody, kNobody, {kNobody, kForeignGroup}), pingReply65534());
  // Neither as primary nor supplementary: refused.
  EXPECT_NE(pingAs(path_, kNobody, kNobody, {kNobody, kForeignGroup + 1}).find("permission denied"),
            std::string::npos);
  EXPECT_EQ(stats().refused_access, 1u);
}

TEST_F(ControlServerTest, AGroupTheDatabaseListsButTheProcessDroppedDoesNotCount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become uid 65534";
  passwd* pw = ::getpwuid(kNobody);
  if (!pw) GTEST_SKIP() << "no user database entry for uid 65534";
  const gid_t listed = pw->pw_gid;  // the database says uid 65534 is in it
  ASSERT_NE(listed, kForeignGroup + 1);
  auto o = options();
  o.access.group = listed;
  start(o);
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  // Runs with another gid and without supplementary groups (it dropped them).
  std::string reply = pingAs(path_, kNobody, kForeignGroup + 1, {});
  EXPECT_EQ(reply, control::encodeError("permission denied: " +
                                        accessProblem(PeerCredentials{kNobody, kForeignGroup + 1, -1, {}}, o.access)) +
                       "\n");
  EXPECT_EQ(stats().refused_access, 1u);
  // With the group it gets in.
  EXPECT_EQ(pingAs(path_, kNobody, kForeignGroup + 1, {listed}), pingReply65534());
}

TEST(AccessProblem, RootAlwaysOthersOnlyThroughTheirOwnGroups) {
  const AccessPolicy root_only{}, foreign{kForeignGroup};
  EXPECT_EQ(accessProblem({0, 0, 1, {}}, root_only), "");
  EXPECT_EQ(accessProblem({0, 0, 1, {}}, foreign), "");
  EXPECT_EQ(accessProblem({kNobody, kNobody, -1, {}}, root_only),
            "uid 65534 is not root (the control socket is root-only)");
  if (!::getgrgid(kForeignGroup)) {
    EXPECT_EQ(accessProblem({kNobody, kNobody, -1, {}}, foreign), "uid 65534 is not root and not in group 4242");
  }
  EXPECT_EQ(accessProblem({kNobody, kForeignGroup, -1, {}}, foreign), "") << "primary gid == group";
  EXPECT_EQ(accessProblem({kNobody, kNobody, -1, {1, kForeignGroup, 7}}, foreign), "") << "a supplementary group";
  EXPECT_NE(accessProblem({kNobody, kNobody, -1, {1, kForeignGroup + 1}}, foreign), "");
  EXPECT_NE(accessProblem({kNobody, kNobody, -1, {kForeignGroup}}, root_only), "") << "groups never make root";
  // Groups are named in the reason when they have a name.
  if (group* g = ::getgrgid(0)) {
    EXPECT_EQ(accessProblem({kNobody, kNobody, -1, {}}, AccessPolicy{0}),
              "uid 65534 is not root and not in group " + std::string(g->gr_name));
  }
  // The user database does not count: uid 65534's passwd group is not its process's
  // group when the process runs with another gid and without it among its groups.
  if (passwd* pw = ::getpwuid(kNobody)) {
    EXPECT_NE(accessProblem({kNobody, kForeignGroup + 1, -1, {}}, AccessPolicy{pw->pw_gid}), "");
  }
}

// Asynchronous replies: hooks run on a worker and answer later, on the loop thread.
class AsyncControlServerTest : public ControlServerTest {
 protected:
  void startAsync(ControlServerOptions o) {
    auto s = ControlServer::createAsync(
        *dispatcher_, std::move(o),
        [this](const control::Request& r, const PeerCredentials& peer, ControlServer::Reply reply) {
          // Hooks are parked until the test releases them; everything else answers at once.
          if (r.op == control::Op::Hook) parked_.push_back({echoHandler(r, peer), std::move(reply)});
          else reply(echoHandler(r, peer));
        });
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
    loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });
  }
  size_t parked() {
    return onLoop([this] { return parked_.size(); });
  }
  // Answers the oldest parked request (on the loop thread, as the contract requires).
  void release() {
    onLoop([this] {
      auto p = std::move(parked_.front());
      parked_.erase(parked_.begin());
      p.second(p.first);
      return 0;
    });
  }
  std::vector<std::pair<std::string, ControlServer::Reply>> parked_;
};

std::string hookRequest(const std::string& jail) {
  return R"({"v":1,"op":"hook","phase":"prestart","jail":")" + jail + R"("})";
}
std::string hookReply(const std::string& jail) {
  return echoHandler(control::Request{control::Op::Hook, HookPhase::Prestart, jail}, PeerCredentials{::getuid(), 0, 0, {}});
}

TEST_F(AsyncControlServerTest, LateRepliesKeepRequestOrderAndOthersAreServedMeanwhile) {
  startAsync(options());
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("one") + "\n" + statusRequest("two") + "\n" + hookRequest("three") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  // While a's hook is pending, another client is served at once.
  Client b(path_);
  EXPECT_EQ(b.request(kPing), pingReply());
  EXPECT_EQ(parked(), 1u) << "a's later requests wait behind its pending one";
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("one"));
  EXPECT_EQ(a.readLine().value_or(""), statusReply("two"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("three"));
}

TEST_F(AsyncControlServerTest, APendingRequestIsNotAnIdleConnectionAndEofWaitsForTheReply) {
  auto o = options();
  o.idle_timeout = 50ms;
  startAsync(o);
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("slow") + "\n"));
  ::shutdown(a.fd(), SHUT_WR);  // hook-style client: request, then only listens
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  // Several sweeps pass; the connection must survive them.
  auto until = Clock::now() + 300ms;
  while (Clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stats().timeouts, 0u);
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("slow"));
  EXPECT_TRUE(a.closedByServer());
}

TEST_F(AsyncControlServerTest, RepliesForGoneClientsOrAGoneServerAreDropped) {
  startAsync(options());
  {
    Client a(path_);
    ASSERT_TRUE(a.send(hookRequest("gone") + "\n"));
    ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  }  // closed while its request is pending
  // The server notices EOF only when it reads again; either way the reply must be harmless.
  release();
  Client b(path_);
  ASSERT_TRUE(b.send(hookRequest("late") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  onLoop([this] {
    server_.reset();
    return 0;
  });
  release();  // after destruction: a no-op (ASan would see a use-after-free otherwise)
  EXPECT_TRUE(b.closedByServer());
}

// A client that closes its socket while its request is pending has given up: the Reply
// must say so before the work starts (vnetd-hook after its timeout, issue 15 item 1).
TEST_F(AsyncControlServerTest, AClientThatClosesWhileItsRequestIsPendingAbandonsIt) {
  startAsync(options());
  {
    Client a(path_);
    ASSERT_TRUE(a.send(hookRequest("gone") + "\n"));
    ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
    EXPECT_FALSE(onLoop([this] { return parked_[0].second.abandoned(); }));
  }  // closed while its request is pending
  // The Reply may see the close first (it asks the kernel); the server follows.
  ASSERT_TRUE(eventually([this] { return server_->stats().abandoned == 1; }));
  EXPECT_TRUE(onLoop([this] { return parked_[0].second.abandoned(); }));
  EXPECT_EQ(connections(), 0u);
  release();  // harmless
}

// The daemon was stopped (SIGSTOP) while a client sent its request and gave up: when the
// loop runs again, the request reaches the handler already abandoned.
TEST_F(ControlServerTest, ARequestWhoseClientLeftBeforeItWasReadIsAbandonedFromTheStart) {
  std::vector<std::pair<std::string, bool>> seen;  // loop thread
  auto s = ControlServer::createAsync(
      *dispatcher_, options(), [&](const control::Request& r, const PeerCredentials&, ControlServer::Reply reply) {
        seen.emplace_back(r.jail, reply.abandoned());
        reply(R"({"v":1,"ok":true})");
      });
  ASSERT_TRUE(s) << s.error().message();
  server_ = std::move(*s);
  {
    Client gone(path_);  // accepted by the kernel (backlog); the loop is not running yet
    ASSERT_TRUE(gone.send(hookRequest("gone") + "\n"));
  }
  Client stays(path_);
  ASSERT_TRUE(stays.send(hookRequest("stays") + "\n"));
  ::shutdown(stays.fd(), SHUT_WR);  // still reads
  loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });
  EXPECT_EQ(stays.readLine().value_or(""), R"({"v":1,"ok":true})");
  ASSERT_TRUE(eventually([&] { return seen.size() == 2; }));
  auto got = onLoop([&] { return seen; });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{{"gone", true}, {"stays", false}}));
  EXPECT_EQ(stats().abandoned, 1u);
}

TEST_F(AsyncControlServerTest, AClientThatOnlyShutItsWriteSideStillWaits) {
  startAsync(options());
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("half") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  ASSERT_EQ(::shutdown(a.fd(), SHUT_WR), 0);
  // a's EOF is readable before b even connects; b's ping needs two more loop iterations
  // (accept, read), so once it is answered the server has seen a's EOF. No sleeping.
  Client b(path_);
  EXPECT_EQ(b.request(kPing), pingReply());
  EXPECT_FALSE(onLoop([this] { return parked_[0].second.abandoned(); }));
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("half"));
  EXPECT_TRUE(a.closedByServer());
  EXPECT_EQ(stats().abandoned, 0u);
}

// Blocks the loop thread (a posted callback that waits) until the returned promise is set:
// nothing the server does on the loop — reading a client's EOF included — can happen
// meanwhile. The state a worker sees after SIGCONT, before the loop caught up.
std::promise<void> blockLoop(Dispatcher& dispatcher) {
  std::promise<void> unblock;
  auto blocked = std::make_shared<std::promise<void>>();
  auto until = unblock.get_future().share();
  auto entered = blocked->get_future();
  dispatcher.post([until, blocked] {
    blocked->set_value();
    until.wait();  // also returns when the promise is dropped (a failed ASSERT)
  });
  entered.wait();
  return unblock;
}

// issue 15: the worker checks abandoned() when a queued job's turn comes, possibly before
// the loop thread has read the client's EOF. The Reply must ask the kernel itself.
TEST_F(AsyncControlServerTest, AClientThatClosedIsAbandonedBeforeTheLoopNoticesIt) {
  startAsync(options());
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("stale") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  const ControlServer::Reply reply = onLoop([this] { return parked_[0].second; });
  auto unblock = blockLoop(*dispatcher_);
  EXPECT_FALSE(reply.abandoned());
  a.close();
  // Still on the blocked loop: no EOF was read, no stats changed; this is the worker's view.
  EXPECT_TRUE(reply.abandoned()) << "the client's close is visible only after the loop runs";
  unblock.set_value();
  EXPECT_TRUE(eventually([this] { return server_->stats().abandoned == 1; }));  // the loop catches up
  EXPECT_TRUE(reply.abandoned());
  release();  // harmless
}

TEST_F(AsyncControlServerTest, AClientThatOnlyShutItsWriteSideIsNotAbandonedBeforeTheLoopRuns) {
  startAsync(options());
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("half") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  const ControlServer::Reply reply = onLoop([this] { return parked_[0].second; });
  {
    auto unblock = blockLoop(*dispatcher_);
    ASSERT_EQ(::shutdown(a.fd(), SHUT_WR), 0);
    EXPECT_FALSE(reply.abandoned());
    unblock.set_value();
  }
  EXPECT_FALSE(onLoop([&] { return reply.abandoned(); }));
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("half"));
  EXPECT_TRUE(a.closedByServer());
  EXPECT_EQ(stats().abandoned, 0u);
}

// The Reply's probe of the socket is a descriptor of its own: released when the reply is
// given, so a Reply kept afterwards (a job object, a log) holds no descriptor and keeps no
// closed client's socket alive, and the daemon's descriptor count stays flat.
TEST_F(AsyncControlServerTest, AKeptReplyHoldsNoDescriptorOnceAnswered) {
  startAsync(options());
  ASSERT_EQ(connections(), 0u);
  const size_t before = openFds().size();
  ControlServer::Reply kept;
  {
    Client a(path_);
    ASSERT_TRUE(a.send(hookRequest("one") + "\n"));
    ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
    const size_t pending = openFds().size();  // + a's socket, the server's end, the probe
    kept = onLoop([this] { return parked_[0].second; });
    release();
    EXPECT_EQ(a.readLine().value_or(""), hookReply("one"));
    // The connection is still open (a has not closed), but the reply was given.
    EXPECT_EQ(openFds().size(), pending - 1) << "the probe outlived the reply";
    EXPECT_EQ(pending, before + 3);
    EXPECT_FALSE(kept.abandoned());
  }
  ASSERT_TRUE(eventually([this] { return server_->connectionCount() == 0; }));
  // The connection is reaped on a later loop iteration; its socket must then be gone.
  ASSERT_TRUE(eventually([&] { return openFds().size() == before; })) << openFds().size() << " vs " << before;
}

TEST_F(AsyncControlServerTest, APendingRequestsProbeIsClosedWithTheConnection) {
  startAsync(options());
  const size_t before = openFds().size();
  ControlServer::Reply kept;
  {
    Client a(path_);
    ASSERT_TRUE(a.send(hookRequest("gone") + "\n"));
    ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
    kept = onLoop([this] { return parked_[0].second; });
  }  // closed while pending; the reply is never given
  ASSERT_TRUE(eventually([this] { return server_->stats().abandoned == 1; }));
  ASSERT_TRUE(eventually([&] { return openFds().size() == before; })) << openFds().size() << " vs " << before;
  EXPECT_TRUE(kept.abandoned());
  onLoop([this] {
    parked_.clear();
    return 0;
  });
}

TEST_F(AsyncControlServerTest, ARequestPipelinedBehindAPendingOneIsStillServedInOrder) {
  startAsync(options());
  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("one") + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  // Sent while "one" is pending: buffered (read to notice a close), handled after it.
  ASSERT_TRUE(a.send(statusRequest("two") + "\n"));
  release();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("one"));
  EXPECT_EQ(a.readLine().value_or(""), statusReply("two"));
}

// The daemon's shape: hooks go to one worker (JobQueue) that runs them in order. A client
// that gives up while its hook waits behind a long job must not have it run later.
TEST_F(ControlServerTest, AHookWhoseClientLeftWhileQueuedBehindALongJobIsNotRun) {
  JobQueue queue;
  queue.start("vnetd-test");
  std::promise<void> release_long;
  std::shared_future<void> released = release_long.get_future().share();
  std::mutex ran_mutex;
  std::vector<std::string> ran, skipped;
  auto s = ControlServer::createAsync(
      *dispatcher_, options(),
      [&](const control::Request& r, const PeerCredentials& peer, ControlServer::Reply reply) {
        JobQueue::Job job;
        job.name = "hook " + r.jail;
        job.run = [&, r, peer, reply, released] {
          if (r.jail == "long") released.wait();
          {
            std::lock_guard<std::mutex> lock(ran_mutex);
            ran.push_back(r.jail);
          }
          dispatcher_->post([reply, line = echoHandler(r, peer)] { reply(line); });
        };
        job.abandoned = [reply] { return reply.abandoned(); };
        job.skipped = [&, r] {
          std::lock_guard<std::mutex> lock(ran_mutex);
          skipped.push_back(r.jail);
        };
        queue.submit(std::move(job));
      });
  ASSERT_TRUE(s) << s.error().message();
  server_ = std::move(*s);
  loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });

  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("long") + "\n"));
  {
    Client b(path_);
    ASSERT_TRUE(b.send(hookRequest("late") + "\n"));
    ASSERT_TRUE(eventually([&] { return queue.size() == 2; }));  // "late" waits behind "long"
  }  // b gives up
  ASSERT_TRUE(eventually([this] { return server_->stats().abandoned == 1; }));
  release_long.set_value();
  EXPECT_EQ(a.readLine().value_or(""), hookReply("long"));
  ASSERT_TRUE(eventually([&] { return queue.size() == 0; }));
  queue.stop();
  std::lock_guard<std::mutex> lock(ran_mutex);
  EXPECT_EQ(ran, std::vector<std::string>{"long"}) << "the abandoned hook ran";
  EXPECT_EQ(skipped, std::vector<std::string>{"late"});
  EXPECT_EQ(queue.skipped(), 1u);
}

// The same after SIGSTOP/SIGCONT: the worker reaches the queued hook while the loop
// thread has not yet read its client's EOF (here: the loop is blocked throughout). The
// hook must still be skipped — a stale `prestop web` must not run after `web` restarted.
TEST_F(ControlServerTest, AHookWhoseClientLeftIsNotRunEvenBeforeTheLoopReadsTheClose) {
  JobQueue queue;
  queue.start("vnetd-test");
  std::promise<void> release_long, late_done;
  std::shared_future<void> released = release_long.get_future().share();
  std::mutex ran_mutex;
  std::vector<std::string> ran, skipped;
  auto s = ControlServer::createAsync(
      *dispatcher_, options(),
      [&](const control::Request& r, const PeerCredentials& peer, ControlServer::Reply reply) {
        JobQueue::Job job;
        job.name = "hook " + r.jail;
        job.run = [&, r, peer, reply, released] {
          if (r.jail == "long") released.wait();
          {
            std::lock_guard<std::mutex> lock(ran_mutex);
            ran.push_back(r.jail);
          }
          if (r.jail == "late") late_done.set_value();
          dispatcher_->post([reply, line = echoHandler(r, peer)] { reply(line); });
        };
        job.abandoned = [reply] { return reply.abandoned(); };
        job.skipped = [&, r] {
          std::lock_guard<std::mutex> lock(ran_mutex);
          skipped.push_back(r.jail);
          late_done.set_value();
        };
        queue.submit(std::move(job));
      });
  ASSERT_TRUE(s) << s.error().message();
  server_ = std::move(*s);
  loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });

  Client a(path_);
  ASSERT_TRUE(a.send(hookRequest("long") + "\n"));
  Client b(path_);
  ASSERT_TRUE(b.send(hookRequest("late") + "\n"));
  ASSERT_TRUE(eventually([&] { return queue.size() == 2; }));  // "late" waits behind "long"
  {
    auto unblock = blockLoop(*dispatcher_);
    b.close();  // b gives up; the loop cannot read that
    release_long.set_value();
    late_done.get_future().wait();  // the worker decided about "late" with the loop still blocked
    unblock.set_value();
  }
  EXPECT_EQ(a.readLine().value_or(""), hookReply("long"));
  queue.stop();
  std::lock_guard<std::mutex> lock(ran_mutex);
  EXPECT_EQ(ran, std::vector<std::string>{"long"}) << "the abandoned hook ran";
  EXPECT_EQ(skipped, std::vector<std::string>{"late"});
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  {
    // A crashed daemon's leftover: a socket file nobody listens on.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  ASSERT_TRUE(S_ISSOCK(st.st_mode));
  start(options());
  Client c(path_);
  EXPECT_EQ(c.request(kPing), pingReply());
}

TEST_F(ControlServerTest, LiveSocketIsNotTakenOver) {
  start(options());
  auto second = onLoop([this] { return ControlServer::create(*dispatcher_, options(), echoHandler); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message(), "control socket " + path_ + " is in use by another process");
  Client c(path_);
  EXPECT_EQ(c.request(kPing), pingReply());
}

TEST_F(ControlServerTest, NonSocketFileIsNeverRemoved) {
  { std::ofstream(path_) << "precious"; }
  auto s = ControlServer::create(*dispatcher_, options(), echoHandler);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("exists and is not a socket"), std::string::npos) << s.error().message();
  auto text = readSmallFile(path_, 64);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "precious");
}

TEST_F(ControlServerTest, DestructorRemovesItsSocketFile) {
  start(options());
  stopLoop();
  server_.reset();
  struct stat st{};
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(ControlServerTest, DestructorLeavesASuccessorsSocketAlone) {
  start(options());
  stopLoop();
  // Someone else now owns the path (a new daemon after deciding ours was stale).
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  UniqueFd other(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(other.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  server_.reset();
  struct stat st{};
  EXPECT_EQ(::lstat(path_.c_str(), &st), 0) << "the successor's socket was removed";
}

TEST_F(ControlServerTest, NoDescriptorLeaks) {
  const size_t before = openFds().size();
  {
    start(options());
    Client pinger(path_), bad(path_), half(path_), idle(path_);
    EXPECT_EQ(pinger.request(kPing), pingReply());
    EXPECT_EQ(bad.request("{"), control::encodeError("request is not valid JSON"));
    ASSERT_TRUE(half.send(kPing));
    ASSERT_EQ(::shutdown(half.fd(), SHUT_WR), 0);
    EXPECT_EQ(half.readLine(), pingReply());
    EXPECT_TRUE(half.closedByServer());
    ASSERT_TRUE(idle.connected());
    ASSERT_TRUE(eventually([this] { return server_->stats().accepted == 4; }));
    stopLoop();
    server_.reset();  // with `idle` (and others) still connected
  }
  EXPECT_EQ(openFds().size(), before);
}

// Out of descriptors: accept() fails with EMFILE while a client waits in the backlog. The
// server must pause accepting instead of spinning on the readable listening socket, and
// serve the client once a descriptor is free again.
TEST_F(ControlServerTest, AcceptPausesInsteadOfSpinningWhenOutOfDescriptors) {
  start(options());
  Client first(path_);
  ASSERT_EQ(first.request(kPing), pingReply());
  // Also warms up what stats() runs (std::promise): UBSan verifies a dynamic type the
  // first time it sees it with a pipe(), which would fail for want of descriptors below.
  ASSERT_EQ(stats().accepted, 1u);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The lowest limit leaving exactly one free descriptor (for the next client's socket):
  // the server's accept() of that client then fails.
  std::set<int> used = openFds();
  rlim_t limit = 0;
  for (int free_slots = 0; free_slots < 1; ++limit)
    if (!used.count(static_cast<int>(limit))) ++free_slots;
  rlimit tight = saved;
  tight.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  // No ASSERTs until the limit is restored: the rest of the suite needs descriptors.
  Client second(path_);
  const bool connected = second.connected();
  const bool sent = connected && second.send(std::string(kPing) + "\n");

  // Nothing answers, and the loop is not burning CPU meanwhile.
  rusage r0{}, r1{};
  ::getrusage(RUSAGE_SELF, &r0);
  pollfd p{second.fd(), POLLIN, 0};
  int ready = ::poll(&p, 1, 300);
  ::getrusage(RUSAGE_SELF, &r1);
  auto cpu = [](const rusage& r) {
    return std::chrono::seconds(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           std::chrono::microseconds(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
  };
  auto burnt = cpu(r1) - cpu(r0);
  const uint64_t accepted_while_short = stats().accepted;  // before the next resume can succeed
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(connected && sent);
  EXPECT_EQ(ready, 0) << "the server answered without a descriptor to spare?";
  EXPECT_LT(burnt, 100ms) << "accept loop spinning while out of descriptors";
  EXPECT_EQ(accepted_while_short, 1u);
  // Descriptors are back: the waiting client is served after the pause.
  EXPECT_EQ(second.readLine(), pingReply());
  EXPECT_EQ(stats().accepted, 2u);
}


// Hand-over: a reply that is a header line followed by a stream the taker writes itself
// (vnetctl capture).
class HandOverTest : public ControlServerTest {
 protected:
  // Capture requests are parked (the test decides when and how to answer); the rest
  // answer at once. Taken fds land in taken_ (loop thread).
  void startHandOver(ControlServerOptions o) {
    auto s = ControlServer::createAsync(
        *dispatcher_, std::move(o),
        [this](const control::Request& r, const PeerCredentials& peer, ControlServer::Reply reply) {
          if (r.op == control::Op::Capture) parked_.push_back(std::move(reply));
          else reply(echoHandler(r, peer));
        });
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
    loop_ = std::thread([this] { EXPECT_TRUE(dispatcher_->run()); });
  }
  // Hands the oldest parked request's connection over with `header`; the taker records
  // what it got.
  void handOver(const std::string& header) {
    onLoop([this, header] {
      auto r = std::move(parked_.front());
      parked_.erase(parked_.begin());
      r.handOver(header, [this](UniqueFd fd) { taken_.push_back(std::move(fd)); });
      return 0;
    });
  }
  size_t parked() {
    return onLoop([this] { return parked_.size(); });
  }
  // Waits until `n` takers ran; then whether the last one got a socket.
  bool lastTakenValid(size_t n) {
    EXPECT_TRUE(eventually([this, n] { return taken_.size() == n; }));
    return onLoop([this] { return !taken_.empty() && taken_.back().valid(); });
  }
  std::vector<ControlServer::Reply> parked_;
  std::vector<UniqueFd> taken_;  // loop thread
};

constexpr const char* kCapture = R"({"v":1,"op":"capture","jail":"web","count":1})";

TEST_F(HandOverTest, HeaderGoesOutThenTheTakerOwnsTheSocketAndLaterInputIsDiscarded) {
  startHandOver(options());
  Client a(path_);
  // A request pipelined behind the capture: never answered (the stream owns the socket).
  ASSERT_TRUE(a.send(std::string(kCapture) + "\n" + kPing + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  Client b(path_);
  EXPECT_EQ(b.request(kPing), pingReply()) << "others are served while a capture is pending";
  handOver(R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":96})");
  EXPECT_EQ(a.readLine().value_or(""), R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":96})");
  ASSERT_TRUE(lastTakenValid(1));
  EXPECT_TRUE(eventually([this] { return server_->connectionCount() == 1; })) << "only b is still served";
  EXPECT_EQ(stats().handed_over, 1u);
  // The taker writes raw bytes (no framing) and closes; the server stays out of it.
  const std::string payload("\xd4\xc3\xb2\xa1\n\0\r binary", 15);
  onLoop([&] {
    EXPECT_EQ(::send(taken_[0].get(), payload.data(), payload.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(payload.size()));
    taken_[0].reset();
    return 0;
  });
  std::string got;
  char buf[64];
  ssize_t n;
  while ((n = ::recv(a.fd(), buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(got, payload) << "the pipelined ping got no reply, and the stream is byte-exact";
  // A handed-over connection is not an idle one: the sweep never touches it.
  EXPECT_EQ(stats().timeouts, 0u);
}

TEST_F(HandOverTest, AHandedOverConnectionIsNotTimedOutWhileTheTakerHoldsIt) {
  auto o = options();
  o.idle_timeout = 50ms;
  startHandOver(o);
  Client a(path_);
  ASSERT_TRUE(a.send(std::string(kCapture) + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  auto until = Clock::now() + 200ms;  // several sweeps while the capture is being set up
  while (Clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stats().timeouts, 0u);
  handOver(R"({"v":1,"ok":true})");
  EXPECT_EQ(a.readLine().value_or(""), R"({"v":1,"ok":true})");
  ASSERT_TRUE(lastTakenValid(1));
  until = Clock::now() + 200ms;
  while (Clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stats().timeouts, 0u);
  onLoop([this] {
    EXPECT_EQ(::send(taken_[0].get(), "x", 1, MSG_NOSIGNAL), 1) << "the socket is still open";
    return 0;
  });
}

TEST_F(HandOverTest, AClientGoneBeforeTheHandOverGivesTheTakerNothing) {
  startHandOver(options());
  {
    Client a(path_);
    ASSERT_TRUE(a.send(std::string(kCapture) + "\n"));
    ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  }
  // Writing the header finds the peer gone (EPIPE), or succeeds into a dead socket's
  // buffer: either way the taker runs once, and with no socket only in the first case.
  handOver(R"({"v":1,"ok":true})");
  EXPECT_TRUE(eventually([this] { return taken_.size() == 1; }));
  EXPECT_TRUE(eventually([this] { return server_->connectionCount() == 0; }));
}

TEST_F(HandOverTest, ASecondAnswerIsIgnoredAndAHandOverAfterAReplyGetsNothing) {
  startHandOver(options());
  Client a(path_);
  ASSERT_TRUE(a.send(std::string(kCapture) + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  onLoop([this] {
    ControlServer::Reply r = parked_.front();  // copies share the same request
    parked_.front()(control::encodeError("no such jail"));
    r.handOver("{}", [this](UniqueFd fd) { taken_.push_back(std::move(fd)); });
    parked_.clear();
    return 0;
  });
  EXPECT_EQ(a.readLine().value_or(""), control::encodeError("no such jail"));
  EXPECT_FALSE(lastTakenValid(1)) << "the connection was answered, not handed over";
  EXPECT_EQ(a.request(kPing), pingReply()) << "and it keeps serving";
  // A handed-over request's plain reply is ignored too.
  ASSERT_TRUE(a.send(std::string(kCapture) + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  onLoop([this] {
    ControlServer::Reply r = parked_.front();
    r.handOver(R"({"v":1,"ok":true})", [this](UniqueFd fd) { taken_.push_back(std::move(fd)); });
    parked_.front()(control::encodeError("late"));
    parked_.clear();
    return 0;
  });
  EXPECT_EQ(a.readLine().value_or(""), R"({"v":1,"ok":true})");
  EXPECT_TRUE(lastTakenValid(2));
}

TEST_F(HandOverTest, ServerDestroyedWithAPendingRequestOrAPlainReplyGivesTheTakerNothing) {
  startHandOver(options());
  Client a(path_);
  ASSERT_TRUE(a.send(std::string(kCapture) + "\n"));
  ASSERT_TRUE(eventually([this] { return parked_.size() == 1; }));
  onLoop([this] {
    server_.reset();
    return 0;
  });
  handOver(R"({"v":1,"ok":true})");  // after destruction: the taker still runs, with nothing
  EXPECT_FALSE(lastTakenValid(1));
  EXPECT_TRUE(a.closedByServer());
  // A Reply made of a plain function (tests, adapters) cannot hand over either.
  bool called = false, valid = true;
  ControlServer::Reply plain = [](std::string) {};
  plain.handOver("{}", [&](UniqueFd fd) {
    called = true;
    valid = fd.valid();
  });
  EXPECT_TRUE(called);
  EXPECT_FALSE(valid);
}

}  // namespace
}  // namespace vnetd::daemon
