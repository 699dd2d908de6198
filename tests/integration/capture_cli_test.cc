// `vnetctl capture` end-to-end: a real daemon, three jails on a real bridge, exact UDP
// traffic, and the files vnetctl writes read back with tcpdump -r. Live captures (count,
// seconds, filter, only the jail's frames, Ctrl-C, file mode) and the flight recorder
// (--last: the newest frames in order, bounded by flight_recorder_packets, the memory
// gauge), and -w never writing through a planted link. Subnets 198.18.170.0/24 ..
// 198.18.175.0/24.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <sstream>
#include <thread>

#include "core/naming.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/metrics_support.h"

extern char** environ;

namespace vnetd {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint32_t kRecorderFrames = 16;  // [capture] flight_recorder_packets of these tests
constexpr uint32_t kSnaplen = 128;        // [capture] snaplen (the default)
constexpr size_t kPayload = 100;
constexpr size_t kFrame = 14 + 20 + 8 + kPayload;  // Ethernet + IPv4 + UDP + payload

// vnetctl running in the background: its standard error is read as it comes (the
// "capturing ..." line says when the capture is open), standard output goes to
// /dev/null.
class Vnetctl {
 public:
  explicit Vnetctl(const std::vector<std::string>& args) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    err_fd_ = p[0];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    started_ = Clock::now();
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
  }
  ~Vnetctl() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  bool started() const { return pid_ > 0; }

  // Reads standard error until it contains `text` (true) or `timeout` passes / it closes.
  bool waitForErr(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (err_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || !readErr(static_cast<int>(left))) return err_.find(text) != std::string::npos;
    }
    return true;
  }
  // Exit status (128+signal when killed); -1 when it did not end within `timeout` (then
  // it is killed). Reads standard error to its end.
  int wait(std::chrono::milliseconds timeout = 15s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (!readErr(static_cast<int>(std::max<int64_t>(left, 1)))) break;  // EOF: it is exiting
    }
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
      }
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 10);  // exit follows EOF on its stderr within microseconds
    }
    ended_ = Clock::now();
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& err() const { return err_; }
  std::chrono::milliseconds ran() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(ended_ - started_);
  }

 private:
  // One read of standard error, waiting up to `ms`; false at EOF or on error.
  bool readErr(int ms) {
    pollfd p{err_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, ms);
    if (n <= 0) return n == 0;
    char buf[4096];
    ssize_t r = ::read(err_fd_, buf, sizeof buf);
    if (r <= 0) return false;
    err_.append(buf, static_cast<size_t>(r));
    return true;
  }

  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
  Clock::time_point started_{}, ended_{};
};

struct JailNet {
  std::string name, address, mac, host_mac;
};

class CaptureCliTest : public DaemonFixture {
 protected:
  // Jails a, b, c on one bridge (gateway `subnet`.1), quiet links (metrics_support.h),
  // static neighbour entries so that no ARP runs during a test, capture open.
  void threeJails(const std::string& subnet) {
    br_ = net_.bridgeName("br");
    writeConfig("[capture]\nflight_recorder_packets = " + std::to_string(kRecorderFrames) + "\nsnaplen = " +
                std::to_string(kSnaplen) + "\n\n" + bridgeWithDefaults(br_, subnet + ".1/24"));
    startDaemon();
    for (const char* label : {"a", "b", "c"}) {
      JailNet j;
      j.name = net_.jailName(label);
      net_.addNamespace(j.name);
      testing::disableIpv6InNamespace(j.name);
      for (const char* phase : {"prestart", "created"}) ASSERT_EQ(hook(phase, j.name).status, 0);
      jails_.push_back(j);
    }
    ASSERT_NO_FATAL_FAILURE(testing::quietenLinks(br_, {a().name, b().name, c().name}));
    Json st = status();
    for (auto& j : jails_) {
      const Json* rec = findJail(st, j.name);
      ASSERT_NE(rec, nullptr) << j.name;
      const Json& i = (*rec)["interfaces"][0];
      j.mac = i["jail_mac"];
      j.host_mac = i["host_mac"];
      std::string cidr = i["addresses"][0];
      j.address = cidr.substr(0, cidr.find('/'));
    }
    for (const auto& from : jails_)
      for (const auto& to : jails_) {
        if (from.name == to.name) continue;
        auto r = testing::run({"ip", "-n", from.name, "neigh", "replace", to.address, "lladdr", to.mac, "dev",
                               interfaceName(from.name, 0, Side::B), "nud", "permanent"});
        ASSERT_EQ(r.status, 0) << r.err;
      }
    std::string url = st["daemon"]["metrics_url"];
    port_ = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    std::string up = scrapeUntil([&](const std::string& t) { return bridgeSample(t, "vnetd_capture_up") == 1; });
    ASSERT_EQ(bridgeSample(up, "vnetd_capture_up"), 1) << up;
  }
  const JailNet& a() const { return jails_[0]; }
  const JailNet& b() const { return jails_[1]; }
  const JailNet& c() const { return jails_[2]; }

  std::vector<std::string> vnetctl(const std::string& jail, std::vector<std::string> args) {
    std::vector<std::string> argv = {VNETD_VNETCTL_BINARY, "--socket", socketPath(), "capture", jail};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // `count` datagrams of `payload` bytes from `from` to `to`, all received.
  void udp(const JailNet& from, const JailNet& to, int count, size_t payload = kPayload) {
    ASSERT_EQ(testing::udpExchange(from.name, to.name, to.address, count, payload), count);
  }

  // tcpdump -r's lines for `file` (-e: with the MAC addresses; -nn: no lookups).
  std::vector<std::string> tcpdump(const std::string& file) {
    auto r = testing::run({"tcpdump", "-r", file, "-nn", "-e"});
    EXPECT_EQ(r.status, 0) << "tcpdump -r " << file << ": " << r.err;
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) lines.push_back(l);
    return lines;
  }
  // The UDP payload length tcpdump reports on a line ("UDP, length N"), -1 if none.
  static int udpLength(const std::string& line) {
    auto at = line.find("UDP, length ");
    return at == std::string::npos ? -1 : std::stoi(line.substr(at + 12));
  }

  double bridgeSample(const std::string& text, const std::string& metric) {
    return testing::sample(text, metric, {"bridge=\"" + br_ + "\""});
  }
  // Scrapes until `done(text)` or 5 s; the capture publishes once a second, so there is
  // nothing to wait on but the endpoint.
  std::string scrapeUntil(const std::function<bool(const std::string&)>& done) {
    std::string text;
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
      text = testing::httpGet(port_, "/metrics");
      if (done(text)) return text;
      std::this_thread::sleep_for(100ms);
    }
    return text;
  }

  std::string br_;
  std::vector<JailNet> jails_;
  uint16_t port_ = 0;
};

TEST_F(CaptureCliTest, LiveCaptureHoldsExactlyTheJailsFramesEndsAtCountAndWritesMode0600) {
  ASSERT_NO_FATAL_FAILURE(threeJails("198.18.170"));
  constexpr int kCount = 20;
  const std::string file = dir_.file("a.pcap");
  dir_.write("a.pcap", "an older capture");
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);

  Vnetctl cap(vnetctl(a().name, {"-c", std::to_string(kCount), "-w", file}));
  ASSERT_TRUE(cap.started());
  ASSERT_TRUE(cap.waitForErr("capturing jail " + a().name)) << cap.err();
  // c talks to b meanwhile: none of it is a's.
  ASSERT_NO_FATAL_FAILURE(udp(c(), b(), 10));
  ASSERT_NO_FATAL_FAILURE(udp(a(), b(), kCount));
  ASSERT_EQ(cap.wait(), 0) << cap.err();
  EXPECT_NE(cap.err().find(file + " existed and was replaced"), std::string::npos) << cap.err();
  EXPECT_NE(cap.err().find(std::to_string(kCount) + " packets captured from jail " + a().name + " on " + br_ +
                           " \u2192 " + file),
            std::string::npos)
      << cap.err();

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The header and exactly kCount whole records of the whole frames (snaplen 262144).
  EXPECT_EQ(static_cast<size_t>(st.st_size), 24 + kCount * (16 + kFrame));
  auto lines = tcpdump(file);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount));
  for (const auto& l : lines) {
    EXPECT_NE(l.find(a().mac + " > " + b().mac), std::string::npos) << l;
    EXPECT_EQ(udpLength(l), static_cast<int>(kPayload)) << l;
  }
}

// -w never writes through what is at FILE: a hard link or a symbolic link planted there
// (by a user who can write the directory) is replaced as a name, the file it points to
// keeps its contents and mode, and no temporary file is left behind.
TEST_F(CaptureCliTest, WriteReplacesAPlantedLinkNeverTheFileBehindIt) {
  ASSERT_NO_FATAL_FAILURE(threeJails("198.18.175"));
  ASSERT_NO_FATAL_FAILURE(udp(a(), b(), 3));
  const std::string victim = dir_.file("victim");
  dir_.write("victim", "precious");
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  const std::string hard = dir_.file("hard.pcap"), soft = dir_.file("soft.pcap");
  ASSERT_EQ(::link(victim.c_str(), hard.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), soft.c_str()), 0);
  for (const std::string& file : {hard, soft}) {
    auto r = testing::run(vnetctl(a().name, {"--last", "-w", file}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find(file + " existed and was replaced"), std::string::npos) << r.err;
    struct stat st {};
    ASSERT_EQ(::lstat(file.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << file;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << file;
    EXPECT_EQ(st.st_nlink, 1u) << file;
    EXPECT_EQ(tcpdump(file).size(), 3u) << file;
    auto kept = testing::run({"cat", victim});
    EXPECT_EQ(kept.out, "precious") << "written through " << file;
    ASSERT_EQ(::stat(victim.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
  }
  auto ls = testing::run({"ls", "-a", dir_.path()});
  EXPECT_EQ(ls.out.find(".vnetctl-"), std::string::npos) << ls.out;
  // A directory at FILE: one clear line, nothing left.
  auto dir = testing::run(vnetctl(a().name, {"--last", "-w", dir_.path()}));
  EXPECT_EQ(dir.status, 1);
  EXPECT_NE(dir.err.find("a directory; give a file name"), std::string::npos) << dir.err;
}

TEST_F(CaptureCliTest, AFilterRestrictsOtherJailsTrafficStaysOutAndSecondsBoundTheCapture) {
  ASSERT_NO_FATAL_FAILURE(threeJails("198.18.171"));
  constexpr int kCount = 5;
  const std::string file = dir_.file("filtered.pcap");
  {
    Vnetctl cap(vnetctl(a().name, {"-c", std::to_string(kCount), "-w", file, "udp", "and", "dst", "port", "9999"}));
    ASSERT_TRUE(cap.waitForErr("capturing jail")) << cap.err();
    // a's ICMP first: captured too without the filter, and would then fill the count.
    EXPECT_TRUE(testing::TestNet::ping(a().name, b().address));
    ASSERT_NO_FATAL_FAILURE(udp(a(), b(), kCount));
    ASSERT_EQ(cap.wait(), 0) << cap.err();
  }
  auto lines = tcpdump(file);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount));
  for (const auto& l : lines) EXPECT_NE(l.find(".9999: UDP, length 100"), std::string::npos) << l;

  // a silent for a second while c talks to b: nothing in a's capture, and -G 1 ends it
  // after about a second.
  const std::string quiet = dir_.file("quiet.pcap");
  Vnetctl cap(vnetctl(a().name, {"-G", "1", "-w", quiet}));
  ASSERT_TRUE(cap.waitForErr("capturing jail")) << cap.err();
  ASSERT_NO_FATAL_FAILURE(udp(c(), b(), 20));
  ASSERT_EQ(cap.wait(), 0) << cap.err();
  EXPECT_GE(cap.ran(), 1000ms);
  EXPECT_LT(cap.ran(), 5000ms);
  EXPECT_NE(cap.err().find("0 packets captured from jail " + a().name), std::string::npos) << cap.err();
  EXPECT_TRUE(tcpdump(quiet).empty()) << "a valid file with no packet";

  // The daemon's errors are one line each, and nothing is written for them.
  auto bad = testing::run(vnetctl(a().name, {"-c", "1", "-w", dir_.file("bad.pcap"), "udp", "prot", "53"}));
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("vnetctl: capture: invalid capture filter: "), std::string::npos) << bad.err;
  EXPECT_NE(::access(dir_.file("bad.pcap").c_str(), F_OK), 0);
  auto unknown = testing::run(vnetctl("nosuchjail", {"-c", "1", "-w", dir_.file("x.pcap")}));
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no jail 'nosuchjail' is recorded by vnetd"), std::string::npos) << unknown.err;
}

TEST_F(CaptureCliTest, CtrlCEndsTheCaptureCleanlyWithAValidFileAndTheSummary) {
  ASSERT_NO_FATAL_FAILURE(threeJails("198.18.172"));
  constexpr int kCount = 5;
  const std::string file = dir_.file("int.pcap");
  Vnetctl cap(vnetctl(a().name, {"-c", "0", "-G", "30", "-w", file}));
  ASSERT_TRUE(cap.waitForErr("capturing jail")) << cap.err();
  ASSERT_NO_FATAL_FAILURE(udp(a(), b(), kCount));
  // vnetctl writes each record as it arrives: the file says when all are in.
  const off_t want = static_cast<off_t>(24 + kCount * (16 + kFrame));
  struct stat st {};
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(20ms))
    if (::stat(file.c_str(), &st) == 0 && st.st_size >= want) break;
  ASSERT_EQ(st.st_size, want);
  cap.signal(SIGINT);
  ASSERT_EQ(cap.wait(), 0) << cap.err();
  EXPECT_LT(cap.ran(), 10000ms) << "ended by the signal, not by -G 30";
  EXPECT_NE(cap.err().find(std::to_string(kCount) + " packets captured from jail " + a().name), std::string::npos)
      << cap.err();
  EXPECT_EQ(tcpdump(file).size(), static_cast<size_t>(kCount));
}

TEST_F(CaptureCliTest, LastWritesTheNewestFramesInOrderBoundedByTheRecorderAndItsMemoryIsReported) {
  ASSERT_NO_FATAL_FAILURE(threeJails("198.18.173"));
  // Frames told apart by their payload length: 100, 101, ...
  auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_NO_FATAL_FAILURE(udp(a(), b(), 1, kPayload + static_cast<size_t>(i)));
  };
  auto last = [&](const JailNet& j, const std::string& name) {
    const std::string file = dir_.file(name);
    auto r = testing::run(vnetctl(j.name, {"--last", "-w", file}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("packets from the flight recorder of jail " + j.name + " on " + br_), std::string::npos)
        << r.err;
    std::vector<int> lengths;
    for (const auto& l : tcpdump(file)) lengths.push_back(udpLength(l));
    return lengths;
  };
  auto range = [](int from, int to) {
    std::vector<int> v;
    for (int i = from; i < to; ++i) v.push_back(static_cast<int>(kPayload) + i);
    return v;
  };
  ASSERT_NO_FATAL_FAILURE(send(0, 5));
  EXPECT_EQ(last(a(), "a5.pcap"), range(0, 5)) << "fewer frames than the ring holds: all of them, oldest first";
  ASSERT_NO_FATAL_FAILURE(send(5, 40));
  EXPECT_EQ(last(a(), "a16.pcap"), range(40 - kRecorderFrames, 40)) << "the newest 16, in order";
  EXPECT_EQ(last(b(), "b16.pcap"), range(40 - kRecorderFrames, 40)) << "a frame between two jails is in both rings";
  EXPECT_TRUE(last(c(), "c.pcap").empty()) << "c neither sent nor received";
  // -c keeps the newest; a filter applies to the recorder too.
  {
    auto r = testing::run(vnetctl(a().name, {"--last", "-c", "3", "-w", dir_.file("a3.pcap"), "udp"}));
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<int> lengths;
    for (const auto& l : tcpdump(dir_.file("a3.pcap"))) lengths.push_back(udpLength(l));
    EXPECT_EQ(lengths, range(37, 40));
    EXPECT_EQ(testing::run(vnetctl(a().name, {"--last", "-w", dir_.file("none.pcap"), "icmp"})).status, 0);
    EXPECT_TRUE(tcpdump(dir_.file("none.pcap")).empty());
  }

  // Memory: one ring of kRecorderFrames × (snaplen + 24) bytes per jail that has had a
  // frame on the bridge — the jails whose traffic series (there from 0 for every jail)
  // counted one.
  auto jailsWithFrames = [&](const std::string& text) {
    int n = 0;
    for (const auto& j : jails_) {
      double frames = 0;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);)
        for (const char* family : {"vnetd_jail_traffic_transmit_packets_total{", "vnetd_jail_traffic_receive_packets_total{"})
          if (line.rfind(family, 0) == 0 && line.find("jail=\"" + j.name + "\"") != std::string::npos)
            frames += std::stod(line.substr(line.rfind(' ') + 1));
      n += frames > 0;
    }
    return n;
  };
  const double ring = kRecorderFrames * (kSnaplen + 24.0);
  std::string text = scrapeUntil([&](const std::string& t) {
    return jailsWithFrames(t) == 2 && bridgeSample(t, "vnetd_flight_recorder_bytes") == 2 * ring;
  });
  EXPECT_EQ(jailsWithFrames(text), 2) << "a and b";
  EXPECT_EQ(bridgeSample(text, "vnetd_flight_recorder_bytes"), jailsWithFrames(text) * ring) << text;
}

}  // namespace
}  // namespace vnetd
