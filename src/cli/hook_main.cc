// vnetd-hook — the thin jail.conf hook: one request to the daemon, one reply, and the
// standalone implementation (vnetd-hook-standalone, hook_standalone_main.cc) executed in
// its place for everything else. Links vnetd_core_light only (libc and the C++ runtime,
// statically where that is measurably faster: src/cli/CMakeLists.txt); it must stay
// that small — no configuration loader, no JSON library, no platform code. The manual
// page (hook_cli.h) says what it does and when it hands over.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "cli/hook_cli.h"
#include "core/control_socket_scan.h"
#include "core/hook_call.h"
#include "core/hook_wire.h"
#include "core/naming.h"
#include "vnetd/build_config.h"

extern char** environ;

namespace {

using namespace vnetd;

constexpr const char* kStandaloneName = "vnetd-hook-standalone";

// The configuration file's text, or nullopt when it cannot be read whole (the standalone
// implementation then reports why, as vnetd-hook always did).
std::optional<std::string> readConfig(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() + static_cast<size_t>(n) > kMaxScannedConfigBytes) {
      ::close(fd);
      if (n == 0) return text;
      return std::nullopt;
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

// Replaces this process with vnetd-hook-standalone, same arguments (argv[0] too: getopt's
// messages name it) and environment. Tried in order: the one next to this executable when
// argv[0] names a path (a build tree, or an install that keeps them together), then the
// compiled-in install path. Returns only when neither could be executed: the status.
int execStandalone(char** argv, HookPhase phase, const char* jail, bool after_lost, const std::string& why) {
  if (after_lost)
    ::setenv(hook_cli::kAfterLostEnv, "1", 1);
  else
    ::unsetenv(hook_cli::kAfterLostEnv);
  std::string tried;
  auto attempt = [&](const std::string& path) {
    ::execve(path.c_str(), argv, environ);
    tried += (tried.empty() ? "" : ", ") + path + ": " + std::strerror(errno);
  };
  if (const char* slash = std::strrchr(argv[0], '/'))
    attempt(std::string(argv[0], static_cast<size_t>(slash - argv[0]) + 1) + kStandaloneName);
  attempt(VNETD_HOOK_STANDALONE_PATH);
  std::fprintf(stderr, "vnetd-hook: %s %s: %s, and the standalone implementation cannot be executed (%s); "
                       "reinstall vnetd-hook-standalone\n",
               hookPhaseName(phase), jail, why.c_str(), tried.c_str());
  return hook_cli::warnOnly(phase, jail, 1);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_status = 0;
  auto args = hook_cli::parseHookArgs(argc, argv, &exit_status);
  if (!args) return exit_status;
  const std::optional<std::string>& config_path = args->config_path;
  std::optional<std::string> socket = args->socket;
  const bool standalone = args->standalone;
  const std::chrono::milliseconds timeout = args->timeout;
  const HookPhase phase = args->phase;
  const std::string& jail = args->jail;
  auto fail = [&](int status) { return hook_cli::warnOnly(phase, jail.c_str(), status); };
  if (standalone) return execStandalone(argv, phase, jail.c_str(), false, "--standalone");

  // The control socket: -S; else the configuration's, when it surely says; else the
  // standalone implementation decides (it loads the configuration).
  if (!socket) {
    auto text = readConfig(config_path.value_or(build::kDefaultConfigPath));
    auto scan = text ? scanControlSocket(*text) : ControlSocketScan{};
    switch (scan.answer) {
      case ControlSocketScan::Answer::Found: socket = scan.path; break;
      case ControlSocketScan::Answer::Absent: socket = build::kDefaultControlSocket; break;
      case ControlSocketScan::Answer::Unsure:
        return execStandalone(argv, phase, jail.c_str(), false,
                              "the configuration's control socket needs the full configuration loader");
    }
  }

  auto call = callDaemonForHook(*socket, phase, jail, timeout);
  const HookCallVerdict& verdict = call.verdict;
  switch (verdict.action) {
    case HookCallVerdict::Action::Standalone:
      // Nothing was sent (now): the standalone implementation asks once more and does the
      // work itself if the daemon is still not there.
      return execStandalone(argv, phase, jail.c_str(), call.after_lost,
                            verdict.message.substr(verdict.message.rfind("warning: ", 0) == 0 ? 9 : 0));
    case HookCallVerdict::Action::GiveUp:
      std::fprintf(stderr, "vnetd-hook: %s\n", verdict.message.c_str());
      return verdict.exit_status;  // not a failure for warnOnly: it would print a second line
    case HookCallVerdict::Action::Retry:  // never returned
    case HookCallVerdict::Action::UseReply: break;
  }
  auto reply = control::decodeHookReplyLine(call.reply);
  if (!reply) {
    std::fprintf(stderr, "vnetd-hook: %s %s: %s\n", hookPhaseName(phase), jail.c_str(),
                 reply.error().message().c_str());
    return fail(1);
  }
  if (phase == HookPhase::Prestart)
    for (const auto& name : reply->jail_side_names) std::printf("%s\n", name.c_str());
  return 0;
}
