// vnetctl capture — a troubleshooting capture of one jail's traffic, made by the daemon
// on the jail's bridge and streamed as pcap over the control socket (op capture; the
// daemon side is src/daemon/capture_streams.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>

#include "cli/vnetctl/pcap_stream.h"
#include "cli/vnetctl/vnetctl.h"
#include "core/control_client.h"
#include "core/control_protocol.h"
#include "core/unique_fd.h"

namespace vnetd::cli {
namespace {

constexpr const char* kCaptureUsage =
    "usage: vnetctl capture JAIL [-w FILE|-] [-c COUNT] [-G SECONDS] [-s SNAPLEN] [--last] [FILTER ...]\n";

constexpr const char* kCaptureHelp =
    "NAME\n"
    "     vnetctl capture - capture one jail's traffic as pcap, from outside the jail\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetctl capture JAIL [-w FILE|-] [-c COUNT] [-G SECONDS] [-s SNAPLEN] [FILTER ...]\n"
    "     vnetctl capture JAIL --last [-w FILE|-] [-c COUNT] [-s SNAPLEN] [FILTER ...]\n"
    "\n"
    "DESCRIPTION\n"
    "     vnetd captures on the bridge of JAIL's interfaces (all of them when the jail\n"
    "     is on several bridges) with a capture of its own, keeps the frames whose\n"
    "     source or destination MAC address is one of the jail's interfaces' (host or\n"
    "     jail side), and streams them here as pcap. The file opens in tcpdump -r,\n"
    "     tshark -r or Wireshark. Nothing runs inside the jail and nothing in the jail\n"
    "     changes. Needs root: a capture shows other hosts' traffic too.\n"
    "\n"
    "     The capture starts once vnetctl prints \"capturing ...\" on standard error and\n"
    "     ends after COUNT packets or SECONDS seconds, whichever comes first, or at\n"
    "     Ctrl-C (SIGINT) or SIGTERM: vnetctl then keeps every whole packet received, so\n"
    "     the file stays valid. It always ends with one line on standard error:\n"
    "\n"
    "       vnetctl: 42 packets captured from jail web on bridge0 \xe2\x86\x92 web.pcap\n"
    "\n"
    "     --last writes the jail's flight recorder instead: the last packets the\n"
    "     daemon's metrics capture saw for the jail (up to [capture]\n"
    "     flight_recorder_packets, cut to [capture] snaplen bytes), at once and with no\n"
    "     capture running beforehand - \"what just happened\" after a failure.\n"
    "\n"
    "OPTIONS\n"
    "     -w FILE, --write FILE\n"
    "             Write the capture to FILE, mode 0600. A new FILE is created (never\n"
    "             through a symbolic link) and written as packets arrive. An existing\n"
    "             FILE is replaced (like tcpdump -w; vnetctl says so) as a name only:\n"
    "             the capture goes to a new file next to it (.FILE.vnetctl-XXXXXX,\n"
    "             created exclusively) that is renamed to FILE when the capture ends,\n"
    "             so a file, symbolic link or hard link found at FILE is never written\n"
    "             through and what it points to stays as it was. A temporary file left\n"
    "             by a killed vnetctl can be deleted. \"-\" writes to standard output,\n"
    "             e.g. for tcpdump -r -. Without -w the capture goes to standard\n"
    "             output, which must then not be a terminal.\n"
    "     -c COUNT, --count COUNT\n"
    "             Stop after COUNT packets (default 1000; 0: no packet limit). With\n"
    "             --last: only the newest COUNT packets of the recorder (default: all).\n"
    "     -G SECONDS, --seconds SECONDS\n"
    "             Stop after SECONDS seconds (default 60; 0: no time limit). -c 0 and\n"
    "             -G 0 together are refused: a forgotten capture must not fill a disk.\n"
    "             Not with --last.\n"
    "     -s SNAPLEN, --snaplen SNAPLEN\n"
    "             Keep at most SNAPLEN bytes of each packet (1 to 262144; default:\n"
    "             262144, whole packets; with --last the recorder's [capture] snaplen).\n"
    "     --last  Write the flight recorder (see above) instead of capturing.\n"
    "     -h, --help\n"
    "             Show this help.\n"
    "     FILTER  A pcap-filter(7) expression, as for tcpdump (several arguments are\n"
    "             joined with spaces; at most 1024 characters). It further restricts the\n"
    "             jail's packets; one that does not compile is reported with libpcap's\n"
    "             message and nothing is captured. Use \"--\" before a FILTER that starts\n"
    "             with \"-\".\n"
    "\n"
    "     The daemon runs at most 4 captures at once. A capture whose reader stops\n"
    "     reading for 10 seconds is ended by the daemon.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 when the capture ran (also when ended by Ctrl-C), 1 when it could not be\n"
    "     made (vnetd not running, unknown jail, bad filter, file not writable), 64 on\n"
    "     a bad command line.\n"
    "\n"
    "EXAMPLES\n"
    "     vnetctl capture web -c 100 -w /tmp/web.pcap tcp port 80\n"
    "     vnetctl capture db -G 10 -w - 'udp port 53' | tcpdump -nr -\n"
    "     vnetctl capture web --last -w /tmp/web-last.pcap\n";

constexpr uint32_t kDefaultCount = 1000;
constexpr uint32_t kDefaultSeconds = 60;
// The daemon answers once its capture is open (a few milliseconds) or the recorder is
// copied (one buffer timeout): seconds mean it is wedged.
constexpr int kHeaderTimeoutMs = 15000;

struct Options {
  std::string jail;
  std::string output;  // "" = standard output (not a terminal), "-" = standard output
  bool output_given = false;
  std::optional<uint32_t> count, seconds;
  uint32_t snaplen = 0;
  bool last = false;
  std::string filter;
  bool help = false;
};

// A number from `text` in [min, max]; the error names the option.
Result<uint32_t> number(const std::string& option, const std::string& text, uint32_t min, uint32_t max) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return plainError(option + " needs a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                      ", not '" + text + "'");
  return v;
}

Result<Options> parse(const std::vector<std::string>& args) {
  Options o;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name) -> Result<std::string> {
      if (i + 1 >= args.size()) return plainError(name + " needs a value");
      return args[++i];
    };
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "-h" || a == "--help") {
        o.help = true;
      } else if (a == "--last") {
        o.last = true;
      } else if (a == "-w" || a == "--write") {
        auto v = value(a);
        if (!v) return v.error();
        if (v->empty()) return plainError(a + " needs a file name (or - for standard output)");
        o.output = *v;
        o.output_given = true;
      } else if (a == "-c" || a == "--count") {
        auto v = value(a);
        if (!v) return v.error();
        auto n = number(a, *v, 0, control::kMaxCaptureCount);
        if (!n) return n.error();
        o.count = *n;
      } else if (a == "-G" || a == "--seconds") {
        auto v = value(a);
        if (!v) return v.error();
        auto n = number(a, *v, 0, control::kMaxCaptureSeconds);
        if (!n) return n.error();
        o.seconds = *n;
      } else if (a == "-s" || a == "--snaplen") {
        auto v = value(a);
        if (!v) return v.error();
        auto n = number(a, *v, 0, control::kMaxCaptureSnaplen);
        if (!n) return n.error();
        o.snaplen = *n;  // 0: the default, as tcpdump -s 0
      } else {
        return plainError("unknown option '" + a + "'");
      }
      continue;
    }
    if (o.jail.empty()) o.jail = a;
    else o.filter += (o.filter.empty() ? "" : " ") + a;
  }
  if (o.help) return o;
  if (o.jail.empty()) return plainError("which jail? (vnetctl capture JAIL ...)");
  if (o.last && o.seconds) return plainError("-G does not go with --last (the recorder is written at once)");
  if (!o.last && o.count.value_or(kDefaultCount) == 0 && o.seconds.value_or(kDefaultSeconds) == 0)
    return plainError("-c 0 and -G 0 together would never end; keep one bound");
  if (o.filter.size() > control::kMaxCaptureFilterBytes)
    return plainError("the filter is longer than " + std::to_string(control::kMaxCaptureFilterBytes) + " characters");
  return o;
}

// SIGINT/SIGTERM: blocked except inside ppoll(), where they interrupt the wait and set
// this flag. So no read or write is ever cut short, and no signal is missed between
// checking the flag and waiting.
volatile sig_atomic_t g_stop = 0;
void onStopSignal(int) { g_stop = 1; }

class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old_pipe_);  // a reader that goes away: EPIPE, not death
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &stop, &old_mask_);
    wait_mask_ = old_mask_;
    sigdelset(&wait_mask_, SIGINT);
    sigdelset(&wait_mask_, SIGTERM);
  }
  ~SignalGuard() {
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  }
  // Waits for `fd` to be readable: 1 ready, 0 timed out (timeout_ms < 0: never), -1
  // interrupted by a stop signal or failed.
  int waitReadable(int fd, int timeout_ms) const {
    pollfd p{fd, POLLIN, 0};
    timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000};
    int n = ::ppoll(&p, 1, timeout_ms < 0 ? nullptr : &ts, &wait_mask_);
    if (n < 0) return -1;
    return n > 0 ? 1 : 0;
  }

 private:
  struct sigaction old_int_ {}, old_term_ {}, old_pipe_ {};
  sigset_t old_mask_{}, wait_mask_{};
};

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The file of `-w FILE`. An existing file is never opened: whatever an unprivileged user
// planted at FILE (a symbolic link, a hard link to a file of root's, a file with a loose
// mode) must not be truncated or written through.
//   FILE absent: created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 — a new inode
//                of ours even if someone races us; a dangling symlink is EEXIST) and
//                written as packets arrive, so it can be read while the capture runs.
//   FILE exists: the capture goes to a new file made exclusively next to it (mkostemp,
//                mode 0600) and commit() renames it over FILE, replacing the directory
//                entry only. Destroyed without commit(): that temporary file is removed.
class CaptureFile {
 public:
  static Result<CaptureFile> create(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return plainError("cannot write " + path + ": a directory; give a file name");
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return plainError("cannot write " + path + ": a directory; give a file name");
    UniqueFd direct(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (direct) return CaptureFile(path, std::string(), std::move(direct));
    if (errno != EEXIST) return plainError("cannot write " + path + ": " + std::strerror(errno));
    std::string temp = dir + "." + base + ".vnetctl-XXXXXX";
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd)
      return plainError("cannot write " + path + ": cannot create a file in " + (dir.empty() ? "." : dir) + ": " +
                        std::strerror(errno));
    return CaptureFile(path, std::move(temp), std::move(fd));
  }
  CaptureFile(CaptureFile&& o) noexcept
      : path_(std::move(o.path_)), temp_(std::move(o.temp_)), fd_(std::move(o.fd_)) {
    o.temp_.clear();
  }
  CaptureFile& operator=(CaptureFile&&) = delete;
  ~CaptureFile() {
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }
  int fd() const { return fd_.get(); }

  struct Committed {
    bool replaced = false;  // something was at the path before
  };
  // Closes the file and, when it is a temporary one, renames it to the path.
  Result<Committed> commit() {
    if (::close(fd_.release()) != 0) return plainError("cannot write " + path_ + ": " + std::strerror(errno));
    Committed c;
    if (temp_.empty()) return c;  // written in place: a file we created
    struct stat st {};
    c.replaced = ::lstat(path_.c_str(), &st) == 0;
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      std::string kept = temp_;
      temp_.clear();  // the capture is worth keeping under its temporary name
      return plainError("cannot replace " + path_ + ": " + std::strerror(errno) + "; the capture is in " + kept);
    }
    temp_.clear();
    return c;
  }

 private:
  CaptureFile(std::string path, std::string temp, UniqueFd fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(std::move(fd)) {}
  std::string path_, temp_;
  UniqueFd fd_;
};

}  // namespace

int captureCommand(const Context& ctx, const std::vector<std::string>& args) {
  auto parsed = parse(args);
  if (!parsed) {
    std::fprintf(ctx.err, "vnetctl: capture: %s\n%s", parsed.error().message().c_str(), kCaptureUsage);
    return kExitUsage;
  }
  const Options& o = *parsed;
  if (o.help) {
    std::fputs(kCaptureHelp, ctx.out);
    return kExitOk;
  }
  const bool to_stdout = !o.output_given || o.output == "-";
  if (to_stdout && ::isatty(STDOUT_FILENO)) {
    std::fprintf(ctx.err,
                 "vnetctl: capture: not writing binary pcap to a terminal; use -w FILE or -w - | tcpdump -r -\n");
    return kExitUsage;
  }

  control::Request request;
  request.op = control::Op::Capture;
  request.jail = o.jail;
  request.last = o.last;
  request.count = o.count.value_or(o.last ? 0 : kDefaultCount);
  request.seconds = o.last ? 0 : o.seconds.value_or(kDefaultSeconds);
  request.snaplen = o.snaplen;
  request.filter = o.filter;

  SignalGuard signals;
  auto sock = control::connectToDaemon(ctx.socket_path, kStatusTimeout);
  if (!sock) {
    control::CallResult failed;
    failed.failure = control::CallFailure::Unreachable;
    failed.error = sock.error();
    std::fprintf(ctx.err, "vnetctl: %s\n", daemonFailureLine(failed).c_str());
    return kExitFailure;
  }
  if (!writeAll(sock->get(), control::encodeRequest(request) + "\n")) {
    std::fprintf(ctx.err, "vnetctl: capture: cannot send the request to vnetd: %s\n", std::strerror(errno));
    return kExitFailure;
  }

  // The header line; bytes after it are the start of the pcap stream.
  std::string in;
  char buf[65536];
  size_t nl;
  while ((nl = in.find('\n')) == std::string::npos) {
    if (in.size() > control::kMaxRequestBytes) {
      std::fprintf(ctx.err, "vnetctl: capture: vnetd sent an oversized reply\n");
      return kExitFailure;
    }
    int w = signals.waitReadable(sock->get(), kHeaderTimeoutMs);
    if (w < 0 && g_stop) {
      std::fprintf(ctx.err, "vnetctl: capture: interrupted before the capture started; nothing written\n");
      return kExitFailure;
    }
    if (w == 0) {
      std::fprintf(ctx.err, "vnetctl: capture: vnetd did not answer within %d s; see its log\n",
                   kHeaderTimeoutMs / 1000);
      return kExitFailure;
    }
    ssize_t n = ::recv(sock->get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(ctx.err, "vnetctl: capture: vnetd closed the connection without a reply; see its log\n");
      return kExitFailure;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  auto header = control::decodeCaptureHeader(std::string_view(in).substr(0, nl));
  if (!header) {
    std::fprintf(ctx.err, "vnetctl: capture: %s\n", header.error().message().c_str());
    return kExitFailure;
  }
  in.erase(0, nl + 1);

  // The output, only now: a refused capture leaves an existing file alone.
  std::optional<CaptureFile> file;
  int out_fd = STDOUT_FILENO;
  const std::string target = to_stdout ? "standard output" : o.output;
  if (!to_stdout) {
    auto made = CaptureFile::create(o.output);
    if (!made) {
      std::fprintf(ctx.err, "vnetctl: capture: %s\n", made.error().message().c_str());
      return kExitFailure;
    }
    file.emplace(std::move(*made));
    out_fd = file->fd();
  }
  if (o.last)
    std::fprintf(ctx.err, "vnetctl: writing the flight recorder of jail %s on %s%s\n", o.jail.c_str(),
                 header->bridge.c_str(),
                 header->sample > 1 ? (" (sampled capture: about 1 frame in " + std::to_string(header->sample) +
                                       " was recorded; [capture] sample)")
                                          .c_str()
                                    : "");
  else
    std::fprintf(ctx.err, "vnetctl: capturing jail %s on %s (snaplen %u; %s, %s); Ctrl-C to stop\n", o.jail.c_str(),
                 header->bridge.c_str(), header->snaplen,
                 request.count ? ("up to " + std::to_string(request.count) + " packets").c_str() : "no packet limit",
                 request.seconds ? ("up to " + std::to_string(request.seconds) + " s").c_str() : "no time limit");
  std::fflush(ctx.err);

  PcapStream stream;
  std::string whole;
  std::string problem;
  bool write_failed = false;
  int write_errno = 0;
  auto fail_write = [&] {
    write_failed = true;
    write_errno = errno;
    problem = "cannot write " + target + ": " + std::strerror(write_errno);
  };
  auto consume = [&](std::string_view bytes) {
    whole.clear();
    auto r = stream.feed(bytes, whole);
    if (!whole.empty() && !writeAll(out_fd, whole)) {
      fail_write();
      return false;
    }
    if (!r) {
      problem = r.error().message();
      return false;
    }
    return true;
  };
  bool ok = consume(in);
  while (ok && !g_stop) {
    int w = signals.waitReadable(sock->get(), -1);
    if (w < 0) {
      if (errno == EINTR) continue;  // g_stop is looked at above
      problem = std::string("poll: ") + std::strerror(errno);
      break;
    }
    ssize_t n = ::recv(sock->get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = std::string("reading from vnetd: ") + std::strerror(errno);
      break;
    }
    if (n == 0) {  // the daemon ended the capture: a bound was reached
      if (stream.pending() != 0)
        problem = "the stream ended inside a packet (" + std::to_string(stream.pending()) +
                  " bytes dropped); see vnetd's log";
      break;
    }
    ok = consume(std::string_view(buf, static_cast<size_t>(n)));
  }
  sock->reset();  // tells the daemon to stop at once when we stopped first
  // A capture stopped before the daemon's first bytes still leaves a valid (empty) file.
  if (!stream.headerSeen() && !write_failed) {
    std::string h(PcapStream::kFileHeaderBytes, '\0');
    const uint32_t words[] = {0xa1b2c3d4, 0x00040002, 0, 0, header->snaplen, header->linktype};
    std::memcpy(h.data(), words, sizeof words);
    if (!writeAll(out_fd, h)) fail_write();
  }
  if (file) {
    // Whole packets only ever reach the file: after a stream problem it is still valid.
    if (!write_failed) {
      auto done = file->commit();
      if (!done) {
        if (problem.empty()) problem = done.error().message();
      } else if (done->replaced) {
        std::fprintf(ctx.err, "vnetctl: %s existed and was replaced\n", o.output.c_str());
      }
    }
    file.reset();  // a capture not committed leaves nothing behind
  }
  // EPIPE: the reader of standard output (tcpdump -c, head) had enough. Not a failure.
  bool reader_gone = write_failed && to_stdout && write_errno == EPIPE;
  if (!problem.empty() && !reader_gone) std::fprintf(ctx.err, "vnetctl: capture: %s\n", problem.c_str());
  std::fprintf(ctx.err, "vnetctl: %llu packets %s jail %s on %s \xe2\x86\x92 %s\n",
               static_cast<unsigned long long>(stream.records()),
               o.last ? "from the flight recorder of" : "captured from", o.jail.c_str(), header->bridge.c_str(),
               to_stdout ? "standard output" : o.output.c_str());
  return problem.empty() || reader_gone ? kExitOk : kExitFailure;
}

}  // namespace vnetd::cli
