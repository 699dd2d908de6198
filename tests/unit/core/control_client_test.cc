#include "core/control_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <vector>
#include <thread>

#include "core/unique_fd.h"

namespace vnetd::control {
namespace {

// A one-connection server whose behaviour each test chooses.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int)> behaviour) {
    char tmpl[] = "/tmp/vnetd-client-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/s.sock";
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_.get(), 4), 0);
    thread_ = std::thread([this, behaviour] {
      UniqueFd c(::accept(listen_.get(), nullptr, nullptr));
      if (c) behaviour(c.get());
    });
  }
  ~OneShotServer() {
    thread_.join();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  UniqueFd listen_;
  std::thread thread_;
};

std::string readLine(int fd) {
  std::string in;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') in += c;
  return in;
}

TEST(ControlClient, RoundTrip) {
  OneShotServer server([](int fd) {
    std::string req = readLine(fd);
    std::string reply = "echo:" + req + "\r\n";  // a CRLF peer is tolerated
    ASSERT_EQ(::write(fd, reply.data(), reply.size()), static_cast<ssize_t>(reply.size()));
  });
  auto r = call(server.path(), "hello", std::chrono::seconds(5));
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(r.reply, "echo:hello");
}

TEST(ControlClient, NoDaemonIsUnreachable) {
  auto r = call("/nonexistent/vnetd.sock", "x", std::chrono::seconds(1));
  EXPECT_EQ(r.failure, CallFailure::Unreachable);
  EXPECT_EQ(r.error.message(), "connect /nonexistent/vnetd.sock: No such file or directory");
}

TEST(ControlClient, ADaemonThatDiesMidRequestIsLost) {
  OneShotServer server([](int fd) {
    (void)readLine(fd);
    ASSERT_EQ(::write(fd, "{\"v\":1", 6), 6);  // half a reply, then gone
  });
  auto r = call(server.path(), "x", std::chrono::seconds(5));
  EXPECT_EQ(r.failure, CallFailure::Lost);
  EXPECT_EQ(r.error.message(), "vnetd closed the connection before replying");
}

TEST(ControlClient, ASilentDaemonTimesOut) {
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  OneShotServer server([&](int fd) {
    (void)readLine(fd);
    char c;
    (void)::read(done[0], &c, 1);  // silent until the client gave up
  });
  auto start = std::chrono::steady_clock::now();
  auto r = call(server.path(), "x", std::chrono::milliseconds(200));
  EXPECT_EQ(r.failure, CallFailure::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(::write(done[1], "x", 1), 1);
  ::close(done[0]);
  ::close(done[1]);
}

TEST(ControlClient, AnEndlessReplyIsBounded) {
  OneShotServer server([](int fd) {
    (void)readLine(fd);
    std::string junk(4096, 'x');
    for (int i = 0; i < 64; ++i)
      if (::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) < 0) break;
  });
  auto r = call(server.path(), "x", std::chrono::seconds(5), 16384);
  EXPECT_EQ(r.failure, CallFailure::Lost);
  EXPECT_NE(r.error.message().find("larger than 16384 bytes"), std::string::npos) << r.error.message();
}

// What the daemon may have is what matters to vnetd-hook: Unreachable exactly when not
// one byte of the request went out.
TEST(ControlClient, APeerGoneBeforeTheFirstByteIsUnreachableNothingWasSent) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ::close(sv[1]);  // connected, then closed unread: the first send fails with EPIPE
  auto r = exchange(UniqueFd(sv[0]), "test socket", "hello", std::chrono::seconds(5));
  EXPECT_EQ(r.failure, CallFailure::Unreachable);
  EXPECT_FALSE(r.maybeReceived());
  EXPECT_EQ(r.error.code, EPIPE);
  EXPECT_NE(r.error.message().find("nothing was sent"), std::string::npos) << r.error.message();
}

TEST(ControlClient, AFullSocketBeforeTheFirstByteTimesOutAsUnreachable) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  // Fill the peer's receive buffer (nobody reads it): not even the first byte fits.
  std::string junk(65536, 'x');
  while (::send(sv[0], junk.data(), junk.size(), MSG_NOSIGNAL) > 0) {
  }
  while (::send(sv[0], junk.data(), 1, MSG_NOSIGNAL) > 0) {
  }
  auto r = exchange(UniqueFd(sv[0]), "test socket", "hello", std::chrono::milliseconds(100));
  EXPECT_EQ(r.failure, CallFailure::Unreachable) << r.error.message();
  ::close(sv[1]);
}

// A daemon that does not accept (SIGSTOPped, or swamped) with a full listen backlog: a
// blocking connect() would wait for it forever on Linux, and vnetd-hook with it. The call
// must end within its timeout, as Unreachable (nothing was sent: the hook may do the work
// itself).
TEST(ControlClient, AListenerWhoseBacklogIsFullIsUnreachableWithinTheTimeout) {
  char tmpl[] = "/tmp/vnetd-client-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, path = dir + "/s.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 0), 0);  // never accepts; the smallest backlog
  // Fill the backlog with other clients until the kernel takes no more (non-blocking
  // connects: EAGAIN on Linux, ECONNREFUSED on FreeBSD).
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 64; ++i) {
    UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) break;
    queued.push_back(std::move(c));
  }
  ASSERT_LT(queued.size(), 64u) << "the backlog never filled";

  constexpr auto kTimeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto pending = std::async(std::launch::async, [&] { return call(path, "hello", kTimeout); });
  if (pending.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "call() is stuck in connect() past its timeout";
    listener.reset();  // wakes the stuck connect (ECONNREFUSED) so the test can end
  }
  auto r = pending.get();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.failure, CallFailure::Unreachable) << r.error.message();
  EXPECT_FALSE(r.maybeReceived());
  EXPECT_LT(took, kTimeout + std::chrono::seconds(2));
  EXPECT_NE(r.error.message().find(path), std::string::npos) << r.error.message();
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(ControlClient, SentThenNoAnswerMayHaveBeenReceived) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto timed_out = exchange(UniqueFd(::dup(sv[0])), "test socket", "hello", std::chrono::milliseconds(50));
  EXPECT_EQ(timed_out.failure, CallFailure::Timeout);
  EXPECT_TRUE(timed_out.maybeReceived());
  EXPECT_EQ(readLine(sv[1]), "hello") << "the request did go out";
  ::close(sv[1]);  // the "daemon" goes away after reading it
  auto lost = exchange(UniqueFd(sv[0]), "test socket", "again", std::chrono::seconds(5));
  // The first send to a peer that has gone may still land in the kernel (Lost) or fail
  // at once (nothing sent: Unreachable); it is never taken for an answer.
  EXPECT_FALSE(lost.ok());
}

}  // namespace
}  // namespace vnetd::control
