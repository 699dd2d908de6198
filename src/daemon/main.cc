// vnetd — the daemon: event loop, control socket, reconciliation.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "core/pidfile.h"
#include "core/unique_fd.h"
#include "daemon/daemon.h"
#include "daemon/dispatcher.h"
#include "platform/host.h"
#include "vnetd/build_config.h"

namespace {

constexpr const char* kUsage =
    "usage: vnetd [--config FILE] [--foreground]\n"
    "       vnetd [--config FILE] --check-config\n"
    "       vnetd --version | --help\n";

constexpr const char* kHelp =
    "NAME\n"
    "     vnetd - VNET jail network daemon\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetd [-c FILE] [-f]\n"
    "     vnetd [-c FILE] -n\n"
    "     vnetd -V | -h\n"
    "\n"
    "DESCRIPTION\n"
    "     vnetd owns the epair/bridge networking of the VNET jails described in its\n"
    "     TOML configuration file. It performs the jail hooks that vnetd-hook(8) hands\n"
    "     to it over the control socket (one at a time, in arrival order), watches\n"
    "     interface events, and reconciles the kernel with its state directory: on\n"
    "     start, shortly after relevant events, and every [daemon]\n"
    "     reconcile_interval_seconds:\n"
    "\n"
    "       - jails set up by vnetd-hook while vnetd was not running are adopted as\n"
    "         they are (nothing is recreated);\n"
    "       - configured bridges that are missing, down or without their address are\n"
    "         recreated or repaired, and jail interfaces that left their bridge are\n"
    "         added back;\n"
    "       - the interfaces of jails that are gone without a poststop (and pairs of a\n"
    "         prestart whose jail never started) are destroyed after [daemon]\n"
    "         orphan_grace_seconds;\n"
    "       - interfaces vnetd did not create are reported, never touched.\n"
    "\n"
    "     Stopping vnetd never tears down jail networking; the next start adopts it.\n"
    "\n"
    "OPTIONS\n"
    "     -c, --config FILE\n"
    "             Configuration file (default: %s).\n"
    "     -f, --foreground\n"
    "             Do not detach; log to standard error instead of syslog. For\n"
    "             supervisors (daemon(8), systemd) and debugging.\n"
    "     -n, --check-config\n"
    "             Parse and validate the configuration, print every problem as\n"
    "             FILE:LINE:COLUMN: MESSAGE, and exit.\n"
    "     -V, --version\n"
    "             Print the version, revision and platform.\n"
    "     -h, --help\n"
    "             Print this help.\n"
    "\n"
    "SIGNALS\n"
    "     SIGHUP   Reload the configuration. A file with problems is rejected (each\n"
    "              problem is logged) and the running configuration stays in effect.\n"
    "     SIGTERM, SIGINT\n"
    "              Stop. Jail networking stays as it is, except IP forwarding that\n"
    "              vnetd switched on ([daemon] manage_forwarding): switched back off.\n"
    "\n"
    "FILES\n"
    "     The pid file ([daemon] pidfile, default %s) is locked while vnetd runs; a\n"
    "     second vnetd refuses to start. The control socket ([daemon] control_socket,\n"
    "     default %s) is mode 0600, or 0660 for [daemon] control_group.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 after a clean stop or a valid configuration, 1 on errors (one line on\n"
    "     standard error, or in syslog once detached), 2 on usage errors.\n";

// Detaches. The original process waits until the daemon says it is ready (control socket
// listening) or why it is not, so `service vnetd start` reports start-up errors and
// returns only when hooks can reach the daemon. Returns the write end of that pipe in the
// daemon; never returns in the original process.
int detach() {
  int pipefd[2];
  if (::pipe(pipefd) != 0) {
    std::fprintf(stderr, "vnetd: pipe: %s\n", std::strerror(errno));
    std::exit(1);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "vnetd: fork: %s\n", std::strerror(errno));
    std::exit(1);
  }
  if (pid > 0) {
    ::close(pipefd[1]);
    std::string said;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      said.append(buf, static_cast<size_t>(n));
    }
    if (!said.empty() && said[0] == '\0') std::_Exit(0);
    if (said.empty()) said = "vnetd: exited during start-up (see syslog)\n";
    std::fputs(said.c_str(), stderr);
    std::_Exit(1);
  }
  ::close(pipefd[0]);
  ::setsid();
  // A second fork: the daemon is not a session leader and can never acquire a terminal.
  pid = ::fork();
  if (pid < 0) std::_Exit(1);
  if (pid > 0) std::_Exit(0);
  if (::chdir("/") != 0) { /* "/" always exists; nothing better to do */ }
  ::umask(022);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  if (null > STDERR_FILENO) ::close(null);
  ::fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
  return pipefd[1];
}

// Tells the waiting parent (if any) how start-up ended, then detaches stdout/stderr.
void reportStart(int& ready_fd, const std::string& error) {
  if (ready_fd < 0) return;
  std::string msg = error.empty() ? std::string(1, '\0') : "vnetd: " + error + "\n";
  ssize_t ignored = ::write(ready_fd, msg.data(), msg.size());
  (void)ignored;
  ::close(ready_fd);
  ready_fd = -1;
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnetd;
  std::string config_path = build::kDefaultConfigPath;
  bool check_config = false;
  bool foreground = false;
  static const option kOptions[] = {{"config", required_argument, nullptr, 'c'},
                                    {"foreground", no_argument, nullptr, 'f'},
                                    {"check-config", no_argument, nullptr, 'n'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "c:fnVh", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c': config_path = optarg; break;
      case 'f': foreground = true; break;
      case 'n': check_config = true; break;
      case 'V':
        std::printf("vnetd %s (revision %s, %s)\n", build::kVersion, build::kRevision, build::kPlatform);
        return 0;
      case 'h':
        std::printf(kHelp, build::kDefaultConfigPath, build::kDefaultPidfile, build::kDefaultControlSocket);
        return 0;
      default: std::fputs(kUsage, stderr); return 2;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "vnetd: unexpected argument '%s'\n%s", argv[optind], kUsage);
    return 2;
  }
  // Scrapes build and free the same few MB each time: keep them (platform/host.h).
  platform::retainFreedMemory();
  ConfigLoadResult loaded = loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return 1;
  }
  if (check_config) {
    std::printf("%s: configuration OK (%zu bridges, %zu jails%s)\n", config_path.c_str(),
                loaded.config->bridges.size(), loaded.config->jails.size(),
                loaded.config->jail_defaults ? ", jail defaults" : "");
    return 0;
  }

  int ready_fd = foreground ? -1 : detach();
  log::init(foreground ? log::Sink::Stderr : log::Sink::Syslog, loaded.config->daemon.log_level, "vnetd");
  // A client that hangs up mid-reply must cost an EPIPE, not the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  auto fail = [&](const std::string& what) {
    VNETD_LOG_ERROR("%s", what.c_str());
    reportStart(ready_fd, what);
    return 1;
  };

  auto pidfile = Pidfile::acquire(loaded.config->daemon.pidfile);
  if (!pidfile) return fail(pidfile.error().message());
  auto dispatcher = daemon::Dispatcher::create();
  if (!dispatcher) return fail(dispatcher.error().message());
  auto& loop = **dispatcher;
  // Signals are watched before the daemon exists: one that arrives during start-up waits
  // in libevent's queue instead of killing the process with its default action.
  std::unique_ptr<daemon::Daemon> d;
  auto hup = loop.onSignal(SIGHUP, [&] {
    if (!d) return;
    auto r = d->reload();
    if (!r) VNETD_LOG_ERROR("%s", r.error().message().c_str());
  });
  auto stop = [&] {
    VNETD_LOG_INFO("stopping");
    loop.exit();
  };
  auto term = loop.onSignal(SIGTERM, stop);
  auto intr = loop.onSignal(SIGINT, stop);
  if (!hup || !term || !intr) return fail("cannot watch signals");

  auto created = daemon::Daemon::create(loop, config_path, std::move(*loaded.config));
  if (!created) return fail(created.error().message());
  d = std::move(*created);
  reportStart(ready_fd, "");

  auto ran = loop.run();
  d.reset();
  hup->reset();
  term->reset();
  intr->reset();
  if (!ran) {
    VNETD_LOG_ERROR("%s", ran.error().message().c_str());
    return 1;
  }
  return 0;
}
