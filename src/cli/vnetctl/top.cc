// vnetctl top [-d SECONDS] [-n ITERATIONS] [-b]: a live per-jail traffic view.
//
// Interactive mode puts the terminal in non-canonical, no-echo mode (so a single `q`
// quits) and always restores it: on `q`, at the iteration limit, on SIGINT/SIGTERM/SIGHUP
// and on errors (RAII), and around a Ctrl-Z stop. Signals reach the loop through a
// self-pipe, so the only wait is one poll() on stdin and that pipe with the time left
// until the next refresh. Only ANSI home/clear sequences are written: it works over ssh
// on any terminal.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "cli/vnetctl/status_view.h"
#include "cli/vnetctl/top_view.h"
#include "cli/vnetctl/vnetctl.h"
#include "core/control_protocol.h"
#include "core/unique_fd.h"

namespace vnetd::cli {
namespace {

constexpr const char* kTopUsage = "usage: vnetctl [-c FILE] [-S PATH] top [-b] [-d SECONDS] [-n ITERATIONS]\n";

constexpr const char* kTopHelp =
    "NAME\n"
    "     vnetctl top - live per-jail traffic view\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetctl [-c FILE] [-S PATH] top [-b] [-d SECONDS] [-n ITERATIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "     Asks vnetd for the jails' interface counters every SECONDS and shows, per\n"
    "     jail, received and transmitted bits/s and packets/s, active flows (when\n"
    "     vnetd captures the jail's bridge) and drops/s (receive + transmit drops),\n"
    "     busiest jail first (by rx + tx bits/s). Rates are computed by vnetctl from\n"
    "     the counter growth between two refreshes (a counter that went backwards,\n"
    "     e.g. a restarted jail's new pair, counts from zero); the first screen shows\n"
    "     vnetd's own averages, or \"-\". Numbers use SI prefixes (k, M, G).\n"
    "\n"
    "     The header shows the time, the number of jails and running jails, and the\n"
    "     totals. Lines are cut to the terminal's size (80x24 when unknown).\n"
    "\n"
    "KEYS\n"
    "     q        Quit (also Ctrl-C).\n"
    "     space    Refresh now.\n"
    "\n"
    "OPTIONS\n"
    "     -b, --batch\n"
    "             Batch mode: no terminal control; print every refresh as plain text,\n"
    "             separated by a blank line. The default when standard input or\n"
    "             output is not a terminal.\n"
    "     -d, --delay SECONDS\n"
    "             Seconds between refreshes, 0.1 to 3600, fractions allowed\n"
    "             (default 2).\n"
    "     -n, --iterations N\n"
    "             Stop after N refreshes (default: until q).\n"
    "     -h, --help\n"
    "             Print this help.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 when quit or after N refreshes, 1 when vnetd is not running or stops\n"
    "     answering, 64 on usage errors.\n";

using Clock = std::chrono::steady_clock;

// Self-pipe: the handlers only write the signal number; the loop does the work.
int g_signal_pipe = -1;
extern "C" void onTopSignal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  if (g_signal_pipe >= 0) (void)!::write(g_signal_pipe, &b, 1);
  errno = saved;
}

class SignalPipe {
 public:
  explicit SignalPipe(std::vector<int> signals) : signals_(std::move(signals)) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    read_.reset(fds[0]);
    write_.reset(fds[1]);
    for (int fd : fds) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    g_signal_pipe = write_.get();
    for (int sig : signals_) {
      struct sigaction sa {};
      sa.sa_handler = onTopSignal;
      sigemptyset(&sa.sa_mask);
      struct sigaction old {};
      ::sigaction(sig, &sa, &old);
      saved_.push_back(old);
    }
  }
  ~SignalPipe() {
    for (size_t i = 0; i < saved_.size(); ++i) ::sigaction(signals_[i], &saved_[i], nullptr);
    g_signal_pipe = -1;
  }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  bool ok() const { return static_cast<bool>(read_); }
  int fd() const { return read_.get(); }

 private:
  std::vector<int> signals_;
  std::vector<struct sigaction> saved_;
  UniqueFd read_, write_;
};

// Non-canonical, no echo, for the lifetime of the object. ISIG stays on: Ctrl-C is SIGINT
// (handled above), Ctrl-Z is SIGTSTP (stop handled by the loop).
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    active_ = true;
    enter();
  }
  ~RawTerminal() { leave(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool ok() const { return active_; }
  void enter() {
    if (!active_) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(fd_, TCSANOW, &raw);
  }
  void leave() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

bool parseSeconds(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0.1 || v > 3600) return false;
  *out = v;
  return true;
}

bool parseCount(const std::string& s, long* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 1000000000L) return false;
  *out = v;
  return true;
}

std::string wallClock() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

void terminalSize(int fd, unsigned* width, unsigned* height) {
  *width = 80;
  *height = 24;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col > 0) *width = ws.ws_col;
    if (ws.ws_row > 0) *height = ws.ws_row;
  }
}

bool writeAll(FILE* f, const std::string& s) {
  return std::fwrite(s.data(), 1, s.size(), f) == s.size() && std::fflush(f) == 0;
}

}  // namespace

int topCommand(const Context& ctx, const std::vector<std::string>& args) {
  double delay = 2;
  long iterations = 0;  // 0 = until quit
  bool batch = false;
  auto usage = [&](const std::string& what) {
    std::fprintf(ctx.err, "vnetctl: top: %s\n%s", printable(what).c_str(), kTopUsage);
    return kExitUsage;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    // -d SECONDS, -dSECONDS, --delay SECONDS, --delay=SECONDS (the same for -n).
    auto value = [&](const char* shortopt, const char* longopt, std::string* v) {
      std::string lo = std::string(longopt) + "=";
      if (a == shortopt || a == longopt) {
        if (i + 1 >= args.size()) return -1;
        *v = args[++i];
        return 1;
      }
      if (a.rfind(lo, 0) == 0) {
        *v = a.substr(lo.size());
        return 1;
      }
      if (a.size() > 2 && a.rfind(shortopt, 0) == 0) {
        *v = a.substr(2);
        return 1;
      }
      return 0;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      std::fputs(kTopHelp, ctx.out);
      return kExitOk;
    } else if (a == "-b" || a == "--batch") {
      batch = true;
    } else if (int d = value("-d", "--delay", &v); d != 0) {
      if (d < 0) return usage("-d needs a number of seconds");
      if (!parseSeconds(v, &delay)) return usage("-d '" + v + "': expected seconds from 0.1 to 3600");
    } else if (int n = value("-n", "--iterations", &v); n != 0) {
      if (n < 0) return usage("-n needs a number of refreshes");
      if (!parseCount(v, &iterations)) return usage("-n '" + v + "': expected a whole number of refreshes >= 1");
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option '" + a + "'");
    } else {
      return usage("unexpected argument '" + a + "'");
    }
  }

  const int in_fd = STDIN_FILENO;
  const int out_fd = ::fileno(ctx.out);
  const bool interactive = !batch && ::isatty(in_fd) && out_fd >= 0 && ::isatty(out_fd);

  std::vector<int> signals = {SIGINT, SIGTERM, SIGHUP};
  if (interactive) signals.insert(signals.end(), {SIGWINCH, SIGTSTP});
  SignalPipe sigpipe(signals);
  if (!sigpipe.ok()) {
    std::fprintf(ctx.err, "vnetctl: top: pipe: %s\n", std::strerror(errno));
    return kExitFailure;
  }
  std::optional<RawTerminal> raw;
  if (interactive) {
    raw.emplace(in_fd);
    if (!raw->ok()) {
      std::fprintf(ctx.err, "vnetctl: top: cannot set up the terminal: %s\n", std::strerror(errno));
      return kExitFailure;
    }
  }

  control::Request request;
  request.op = control::Op::Status;
  const std::string request_line = control::encodeRequest(request);
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
  const auto t0 = Clock::now();

  std::optional<TopSample> prev;
  std::vector<JailRow> rows;
  TopHeader header;
  header.interval = delay;
  header.hint = interactive ? "q quits" : "";
  std::string failure;  // printed after the terminal is restored
  std::optional<control::CallResult> lost;  // the daemon's failure, likewise
  long shown = 0;

  auto draw = [&]() -> bool {
    if (interactive) {
      unsigned w, h;
      terminalSize(out_fd, &w, &h);
      std::string screen = "\033[H";
      auto lines = layoutTop(rows, header, w, h);
      for (size_t k = 0; k < lines.size(); ++k) {
        screen += lines[k] + "\033[K";
        if (k + 1 < lines.size()) screen += "\n";
      }
      screen += "\033[J";
      return writeAll(ctx.out, screen);
    }
    std::string text = shown > 0 ? "\n" : "";
    for (const auto& l : layoutTop(rows, header, 0, 0)) text += l + "\n";
    return writeAll(ctx.out, text);
  };

  if (interactive && !writeAll(ctx.out, "\033[H\033[2J")) failure = "cannot write to the terminal";
  bool quit = !failure.empty();
  while (!quit) {
    const auto started = Clock::now();
    auto reply = control::call(ctx.socket_path, request_line, kStatusTimeout);
    if (!reply.ok()) {
      lost = std::move(reply);
      break;
    }
    auto snapshot = decodeStatusReply(reply.reply);
    if (!snapshot) {
      failure = printable(snapshot.error().message());
      break;
    }
    const double at = std::chrono::duration<double>(Clock::now() - t0).count();
    TopSample cur = topSample(*snapshot, at);
    rows = topRows(prev ? &*prev : nullptr, cur);
    prev = std::move(cur);
    header.clock = wallClock();
    if (!draw()) {
      failure = "cannot write the output";
      break;
    }
    if (++shown >= iterations && iterations > 0) break;

    // Wait for the next refresh, a key or a signal.
    const auto next = started + interval;
    bool refresh = false;
    while (!quit && !refresh) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
      if (left <= 0) break;
      pollfd fds[2] = {{sigpipe.fd(), POLLIN, 0}, {in_fd, POLLIN, 0}};
      int n = ::poll(fds, interactive ? 2 : 1, static_cast<int>(std::min<long long>(left + 1, 1 << 30)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = std::string("poll: ") + std::strerror(errno);
        quit = true;
        break;
      }
      if (fds[0].revents & POLLIN) {
        unsigned char sig[16];
        ssize_t got = ::read(sigpipe.fd(), sig, sizeof sig);
        for (ssize_t k = 0; k < got; ++k) {
          if (sig[k] == SIGWINCH) {
            if (!draw()) failure = "cannot write the output", quit = true;
          } else if (sig[k] == SIGTSTP) {
            // Stop like any program would, with the terminal as the shell expects it.
            raw->leave();
            std::signal(SIGTSTP, SIG_DFL);
            ::raise(SIGTSTP);
            // Continued.
            struct sigaction sa {};
            sa.sa_handler = onTopSignal;
            sigemptyset(&sa.sa_mask);
            ::sigaction(SIGTSTP, &sa, nullptr);
            raw->enter();
            if (!writeAll(ctx.out, "\033[H\033[2J") || !draw()) failure = "cannot write the output", quit = true;
          } else {
            quit = true;  // SIGINT, SIGTERM, SIGHUP
          }
        }
      }
      if (interactive && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        char keys[64];
        ssize_t got = ::read(in_fd, keys, sizeof keys);
        if (got <= 0 && !(got < 0 && (errno == EINTR || errno == EAGAIN))) quit = true;  // terminal gone
        for (ssize_t k = 0; k < got; ++k) {
          if (keys[k] == 'q' || keys[k] == 'Q') quit = true;
          if (keys[k] == ' ') refresh = true;
        }
      }
    }
  }

  if (interactive) {
    // Leave the last screen in place, with the prompt below it.
    (void)writeAll(ctx.out, "\n");
    raw.reset();
  }
  if (lost) {
    reportDaemonFailure(ctx, *lost);
    return kExitFailure;
  }
  if (!failure.empty()) {
    std::fprintf(ctx.err, "vnetctl: %s\n", failure.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace vnetd::cli
