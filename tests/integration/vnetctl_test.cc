// vnetctl end-to-end: the real binary against a real daemon with two jails (namespaces
// set up by the hooks): the status table and JSON against the kernel's and the state's
// truth, one jail, an unknown jail, a stopped daemon, top in batch mode with traffic
// flowing, top on a pseudo-terminal quitting on `q` with the terminal restored, and the
// command line's help and usage errors.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

namespace vnetd {
namespace {

using testing::TestNet;

class VnetctlTest : public DaemonFixture {
 protected:
  // The daemon with a bridge and two running jails a (.2) and b (.3) on `subnet`.x.
  void startWithTwoJails(const std::string& subnet) {
    br_ = net_.bridgeName("br");
    writeConfig(bridgeWithDefaults(br_, subnet + ".1/24"));
    startDaemon();
    a_ = net_.jailName("a");
    b_ = net_.jailName("b");
    for (const auto& j : {a_, b_}) ASSERT_NO_FATAL_FAILURE(startJail(j));
    a_addr_ = subnet + ".2";
    b_addr_ = subnet + ".3";
  }

  testing::CommandResult vnetctl(std::vector<std::string> args) {
    args.insert(args.begin(), {VNETD_VNETCTL_BINARY, "-c", configPath()});
    return testing::run(args, 30);
  }

  std::string br_, a_, b_, a_addr_, b_addr_;
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The first line of `text` whose first word is `first`.
std::vector<std::string> rowOf(const std::string& text, const std::string& first) {
  for (const auto& l : lines(text)) {
    auto w = words(l);
    if (!w.empty() && w[0] == first) return w;
  }
  return {};
}

TEST_F(VnetctlTest, StatusShowsJailsAsTheKernelAndTheStateHaveThem) {
  ASSERT_NO_FATAL_FAILURE(startWithTwoJails("198.18.150"));
  ASSERT_TRUE(TestNet::ping(a_, b_addr_));
  State state = loadState();
  ASSERT_EQ(state.jails.size(), 2u);

  // The table: a two-line entry per interface; the second line has bridge, address, MAC.
  auto r = vnetctl({"status"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const auto& [j, addr] : {std::pair{a_, a_addr_}, std::pair{b_, b_addr_}}) {
    auto info = jails_->find(j);
    ASSERT_TRUE(info && *info);
    const auto& rec = state.jails.at(j).interfaces.at(0);
    auto row = rowOf(r.out, j);
    ASSERT_EQ(row.size(), 6u) << r.out;
    EXPECT_EQ(row[1], std::to_string((*info)->id));
    EXPECT_EQ(row[2], "yes");
    EXPECT_EQ(row[3], interfaceName(j, 0, Side::A));
    EXPECT_EQ(row[4], interfaceName(j, 0, Side::B));
    EXPECT_EQ(row[5], "up");
    auto all = lines(r.out);
    bool found = false;
    for (size_t k = 0; k + 1 < all.size(); ++k)
      if (words(all[k]) == row) {
        auto second = words(all[k + 1]);
        ASSERT_EQ(second.size(), 5u) << r.out;
        second.resize(3);  // the rates: "-" or a number, depending on the daemon's sampling
        EXPECT_EQ(second, (std::vector<std::string>{br_, addr + "/24", rec.jail_mac})) << r.out;
        found = true;
      }
    EXPECT_TRUE(found) << r.out;
  }
  for (const auto& l : lines(r.out)) EXPECT_LE(l.size(), 80u) << "typical names fit 80 columns:\n" << r.out;
  auto bridge_row = rowOf(r.out, "lan");
  EXPECT_EQ(bridge_row, (std::vector<std::string>{"lan", br_, "up", "1500", std::string("198.18.150.1/24"), "2"}))
      << r.out;

  // JSON: vnetctl's own schema, with the kernel's and the state's values.
  r = vnetctl({"status", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  Json doc = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["daemon"]["pid"], daemon_->pid());
  EXPECT_EQ(doc["daemon"]["config"], configPath());
  ASSERT_EQ(doc["jails"].size(), 2u);
  for (const auto& j : doc["jails"]) {
    std::string name = j["name"];
    ASSERT_TRUE(name == a_ || name == b_) << name;
    auto info = jails_->find(name);
    ASSERT_TRUE(info && *info);
    const auto& rec = state.jails.at(name).interfaces.at(0);
    EXPECT_EQ(j["jid"], (*info)->id);
    EXPECT_EQ(j["running"], true);
    EXPECT_EQ(j["phase"], "created");
    EXPECT_TRUE(j.contains("flows"));
    ASSERT_EQ(j["interfaces"].size(), 1u);
    const Json& i = j["interfaces"][0];
    EXPECT_EQ(i["index"], 0);
    EXPECT_EQ(i["host_interface"], interfaceName(name, 0, Side::A));
    EXPECT_EQ(i["jail_interface"], interfaceName(name, 0, Side::B));
    EXPECT_EQ(i["bridge"], br_);
    EXPECT_EQ(i["in_bridge"], true);
    EXPECT_EQ(i["mac"], rec.jail_mac);
    EXPECT_EQ(i["host_mac"], rec.host_mac);
    EXPECT_EQ(i["addresses"], Json(rec.addresses));
    EXPECT_EQ(i["addresses"][0], (name == a_ ? a_addr_ : b_addr_) + "/24");
    EXPECT_EQ(i["link"], "up");
    EXPECT_TRUE(i.contains("rates")) << "always present (null until the daemon has two samples)";
    ASSERT_TRUE(i["counters"].is_object());
    EXPECT_GT(i["counters"]["tx_packets"].get<uint64_t>(), 0u) << "the ping went through both pairs";
    EXPECT_GT(i["counters"]["rx_packets"].get<uint64_t>(), 0u);
  }
  ASSERT_EQ(doc["bridges"].size(), 1u);
  EXPECT_EQ(doc["bridges"][0]["name"], "lan");
  EXPECT_EQ(doc["bridges"][0]["interface"], br_);
  EXPECT_EQ(doc["bridges"][0]["present"], true);
  EXPECT_EQ(doc["bridges"][0]["up"], true);
  EXPECT_EQ(doc["bridges"][0]["jail_members"], 2);

  // One jail.
  r = vnetctl({"status", a_, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  doc = Json::parse(r.out, nullptr, false);
  ASSERT_EQ(doc["jails"].size(), 1u) << r.out;
  EXPECT_EQ(doc["jails"][0]["name"], a_);
  r = vnetctl({"status", b_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(rowOf(r.out, b_).empty());
  EXPECT_TRUE(rowOf(r.out, a_).empty()) << r.out;

  // A jail vnetd does not know: the daemon's message, exit 1.
  r = vnetctl({"status", "nosuchjail"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "vnetctl: no jail 'nosuchjail' is recorded by vnetd\n");

  // b stops without a poststop: recorded, not running.
  net_.deleteNamespace(b_);
  r = vnetctl({"status", b_});
  ASSERT_EQ(r.status, 0) << r.err;
  auto row = rowOf(r.out, b_);
  ASSERT_GE(row.size(), 6u) << r.out;
  EXPECT_EQ(row[1], "-");
  EXPECT_EQ(row[2], "no");
  r = vnetctl({"status", b_, "-j"});
  doc = Json::parse(r.out, nullptr, false);
  ASSERT_EQ(doc["jails"].size(), 1u) << r.out;
  EXPECT_TRUE(doc["jails"][0]["jid"].is_null());
  EXPECT_EQ(doc["jails"][0]["running"], false);

  // The daemon stops: one line saying so, exit 1 (status and top alike).
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  for (const char* cmd : {"status", "top"}) {
    r = vnetctl({cmd});
    EXPECT_EQ(r.status, 1) << cmd;
    EXPECT_EQ(r.err, "vnetctl: vnetd is not running (connect " + socketPath() +
                         ": No such file or directory); start it with 'service vnetd start'\n")
        << cmd;
  }
  // --socket wins over the configuration.
  r = testing::run({VNETD_VNETCTL_BINARY, "-c", configPath(), "-S", dir_.file("other.sock"), "status"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("connect " + dir_.file("other.sock") + ":"), std::string::npos) << r.err;
}

// Waits for `pid` to exit (pidfd: an event, not a poll loop), draining `master` so the
// child never blocks on a full terminal. Returns the exit status, -1 on timeout.
int waitExit(pid_t pid, int master, int timeout_ms, std::string* output) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = -1;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {master, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) output->append(buf, static_cast<size_t>(n));
    }
    if (fds[0].revents & POLLIN) {
      int st = 0;
      if (::waitpid(pid, &st, 0) == pid) status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
  }
  ::close(pidfd);
  return status;
}

// Reads the terminal until `text` appears (or the timeout).
bool readUntil(int master, const std::string& text, int timeout_ms, std::string* output) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (output->find(text) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) return false;
    output->append(buf, static_cast<size_t>(n));
  }
  return true;
}

TEST_F(VnetctlTest, TopBatchShowsTheTrafficOfTheSendingJail) {
  ASSERT_NO_FATAL_FAILURE(startWithTwoJails("198.18.151"));
  ASSERT_TRUE(TestNet::ping(a_, b_addr_));  // ARP resolved: the exchange below is UDP only

  // top in batch mode, its output in a pipe. Traffic starts once its first frame is out
  // (so it lands between the two samples, and no socket of the exchange is ever
  // inherited by a fork that has not exec'd yet) and flows until top is done: bounded
  // rounds of an exact exchange, at most 100 of 50 datagrams.
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  std::string config = configPath();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::execl(VNETD_VNETCTL_BINARY, VNETD_VNETCTL_BINARY, "-c", config.c_str(), "top", "-b", "-n", "2", "-d", "0.5",
            nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  bool first = readUntil(out[0], a_, 10000, &text) && readUntil(out[0], b_, 10000, &text);
  auto running = [pid] {  // without reaping it: waitExit does that
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  };
  for (int round = 0; first && round < 100 && running(); ++round)
    ASSERT_EQ(testing::udpExchange(a_, b_, b_addr_, 50, 500), 50) << "round " << round;
  int status = waitExit(pid, out[0], 10000, &text);
  for (char buf[4096];;) {  // the rest of the output, after the exit
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (status < 0) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(first) << text;
  ASSERT_EQ(status, 0) << text;
  testing::CommandResult r;
  r.out = text;

  // Two frames; the second one's rates come from vnetctl's own counter deltas.
  auto all = lines(r.out);
  std::vector<size_t> starts;
  for (size_t k = 0; k < all.size(); ++k)
    if (all[k].rfind("vnetctl top  ", 0) == 0) starts.push_back(k);
  ASSERT_EQ(starts.size(), 2u) << r.out;
  std::string second;
  for (size_t k = starts[1]; k < all.size(); ++k) second += all[k] + "\n";
  EXPECT_NE(second.find("2 jails, 2 running"), std::string::npos) << second;
  auto header = rowOf(second, "JAIL");
  ASSERT_EQ(header, (std::vector<std::string>{"JAIL", "RX-bit/s", "TX-bit/s", "RX-pkt/s", "TX-pkt/s", "FLOWS",
                                              "DROP/s"}))
      << second;
  auto ra = rowOf(second, a_), rb = rowOf(second, b_);
  ASSERT_EQ(ra.size(), 7u) << second;
  ASSERT_EQ(rb.size(), 7u) << second;
  for (const auto& v : {ra[2], ra[4], rb[1], rb[3]}) {
    EXPECT_NE(v, "0") << "a sends, b receives:\n" << second;
    EXPECT_NE(v, "-") << second;
  }
  EXPECT_EQ(ra[6], "0") << "no drops\n" << second;
}

TEST_F(VnetctlTest, TopOnATerminalQuitsOnQAndRestoresTheTerminal) {
  ASSERT_NO_FATAL_FAILURE(startWithTwoJails("198.18.152"));
  int master = -1, slave = -1;
  winsize ws{};
  ws.ws_col = 80;
  ws.ws_row = 24;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, &ws), 0);
  termios before{};
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON);
  ASSERT_TRUE(before.c_lflag & ECHO);

  std::string config = configPath();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setsid();
    ::ioctl(slave, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(slave, fd);
    ::close(master);
    if (slave > 2) ::close(slave);
    ::execl(VNETD_VNETCTL_BINARY, VNETD_VNETCTL_BINARY, "-c", config.c_str(), "top", "-d", "10", nullptr);
    ::_exit(127);
  }
  // The parent keeps its slave descriptor: the terminal's settings outlive the child.
  std::string screen;
  for (const auto& text : {std::string("JAIL"), a_, b_}) ASSERT_TRUE(readUntil(master, text, 10000, &screen)) << screen;
  termios during{};
  ASSERT_EQ(::tcgetattr(slave, &during), 0);
  EXPECT_FALSE(during.c_lflag & ICANON) << "raw while running";
  EXPECT_FALSE(during.c_lflag & ECHO);
  EXPECT_NE(screen.find("\033[H"), std::string::npos) << "home, then the frame";
  EXPECT_NE(screen.find("(q quits)"), std::string::npos) << screen;

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::write(master, "q", 1), 1);
  int status = waitExit(pid, master, 5000, &screen);
  auto took = std::chrono::steady_clock::now() - t0;
  if (status < 0) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(status, 0) << screen;
  EXPECT_LT(took, std::chrono::seconds(1)) << "q quits at once, not at the next refresh (-d 10)";

  termios after{};
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag) << "terminal restored";
  EXPECT_EQ(after.c_cc[VMIN], before.c_cc[VMIN]);
  ::close(master);
  ::close(slave);
}

TEST(VnetctlCommandLine, HelpNamesEveryCommandAndBadUsageExits64) {
  auto r = testing::run({VNETD_VNETCTL_BINARY, "--help"});
  EXPECT_EQ(r.status, 0);
  r.out = "\n" + r.out;
  for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "FILES",
                              "EXAMPLES", "SEE ALSO"})
    EXPECT_NE(r.out.find(std::string("\n") + section + "\n"), std::string::npos) << section;
  for (const char* cmd : {"status", "top", "doctor", "capture"})
    EXPECT_NE(r.out.find(std::string("\n     ") + cmd + " "), std::string::npos) << cmd << " in COMMANDS";
  for (const auto& l : lines(r.out)) EXPECT_LE(l.size(), 80u) << l;

  for (const auto& cmd : {"status", "top"}) {
    r = testing::run({VNETD_VNETCTL_BINARY, cmd, "--help"});
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("SYNOPSIS"), std::string::npos) << cmd;
  }

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--bogus", "status"}, {"frob"}, {}, {"-c"}, {"status", "--bogus"},
        {"status", "a", "b"}, {"status", "../x"}, {"top", "-d", "0"}, {"top", "-d", "x"}, {"top", "-n", "-1"},
        {"top", "-n"}, {"top", "extra"}, {"-xV", "status"}, {"--config"}}) {
    std::vector<std::string> argv = {VNETD_VNETCTL_BINARY};
    argv.insert(argv.end(), bad.begin(), bad.end());
    r = testing::run(argv);
    std::string shown;
    for (const auto& a : bad) shown += " " + a;
    EXPECT_EQ(r.status, 64) << shown;
    EXPECT_EQ(r.out, "") << shown;
    auto err = lines(r.err);
    ASSERT_GE(err.size(), 2u) << shown;
    EXPECT_EQ(err[0].rfind("vnetctl: ", 0), 0u) << shown << ": " << r.err;
    EXPECT_EQ(err[1].rfind("usage: ", 0), 0u) << shown << ": " << r.err;
  }
  EXPECT_EQ(lines(testing::run({VNETD_VNETCTL_BINARY, "-xV", "status"}).err)[0], "vnetctl: unknown option '-x'");
  EXPECT_EQ(lines(testing::run({VNETD_VNETCTL_BINARY, "--config"}).err)[0],
            "vnetctl: option '--config' needs an argument");
}

}  // namespace
}  // namespace vnetd
