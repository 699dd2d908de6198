// vnetd daemon under stress, on real namespaces, veths and bridges:
//  - SIGKILL in the middle of 50 concurrent jail starts, restart while hooks still run:
//    the hooks ask again (the restarted daemon, or standalone while none listens), every
//    jail ends up working and recorded once;
//  - an interface storm (500 unrelated interfaces) while jails start: status stays fast;
//  - hostile control clients (wrong uid, garbage, oversized lines, half-open and many
//    parallel connections): refused or answered, no descriptor leaks, the daemon survives.
// Test network rules (DESIGN.md): only this run's prefixed names, 198.18.0.0/15 addresses,
// bounded generators, clean-up on failure (scope guards + TestNet's sweep).
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/control_client.h"
#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::TestNet;

constexpr const char* kPing = R"({"v":1,"op":"ping"})";
constexpr const char* kStatus = R"({"v":1,"op":"status"})";

// Polls `done` every `step` until it holds or `timeout` passes (for conditions that have
// no event to wait on, e.g. the daemon's descriptor count). True when it held.
bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = 20ms) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// Joins every thread on scope exit, so a failed ASSERT never leaves a joinable thread.
struct Joiner {
  std::vector<std::thread> threads;
  ~Joiner() { joinAll(); }
  void joinAll() {
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

// Lines of `text` containing `needle`.
size_t countLines(const std::string& text, const std::string& needle) {
  size_t n = 0, start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line(text.data() + start, (nl == std::string::npos ? text.size() : nl) - start);
    if (line.find(needle) != std::string_view::npos) ++n;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return n;
}

bool linkExists(const std::string& name) { return std::filesystem::exists("/sys/class/net/" + name); }

Json parse(const std::string& line) { return Json::parse(line, nullptr, false); }
bool isOk(const Json& doc) { return doc.is_object() && doc.value("ok", false) == true; }
bool isError(const Json& doc) { return doc.is_object() && doc.contains("ok") && doc["ok"] == false && doc.contains("error"); }

// A plain AF_UNIX stream client with send/receive timeouts: the hostile side.
class RawClient {
 public:
  explicit RawClient(const std::string& path, int timeout_ms = 5000) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) {
      error_ = errno;
      return;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = errno;
      fd_.reset();
    }
  }
  bool connected() const { return fd_.valid(); }
  int error() const { return error_; }

  // Everything, or false (errno in error()) when the peer went away or the send timed out.
  bool sendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = errno;
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One line without its '\n'; nullopt on EOF, error or timeout (errno in error(), 0 for EOF).
  std::optional<std::string> readLine() {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = n == 0 ? 0 : errno;
        return std::nullopt;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  // True when the daemon closed the connection (EOF or reset), false on a timeout or data.
  bool closedByPeer() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_.get(), &c, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET || errno == EPIPE;
      return false;
    }
  }

  // True when nothing is waiting to be read right now (the connection is still open).
  bool nothingPending() {
    char c;
    ssize_t n = ::recv(fd_.get(), &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::optional<std::string> roundTrip(const std::string& request) {
    if (!sendAll(request + "\n")) return std::nullopt;
    return readLine();
  }

  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
  int error_ = 0;
  std::string buf_;
};

// What an unprivileged client (uid/gid 65534) got from the control socket.
struct UnprivilegedResult {
  bool ran = false;         // the child reported at all
  bool connected = false;
  int connect_errno = 0;
  std::string reply;        // the first line it received, if any
};

// Forks a child that drops to nobody (65534) and sends a ping. Only async-signal-safe
// calls after fork(): everything it needs is prepared before.
UnprivilegedResult pingAsNobody(const std::string& socket_path) {
  UnprivilegedResult res;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  const std::string request = std::string(kPing) + "\n";
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return res;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    // Report: 'C' + reply bytes when connected, 'E' + errno byte when connect failed,
    // 'P' when dropping privileges failed.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0 || ::getuid() != 65534) {
      (void)!::write(pipefd[1], "P", 1);
      ::_exit(1);
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      char msg[2] = {'E', static_cast<char>(errno)};
      (void)!::write(pipefd[1], msg, 2);
      ::_exit(0);
    }
    (void)!::write(pipefd[1], "C", 1);
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[1024];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      (void)!::write(pipefd[1], buf, static_cast<size_t>(n));
      if (std::memchr(buf, '\n', static_cast<size_t>(n))) break;
    }
    ::_exit(0);
  }
  ::close(pipefd[1]);
  if (pid < 0) {
    ::close(pipefd[0]);
    return res;
  }
  std::string got;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  if (got.empty()) return res;
  res.ran = got[0] != 'P';
  if (got[0] == 'E' && got.size() >= 2) res.connect_errno = static_cast<unsigned char>(got[1]);
  if (got[0] == 'C') {
    res.connected = true;
    res.reply = got.substr(1, got.find('\n') == std::string::npos ? std::string::npos : got.find('\n') - 1);
  }
  return res;
}

class DaemonStressTest : public DaemonFixture {
 protected:
  // Jails (names unique to this run) with their namespaces created up front.
  std::vector<std::string> makeJails(int n, const std::string& label) {
    std::vector<std::string> jails;
    for (int i = 0; i < n; ++i) {
      jails.push_back(net_.jailName(label));
      net_.addNamespace(jails.back());
      EXPECT_TRUE(std::filesystem::exists("/run/netns/" + jails.back())) << jails.back();
    }
    return jails;
  }

  // Distinct jails whose "<phase> <jail>: done" line the daemon has logged.
  size_t jailsLoggedDone(const std::string& phase, const std::vector<std::string>& jails) const {
    std::string log = daemon_->log();
    size_t n = 0;
    for (const auto& j : jails) n += log.find(phase + " " + j + ": done") != std::string::npos;
    return n;
  }

  // Pings `gateway` from every jail, a few at a time; the jails that could not.
  static std::vector<std::string> jailsNotReaching(const std::vector<std::string>& jails, const std::string& gateway) {
    std::vector<char> ok(jails.size(), 0);
    std::atomic<size_t> next{0};
    Joiner workers;
    for (int w = 0; w < 8; ++w)
      workers.threads.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < jails.size();) ok[i] = TestNet::ping(jails[i], gateway);
      });
    workers.joinAll();
    // A jail whose three pings all went unanswered on a CI machine saturated by parallel
    // sanitizer tests gets one more, slower try; one that fails that too is reported with
    // what its stack and the bridge look like, so the failure says why.
    std::vector<std::string> failed;
    for (size_t i = 0; i < jails.size(); ++i) {
      if (ok[i]) continue;
      auto again = testing::run({"ip", "netns", "exec", jails[i], "ping", "-n", "-q", "-c", "5", "-i", "0.5", "-W",
                                 "3", gateway},
                                30);
      if (again.status == 0) {
        std::printf("[ ping     ] %s reached %s only at the second try\n", jails[i].c_str(), gateway.c_str());
        continue;
      }
      std::string why = jails[i] + " (";
      for (const auto& argv : std::vector<std::vector<std::string>>{{"ip", "-br", "addr"}, {"ip", "route"},
                                                                     {"ip", "neigh"}})
        why += testing::run([&] {
                 std::vector<std::string> a = {"ip", "netns", "exec", jails[i]};
                 a.insert(a.end(), argv.begin(), argv.end());
                 return a;
               }(), 10).out + "; ";
      failed.push_back(why + ")");
    }
    return failed;
  }
};

// ------------------------------------------------------------------------------- crash

TEST_F(DaemonStressTest, SigkillDuringFiftyJailStartsThenRestartLeavesEveryJailWorking) {
  constexpr int kJails = 50;
  constexpr size_t kKillAfter = 10;  // prestarts the daemon finishes before it is killed
  const std::string br = net_.bridgeName("cb");
  const std::string gateway = "198.18.100.1";
  writeConfig(bridgeWithDefaults(br, gateway + "/22"));  // 198.18.100.0/22: room for 1021 jails
  const auto jails = makeJails(kJails, "c");
  ASSERT_FALSE(HasFailure());
  startDaemon();
  ASSERT_FALSE(HasFatalFailure());

  struct Outcome {
    CommandResult prestart, created;
  };
  std::vector<Outcome> out(kJails);
  auto started = Clock::now();
  Joiner hooks;
  for (int i = 0; i < kJails; ++i)
    hooks.threads.emplace_back([&, i] {
      out[i].prestart = hook("prestart", jails[i]);
      if (out[i].prestart.status == 0) out[i].created = hook("created", jails[i]);
    });

  // Kill it mid-way: once ~10 jails' prestarts are done (the rest queue behind them).
  bool reached = pollUntil([&] { return jailsLoggedDone("prestart", jails) >= kKillAfter; }, 60s, 5ms);
  EXPECT_TRUE(reached) << "the daemon did not finish " << kKillAfter << " prestarts within 60 s";
  size_t done_before_kill = jailsLoggedDone("prestart", jails);
  EXPECT_EQ(daemon_->stop(SIGKILL), 128 + SIGKILL);
  auto killed = Clock::now();
  // Restart while the remaining hooks (now standalone) still run.
  std::string why;
  ASSERT_TRUE(daemon_->start(&why)) << why;
  auto restarted = Clock::now();
  hooks.joinAll();
  auto finished = Clock::now();
  auto ms = [](auto d) { return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };

  // Every hook succeeded. Its stderr holds only warnings: at most one fallback line
  // ("...; doing <phase> <jail> without it"), and for the prestart the daemon was killed
  // in the middle of, possibly one about re-creating the pair that prestart left behind.
  size_t fallback_prestart = 0, fallback_created = 0, warning_lines = 0, interrupted = 0;
  for (int i = 0; i < kJails; ++i) {
    const auto& [pre, cre] = out[i];
    EXPECT_EQ(pre.status, 0) << jails[i] << " prestart: " << pre.err;
    if (pre.status != 0) {
      // What the interrupted prestart left, against the marks vnetd recognises its own by.
      std::string host_side = interfaceName(jails[i], 0, Side::A);
      if (auto l = host_->link(host_side); l && *l)
        ADD_FAILURE() << ((*l)->description.empty() && (*l)->mac == deriveMac(hostId(), jails[i], 0, Side::A)
                              ? "PRODUCT BUG: the SIGKILLed daemon created the pair (one RTM_NEWLINK, with the MAC) "
                                "but died before setting its description, so the fallback does not recognise the "
                                "leftover as its own (isInterruptedPrestartLeftover wants both marks) and the jail "
                                "cannot start. "
                              : "")
                      << host_side << " left on the host: description \"" << (*l)->description << "\" (vnetd's: \"vnetd:"
                      << jails[i] << ":0\"), MAC " << (*l)->mac.toString() << " (vnetd's: "
                      << deriveMac(hostId(), jails[i], 0, Side::A).toString() << "), "
                      << ((*l)->admin_up ? "up" : "down") << ", master index " << (*l)->master_index;
    }
    EXPECT_EQ(pre.out, interfaceName(jails[i], 0, Side::B) + "\n") << jails[i];
    EXPECT_EQ(cre.status, 0) << jails[i] << " created: " << cre.err;
    for (const auto* r : {&pre, &cre}) {
      size_t lines = static_cast<size_t>(std::count(r->err.begin(), r->err.end(), '\n')), warnings = countLines(r->err, "vnetd-hook: warning: ");
      EXPECT_EQ(warnings, lines) << jails[i] << ": only warning lines expected:\n" << r->err;
      EXPECT_LE(countLines(r->err, "without it"), 1u) << jails[i] << ": " << r->err;
      warning_lines += warnings;
      interrupted += countLines(r->err, "interrupted prestart");
    }
    fallback_prestart += countLines(pre.err, "without it");
    fallback_created += countLines(cre.err, "without it");
  }
  std::printf("[ crash    ] %d jails; daemon killed after %zu prestarts (%lld ms), restarted in %lld ms, all hooks "
              "done after %lld ms; standalone fallbacks: %zu prestart + %zu created = %zu of %d hooks; %zu "
              "warning lines in all (%zu about a pair left by the interrupted prestart)\n",
              kJails, done_before_kill, ms(killed - started), ms(restarted - killed), ms(finished - started),
              fallback_prestart, fallback_created, fallback_prestart + fallback_created, 2 * kJails, warning_lines,
              interrupted);
  RecordProperty("standalone_fallbacks", static_cast<int>(fallback_prestart + fallback_created));
  RecordProperty("warning_lines", static_cast<int>(warning_lines));
  RecordProperty("killed_after_prestarts", static_cast<int>(done_before_kill));
  // The daemon was killed with hooks queued. Their connections were lost, so each asked
  // again: the restarted daemon, or standalone while none listened (issue 15: a hook
  // never does work itself that a live daemon may still do) — how many fell back depends
  // on how fast the restart was, and may be none. It was in the middle of at most one hook.
  EXPECT_LE(interrupted, 1u);

  // Host: one host side per jail, named as generated, in the bridge; nothing else of ours.
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge) << "bridge " << br;
  std::vector<std::string> expected{br};
  for (const auto& j : jails) {
    std::string host_side = interfaceName(j, 0, Side::A);
    expected.push_back(host_side);
    auto l = hostLink(host_side);
    EXPECT_TRUE(l) << host_side;
    if (l) {
      EXPECT_EQ(l->master_index, bridge->index) << host_side << " is not a member of " << br;
    }
    EXPECT_FALSE(linkExists(interfaceName(j, 0, Side::B))) << "jail side of " << j << " left on the host";
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(TestNet::ownLinks(), expected);

  // State: exactly these jails, each with its generated host name and its own address.
  State s = loadState();
  EXPECT_EQ(s.jails.size(), static_cast<size_t>(kJails));
  std::set<std::string> host_names, addresses;
  for (const auto& j : jails) {
    auto it = s.jails.find(j);
    if (it == s.jails.end()) {
      ADD_FAILURE() << j << " is not recorded";
      continue;
    }
    EXPECT_EQ(it->second.phase, "created") << j;
    ASSERT_EQ(it->second.interfaces.size(), 1u) << j;
    const auto& ir = it->second.interfaces[0];
    EXPECT_EQ(ir.host_name, interfaceName(j, 0, Side::A));
    EXPECT_EQ(ir.bridge, br) << j;
    host_names.insert(ir.host_name);
    ASSERT_EQ(ir.addresses.size(), 1u) << j;
    EXPECT_EQ(ir.addresses[0].rfind("198.18.10", 0), 0u) << j << ": " << ir.addresses[0];
    EXPECT_NE(ir.addresses[0], gateway + "/22") << j;
    addresses.insert(ir.addresses[0]);
  }
  EXPECT_EQ(host_names.size(), static_cast<size_t>(kJails)) << "host names are not distinct";
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kJails)) << "addresses are not distinct";

  // Data path: every jail reaches the gateway.
  auto unreachable = jailsNotReaching(jails, gateway);
  EXPECT_TRUE(unreachable.empty()) << unreachable.size() << " jails cannot ping " << gateway << ", e.g. "
                                   << unreachable.front();

  // The restarted daemon knows all of them.
  Json st = status();
  std::set<std::string> listed;
  for (const auto& j : st["jails"]) {
    listed.insert(j.value("name", ""));
    for (const auto& i : j["interfaces"]) EXPECT_EQ(i["host"].value("in_bridge", false), true) << j.dump();
  }
  EXPECT_EQ(listed, std::set<std::string>(jails.begin(), jails.end()));
}

// ------------------------------------------------------------------------------- storm

TEST_F(DaemonStressTest, StatusStaysFastDuringAnInterfaceStormWhileJailsStart) {
  constexpr int kJails = 10;
  constexpr int kPairs = 250;  // 500 interfaces created, then destroyed
  const std::string br = net_.bridgeName("sb");
  const std::string gateway = "198.18.104.1";
  writeConfig(bridgeWithDefaults(br, gateway + "/24"));
  const auto jails = makeJails(kJails, "s");
  ASSERT_FALSE(HasFailure());
  startDaemon();
  ASSERT_FALSE(HasFatalFailure());

  // The storm: ip -batch files in the temp dir (testing::run feeds no stdin).
  std::vector<std::string> storm_links;
  std::string add, del;
  for (int n = 0; n < kPairs; ++n) {
    std::string a = testing::runPrefix() + "s" + std::to_string(n), b = testing::runPrefix() + "t" + std::to_string(n);
    storm_links.push_back(a);
    storm_links.push_back(b);
    add += "link add " + a + " type veth peer name " + b + "\n";
    del += "link del " + a + "\n";  // takes its peer along
  }
  dir_.write("storm-add.batch", add);
  dir_.write("storm-del.batch", del);
  // Whatever happens, no storm interface outlives the test.
  struct StormGuard {
    const std::vector<std::string>& links;
    ~StormGuard() {
      for (const auto& l : links)
        if (linkExists(l)) testing::run({"ip", "link", "del", l}, 10);
    }
  } storm_guard{storm_links};

  std::atomic<bool> storm_done{false};
  std::atomic<int> jails_done{0};
  // What was going on during each status request, to tell where waiting comes from.
  std::atomic<int> storm_phase{0};  // 0 before, 1 creating, 2 destroying, 3 after
  std::atomic<int> hooks_running{0};
  struct Sample {
    double ms;
    int storm_phase;
    bool hooks;
  };
  std::vector<Sample> samples;
  CommandResult storm_add, storm_del;
  size_t storm_peak = 0;
  std::vector<CommandResult> pre(kJails), cre(kJails);
  std::vector<double> latencies_ms;
  std::vector<double> ping_ms;
  std::vector<std::string> bad_replies;
  Joiner threads;

  // Status requests, one after the other, until the storm and the jails are done (bounded).
  threads.threads.emplace_back([&] {
    auto deadline = Clock::now() + 90s;
    while (!(storm_done && jails_done == kJails) && Clock::now() < deadline) {
      int phase = storm_phase;
      bool hooks = hooks_running > 0;
      auto t0 = Clock::now();
      auto r = control::call(socketPath(), kStatus, 10s);
      auto dt = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      latencies_ms.push_back(dt);
      samples.push_back({dt, std::max(phase, static_cast<int>(storm_phase)), hooks || hooks_running > 0});
      static const char* const kPhase[] = {"before the storm", "storm creating", "storm destroying", "after the storm"};
      std::string when = std::string("[") + kPhase[samples.back().storm_phase] +
                         (samples.back().hooks ? ", hooks in flight] " : "] ");
      if (!r.ok()) bad_replies.push_back(when + "no reply: " + r.error.message());
      else if (!isOk(parse(r.reply))) bad_replies.push_back(when + r.reply.substr(0, 300));
      // The floor: a ping costs the same connection and loop turn as a status request but
      // no work. On a machine busy with other builds the loop thread itself waits for a
      // CPU; pings measure that wait in this same run.
      auto p0 = Clock::now();
      auto p = control::call(socketPath(), kPing, 10s);
      ping_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - p0).count());
      if (!p.ok()) bad_replies.push_back(when + "no reply to ping: " + p.error.message());
    }
  });
  threads.threads.emplace_back([&] {
    storm_phase = 1;
    storm_add = testing::run({"ip", "-force", "-batch", dir_.file("storm-add.batch")}, 60);
    size_t present = 0;
    for (const auto& l : storm_links) present += linkExists(l);
    storm_peak = present;
    storm_phase = 2;
    storm_del = testing::run({"ip", "-force", "-batch", dir_.file("storm-del.batch")}, 60);
    storm_phase = 3;
    storm_done = true;
  });
  auto started = Clock::now();
  for (int i = 0; i < kJails; ++i)
    threads.threads.emplace_back([&, i] {
      ++hooks_running;
      pre[i] = hook("prestart", jails[i]);
      if (pre[i].status == 0) cre[i] = hook("created", jails[i]);
      --hooks_running;
      ++jails_done;
    });
  threads.joinAll();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();

  EXPECT_EQ(storm_add.status, 0) << storm_add.err;
  EXPECT_EQ(storm_del.status, 0) << storm_del.err;
  EXPECT_EQ(storm_peak, storm_links.size()) << "the storm did not create all its interfaces";
  for (int i = 0; i < kJails; ++i) {
    EXPECT_EQ(pre[i].status, 0) << jails[i] << ": " << pre[i].err;
    EXPECT_EQ(cre[i].status, 0) << jails[i] << ": " << cre[i].err;
    EXPECT_EQ(pre[i].err + cre[i].err, "") << "hooks must go through the daemon, without fallback";
  }
  EXPECT_TRUE(bad_replies.empty()) << bad_replies.size() << " bad status replies, first: " << bad_replies.front();

  ASSERT_FALSE(latencies_ms.empty());
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  double max = sorted.back(), median = sorted[sorted.size() / 2];
  double p90 = sorted[std::min(sorted.size() - 1, sorted.size() * 9 / 10)];
  double ping_max = ping_ms.empty() ? 0 : *std::max_element(ping_ms.begin(), ping_ms.end());
  std::printf("[ storm    ] %zu status requests in %lld ms during %d jail starts and %zu interfaces created+destroyed: "
              "latency median %.1f ms, p90 %.1f ms, max %.1f ms (ping max %.1f ms)\n",
              sorted.size(), static_cast<long long>(elapsed), kJails, storm_links.size(), median, p90, max, ping_max);
  // Where the slow ones were: by storm phase, and with or without hooks in flight.
  auto worst = [&](const std::function<bool(const Sample&)>& pick) {
    double m = 0;
    int n = 0;
    for (const auto& x : samples)
      if (pick(x)) m = std::max(m, x.ms), ++n;
    return std::to_string(n) + " req, max " + std::to_string(static_cast<int>(m)) + " ms";
  };
  std::printf("[ storm    ] storm creating: %s; destroying: %s; no storm: %s; hooks in flight: %s; no hooks: %s\n",
              worst([](const Sample& x) { return x.storm_phase == 1; }).c_str(),
              worst([](const Sample& x) { return x.storm_phase == 2; }).c_str(),
              worst([](const Sample& x) { return x.storm_phase == 0 || x.storm_phase == 3; }).c_str(),
              worst([](const Sample& x) { return x.hooks; }).c_str(),
              worst([](const Sample& x) { return !x.hooks; }).c_str());
  RecordProperty("status_requests", static_cast<int>(sorted.size()));
  RecordProperty("status_latency_median_us", static_cast<int>(median * 1000));
  RecordProperty("status_latency_max_us", static_cast<int>(max * 1000));
  // The issue's bound, over the floor measured alongside (the slowest ping: what the loop
  // waited for a CPU). Hooks run on the daemon's mutator thread, so status (on the loop)
  // no longer waits behind them, and it queries only the links vnetd manages. Under
  // ASan/UBSan every instruction costs several times more: the numbers are printed, the
  // bound is checked in the normal build only.
#if defined(VNETD_SANITIZED)
  std::printf("[ storm    ] sanitizer build: latency bound reported, not enforced\n");
#else
  EXPECT_LT(max, 100.0 + ping_max) << "status waited " << max << " ms (median " << median << " ms, " << sorted.size()
                                   << " requests; the slowest ping took " << ping_max << " ms)";
#endif

  for (const auto& l : storm_links) EXPECT_FALSE(linkExists(l)) << l;
  auto unreachable = jailsNotReaching(jails, gateway);
  EXPECT_TRUE(unreachable.empty()) << unreachable.size() << " jails cannot ping " << gateway << ", e.g. "
                                   << unreachable.front();
  Json st = status();
  EXPECT_EQ(st["jails"].size(), static_cast<size_t>(kJails));
}

// ------------------------------------------------------------------------------ hostile

TEST_F(DaemonStressTest, HostileClientsAreRefusedOrAnsweredAndLeakNothing) {
  // No timer passes during the test: the descriptor count is then the loop's alone.
  writeConfig(bridgeWithDefaults(net_.bridgeName("hb"), "198.18.105.1/24"), 60, 3600);
  startDaemon();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sock = socketPath();
  ASSERT_TRUE(isOk(parse(daemon_->request(kPing))));
  // The baseline is the idle daemon's count: the ping's connection is closed (when the
  // daemon reads its EOF) and no pass of the start-up reconcile is in progress, i.e. the
  // count holds still over 5 consecutive samples.
  int fds_before = -1;
  {
    int same = 0, last = -2;
    ASSERT_TRUE(pollUntil(
        [&] {
          int n = testing::countOpenFds(daemon_->pid());
          same = n == last ? same + 1 : 0;
          last = n;
          return same >= 4;
        },
        5s))
        << "the daemon's descriptor count does not settle";
    fds_before = last;
  }
  ASSERT_GT(fds_before, 0);

  // (a) A uid that is not permitted. The temp dir is 0700; let others search it so the
  // socket's own mode is what stops them.
  {
    struct stat st{};
    ASSERT_EQ(::stat(sock.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    struct Restore {
      std::string dir, sock;
      ~Restore() {
        ::chmod(sock.c_str(), 0600);
        ::chmod(dir.c_str(), 0700);
      }
    } restore{dir_.path(), sock};
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    auto r = pingAsNobody(sock);
    ASSERT_TRUE(r.ran) << "could not become uid 65534";
    EXPECT_FALSE(r.connected) << "uid 65534 connected to a 0600 socket; reply: " << r.reply;
    EXPECT_EQ(r.connect_errno, EACCES) << std::strerror(r.connect_errno);

    // An administrator's mistake: the socket made world-writable. The daemon still refuses.
    ASSERT_EQ(::chmod(sock.c_str(), 0666), 0);
    r = pingAsNobody(sock);
    ASSERT_TRUE(r.ran);
    EXPECT_TRUE(r.connected) << std::strerror(r.connect_errno);
    Json reply = parse(r.reply);
    EXPECT_TRUE(isError(reply)) << r.reply;
    EXPECT_NE(r.reply.find("permission denied"), std::string::npos) << r.reply;
  }
  EXPECT_TRUE(daemon_->waitForLog("refused pid", 5000)) << "the refusal is logged";

  // (b) Garbage: one error reply, and the same connection still works.
  {
    RawClient c(sock);
    ASSERT_TRUE(c.connected()) << std::strerror(c.error());
    auto r = c.roundTrip("this is {not json");
    ASSERT_TRUE(r) << std::strerror(c.error());
    EXPECT_TRUE(isError(parse(*r))) << *r;
    r = c.roundTrip(std::string("\x01\x02\xff\xfe{\"v\":1", 10));
    ASSERT_TRUE(r) << std::strerror(c.error());
    EXPECT_TRUE(isError(parse(*r))) << *r;
    r = c.roundTrip(R"({"v":1,"op":"ping","jail":"x"})");
    ASSERT_TRUE(r);
    EXPECT_TRUE(isError(parse(*r))) << *r;
    r = c.roundTrip(kPing);
    ASSERT_TRUE(r) << std::strerror(c.error());
    EXPECT_TRUE(isOk(parse(*r))) << *r;
    EXPECT_TRUE(c.nothingPending()) << "exactly one reply per line";
  }

  // (c) A 10 MB line without a newline: one error reply, then the daemon closes it.
  {
    RawClient c(sock);
    ASSERT_TRUE(c.connected()) << std::strerror(c.error());
    std::string huge(10 << 20, 'x');
    huge.replace(0, 7, "{\"v\":1,");
    bool all_sent = c.sendAll(huge);  // fails (EPIPE) once the daemon has closed
    if (!all_sent) {
      EXPECT_TRUE(c.error() == EPIPE || c.error() == ECONNRESET) << std::strerror(c.error());
    }
    auto r = c.readLine();
    ASSERT_TRUE(r) << "no reply to an oversized line: " << std::strerror(c.error());
    EXPECT_TRUE(isError(parse(*r))) << *r;
    EXPECT_NE(r->find("larger than"), std::string::npos) << *r;
    EXPECT_TRUE(c.closedByPeer()) << "the connection stays open after an oversized line";
    EXPECT_TRUE(isOk(parse(daemon_->request(kPing, 5000)))) << "the daemon stopped serving";
  }

  // (d) + (e) A half-open connection (partial line, kept open) while 200 parallel
  // connections each send one request.
  {
    RawClient half(sock);
    ASSERT_TRUE(half.connected()) << std::strerror(half.error());
    ASSERT_TRUE(half.sendAll(R"({"v":1,"op":"pi)"));
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(isOk(parse(daemon_->request(kPing, 5000))));
      EXPECT_TRUE(isOk(parse(daemon_->request(kStatus, 5000))));
    }

    constexpr int kClients = 200;
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<RawClient>(sock));
      ASSERT_TRUE(clients.back()->connected()) << "client " << i << ": " << std::strerror(clients.back()->error());
    }
    // All connected at once; now 4 threads send and read, 50 connections each.
    std::vector<std::string> replies(kClients);
    auto start = Clock::now();
    Joiner workers;
    for (int w = 0; w < 4; ++w)
      workers.threads.emplace_back([&, w] {
        for (int i = w; i < kClients; i += 4)
          if (!clients[i]->sendAll(std::string(i % 10 == 0 ? kStatus : kPing) + "\n"))
            replies[i] = "send failed: " + std::string(std::strerror(clients[i]->error()));
        for (int i = w; i < kClients; i += 4) {
          if (!replies[i].empty()) continue;
          auto r = clients[i]->readLine();
          replies[i] = r ? *r : "no reply: " + std::string(std::strerror(clients[i]->error()));
        }
      });
    workers.joinAll();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    int ok = 0;
    for (int i = 0; i < kClients; ++i) {
      Json doc = parse(replies[i]);
      ok += isOk(doc);
      EXPECT_TRUE(isOk(doc)) << "client " << i << ": " << replies[i];
      if (isOk(doc) && i % 10 == 0) {
        EXPECT_TRUE(doc.contains("daemon")) << "status reply expected: " << replies[i];
      }
    }
    std::printf("[ hostile  ] %d/%d parallel clients answered ok in %lld ms\n", ok, kClients,
                static_cast<long long>(took));

    // The half-open one got nothing yet and is still served once its line is complete.
    EXPECT_TRUE(half.nothingPending()) << "a reply to half a line";
    auto r = half.roundTrip(R"(ng"})");
    ASSERT_TRUE(r) << std::strerror(half.error());
    EXPECT_TRUE(isOk(parse(*r))) << *r;
  }  // every client closes here

  // (f) No descriptor leaks: the daemon closes connections when it sees their EOF.
  int fds_after = -1;
  bool settled = pollUntil([&] { return (fds_after = testing::countOpenFds(daemon_->pid())) == fds_before; }, 5s);
  EXPECT_TRUE(settled) << "vnetd has " << fds_after << " open descriptors after all clients closed; " << fds_before
                       << " before they started";

  // (g) Still alive.
  EXPECT_TRUE(isOk(parse(daemon_->request(kPing, 5000))));
  Json st = status();
  std::printf("[ hostile  ] daemon fds before %d, after %d; control_connections %s\n", fds_before, fds_after,
              st["daemon"].value("control_connections", Json()).dump().c_str());
}

}  // namespace
}  // namespace vnetd
