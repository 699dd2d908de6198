// vnetd-hook — the jail.conf exec.prestart / created / poststart / prestop / poststop helper.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "core/config.h"
#include "core/control_client.h"
#include "core/control_protocol.h"
#include "core/hook_call.h"
#include "core/jail_network.h"
#include "core/log.h"
#include "core/naming.h"
#include "core/state_store.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"
#include "vnetd/build_config.h"

namespace {

constexpr const char* kUsage =
    "usage: vnetd-hook [--config FILE] [--standalone] [--timeout SECONDS] "
    "prestart|created|poststart|prestop|poststop JAIL\n";

// How long a hook waits for the daemon's answer by default. The daemon serialises hooks,
// so this covers a queue of many jails starting at once.
constexpr std::chrono::seconds kDaemonReplyTimeout{60};
constexpr long kMaxTimeoutSeconds = 86400;
// After a lost connection (the daemon stopped or died) the request is asked again, at most
// this often, this far apart, within the timeout: long enough for a killed daemon's
// listening socket to go (or a restarted one to come), short next to a jail start.
constexpr int kMaxLostRetries = 20;
constexpr std::chrono::milliseconds kLostRetryPause{50};

constexpr const char* kHelp =
    "NAME\n"
    "     vnetd-hook - set up and tear down a VNET jail's network from jail.conf hooks\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetd-hook [-c FILE] [-s] [-t SECONDS] prestart JAIL\n"
    "     vnetd-hook [-c FILE] [-s] [-t SECONDS] created JAIL\n"
    "     vnetd-hook [-c FILE] [-s] [-t SECONDS] poststart JAIL\n"
    "     vnetd-hook [-c FILE] [-s] [-t SECONDS] prestop JAIL\n"
    "     vnetd-hook [-c FILE] [-s] [-t SECONDS] poststop JAIL\n"
    "\n"
    "DESCRIPTION\n"
    "     Called by jail(8) with the jail's name, in jail(8)'s order:\n"
    "\n"
    "     prestart  exec.prestart: before the jail exists. For each interface\n"
    "               configured for JAIL (its [jail.JAIL] table, else [jail_defaults])\n"
    "               create the interface pair e<i>a_JAIL (host side) / e<i>b_JAIL (jail\n"
    "               side) with stable MAC addresses and the description vnetd:JAIL:<i>,\n"
    "               give it the bridge's MTU, add the host side to the bridge and bring\n"
    "               it up. The bridge is created, addressed and brought up if it does\n"
    "               not exist. Prints the jail-side interface names, one per line.\n"
    "     created   exec.created: the jail exists. Move the jail sides into the jail,\n"
    "               then inside the jail: rename them if a name is configured, bring up\n"
    "               the loopback, assign the addresses, bring the interfaces up and add\n"
    "               the default routes. If this fails right after prestart, the pairs\n"
    "               are removed again: jail(8) runs no exec.poststop after a failed\n"
    "               start.\n"
    "     poststart exec.poststart: after the jail's own rc ran. Put back what rc\n"
    "               changed on vnetd's interfaces: rc.d/netif switches IPv6 off on every\n"
    "               interface but lo0 unless ipv6_activate_all_interfaces=\"YES\" is in\n"
    "               the jail's rc.conf, which stops address6/gateway6 from working.\n"
    "               Never fails: a failed exec.poststart makes jail(8) remove the jail\n"
    "               that has just booted, so problems are warnings and the exit status\n"
    "               is 0.\n"
    "     prestop   exec.prestop: the jail still runs. Take the jail sides back to the\n"
    "               host (by their recorded names and MAC addresses), so that a dying\n"
    "               jail cannot hold them. Interfaces that are not there are skipped.\n"
    "               Never fails: a failed exec.prestop makes jail(8) keep the jail, so\n"
    "               problems are printed as warnings and the exit status is 0.\n"
    "     poststop  exec.poststop: the jail is removed. Destroy the pairs vnetd created\n"
    "               for JAIL. Refused (nothing changed, exit status 1) while a jail of\n"
    "               that name runs with its own network stack: that is a later start.\n"
    "\n"
    "     Never set vnet.interface in jail.conf for an interface vnetd manages:\n"
    "     jail(8) moves vnet.interface after exec.created, when vnetd-hook has already\n"
    "     moved it, and the start then fails.\n"
    "\n"
    "     When vnetd is running, the work is handed to it over its control socket\n"
    "     ([daemon] control_socket): the daemon serialises all hooks and knows at once\n"
    "     what changed. When it is not running (nothing could be sent to it),\n"
    "     vnetd-hook does the same work itself with one warning line (part of the error\n"
    "     line if the work fails), recording it in the state directory; the daemon\n"
    "     adopts it when it starts. A jail never\n"
    "     fails to start because the daemon is down. Output and exit status are the\n"
    "     same either way.\n"
    "\n"
    "     Once the request was sent, vnetd-hook does not do the work itself while the\n"
    "     daemon may still do it: doing it twice can destroy a jail's new interfaces.\n"
    "     If vnetd does not answer within the timeout (--timeout), vnetd-hook prints\n"
    "     one line saying so (see vnetctl status and vnetd's log) and exits 1 for\n"
    "     prestart and created (the start fails; start the jail again), 0 for\n"
    "     poststart, prestop and poststop; vnetd skips a request whose hook gave up\n"
    "     before it started on it. If the connection ends without an answer (vnetd\n"
    "     stopped or died), vnetd-hook asks once more: a vnetd that answers does it,\n"
    "     and when none listens any more the hook does it itself, as above.\n"
    "\n"
    "     Every phase is idempotent (running it twice changes nothing the second time)\n"
    "     and concurrent hooks are serialised through the state directory's lock. If a\n"
    "     prestart step fails, everything that invocation created is removed again and\n"
    "     the exit status is non-zero, so jail(8) aborts the start. vnetd-hook only ever\n"
    "     destroys interfaces that its state records as created by vnetd.\n"
    "\n"
    "     Interface names longer than 15 characters are shortened deterministically\n"
    "     with a hash suffix (e.g. e0a_webXXXXXXXX).\n"
    "\n"
    "OPTIONS\n"
    "     -c, --config FILE   Configuration file (default: %s).\n"
    "     -s, --standalone    Do the work in this process; do not contact the daemon.\n"
    "     -t, --timeout SECONDS\n"
    "                         How long to wait for the daemon's answer (default 60).\n"
    "     -V, --version       Print the version and exit.\n"
    "     -h, --help          Print this help and exit.\n"
    "\n"
    "JAIL.CONF\n"
    "     web {\n"
    "         vnet;\n"
    "         exec.prestart  += \"/usr/local/sbin/vnetd-hook prestart ${name}\";\n"
    "         exec.created   += \"/usr/local/sbin/vnetd-hook created ${name}\";\n"
    "         exec.poststart += \"/usr/local/sbin/vnetd-hook poststart ${name}\";\n"
    "         exec.prestop   += \"/usr/local/sbin/vnetd-hook prestop ${name}\";\n"
    "         exec.poststop  += \"/usr/local/sbin/vnetd-hook poststop ${name}\";\n"
    "     }\n"
    "\n"
    "EXIT STATUS\n"
    "     0 on success (including nothing to do), 1 on failure (one line on stderr),\n"
    "     2 on usage errors. prestop and poststart exit 0 on failures too, and so\n"
    "     does poststop when it gave up waiting for the daemon (see above).\n";

// Standalone mode: the same JailNetwork the daemon uses, in this process. `fallback` is
// the warning of a hook that meant to use the daemon and could not reach it: printed once
// the work is done, or folded into the failure line — a failing hook prints one line.
int runStandalone(const vnetd::Config& config, vnetd::HookPhase phase, const std::string& jail,
                  const std::string& fallback = {}) {
  using namespace vnetd;
  auto fail = [&](const Error& e) {
    std::fprintf(stderr, "vnetd-hook: %s %s: %s%s\n", hookPhaseName(phase), jail.c_str(), e.message().c_str(),
                 fallback.empty() ? "" : (" (done without the daemon: " + fallback + ")").c_str());
    return 1;
  };
  std::string host_id = config.daemon.host_id;
  if (host_id.empty()) {
    auto id = platform::readHostId();
    if (!id) return fail(id.error());
    host_id = *id;
  }
  auto store = StateStore::open(config.daemon.state_dir);
  if (!store) return fail(store.error());
  auto host = platform::openHostStack();
  if (!host) return fail(host.error());
  auto jails = platform::openJails();
  if (!jails) return fail(jails.error());

  auto policy = platform::openPolicy();
  JailNetwork network(config, *store, **host, **jails, *policy, host_id);
  auto outcome = network.run(phase, jail);
  if (!outcome) return fail(outcome.error());
  if (!fallback.empty()) std::fprintf(stderr, "vnetd-hook: warning: %s\n", fallback.c_str());
  if (phase == HookPhase::Prestart)
    for (const auto& name : outcome->jail_side_names) std::printf("%s\n", name.c_str());
  return 0;
}

// Daemon mode. Returns the exit status, or nullopt when the daemon could not answer and
// the caller must fall back (`fallback` then says why, for runStandalone to print).
// A give-up (sent, no answer) returns its status directly: it is not a failure for the
// caller's warn-only conversion, which would print a second line.
std::optional<int> runThroughDaemon(const vnetd::Config& config, vnetd::HookPhase phase, const std::string& jail,
                                    std::chrono::milliseconds timeout, bool& gave_up, std::string& fallback) {
  using namespace vnetd;
  control::Request request{control::Op::Hook, phase, jail};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto result = control::call(config.daemon.control_socket, control::encodeRequest(request), timeout);
  auto verdict = judgeDaemonCall(phase, jail, result, timeout);
  // Lost: the daemon stopped or died (see core/hook_call.h); ask again, a few times within
  // the timeout — a connection the dying daemon had not accepted yet is reset as well.
  for (int retries = 0; verdict.action == HookCallVerdict::Action::Retry; ++retries) {
    std::this_thread::sleep_for(kLostRetryPause);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    result = control::call(config.daemon.control_socket, control::encodeRequest(request),
                           std::max(left, std::chrono::milliseconds(1)));
    const bool may_retry = retries + 1 < kMaxLostRetries && std::chrono::steady_clock::now() < deadline;
    verdict = judgeDaemonCall(phase, jail, result, timeout, /*after_lost=*/true, may_retry);
  }
  switch (verdict.action) {
    case HookCallVerdict::Action::Standalone:
      fallback = verdict.message.rfind("warning: ", 0) == 0 ? verdict.message.substr(9) : verdict.message;
      return std::nullopt;
    case HookCallVerdict::Action::GiveUp:
      std::fprintf(stderr, "vnetd-hook: %s\n", verdict.message.c_str());
      gave_up = true;
      return verdict.exit_status;
    case HookCallVerdict::Action::Retry:  // never after a retry
    case HookCallVerdict::Action::UseReply: break;
  }
  auto outcome = control::decodeHookReply(result.reply);
  if (!outcome) {
    std::fprintf(stderr, "vnetd-hook: %s %s: %s\n", hookPhaseName(phase), jail.c_str(),
                 outcome.error().message().c_str());
    return 1;
  }
  if (phase == HookPhase::Prestart)
    for (const auto& name : outcome->jail_side_names) std::printf("%s\n", name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnetd;
  log::init(log::Sink::Stderr, log::Level::Warning, "vnetd-hook");
  std::string config_path = build::kDefaultConfigPath;
  bool standalone = false;
  std::chrono::milliseconds timeout = kDaemonReplyTimeout;
  static const option kOptions[] = {{"config", required_argument, nullptr, 'c'},
                                    {"standalone", no_argument, nullptr, 's'},
                                    {"timeout", required_argument, nullptr, 't'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "+c:st:Vh", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c': config_path = optarg; break;
      case 's': standalone = true; break;
      case 't': {
        char* end = nullptr;
        errno = 0;
        long seconds = std::strtol(optarg, &end, 10);
        if (errno != 0 || end == optarg || *end != '\0' || seconds < 1 || seconds > kMaxTimeoutSeconds) {
          std::fprintf(stderr, "vnetd-hook: --timeout: expected whole seconds from 1 to %ld, got '%s'\n",
                       kMaxTimeoutSeconds, optarg);
          return 2;
        }
        timeout = std::chrono::seconds(seconds);
        break;
      }
      case 'V': std::printf("vnetd-hook %s (%s)\n", build::kVersion, build::kPlatform); return 0;
      case 'h': std::printf(kHelp, build::kDefaultConfigPath); return 0;
      default: std::fputs(kUsage, stderr); return 2;
    }
  }
  if (argc - optind != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto phase = parseHookPhase(argv[optind]);
  if (!phase) {
    std::fprintf(stderr,
                 "vnetd-hook: unknown phase '%s' (expected prestart, created, poststart, prestop or poststop)\n",
                 argv[optind]);
    return 2;
  }
  std::string jail = argv[optind + 1];
  // Two phases never fail their jail(8) step, whose failure would cost more than what
  // they are for: a failed exec.prestop makes jail(8) keep the jail (usr.sbin/jail/jail.c
  // main: a failed stop command with the jail still there goes to jail_remove_done), and
  // a failed exec.poststart makes it remove a jail that has just booted (command.c
  // next_command unwinds the start). Their failures are warnings.
  const bool warn_only = *phase == HookPhase::Prestop || *phase == HookPhase::Poststart;
  auto fail = [&](int status) {
    if (status == 0 || !warn_only) return status;
    if (*phase == HookPhase::Prestop)
      std::fprintf(stderr, "vnetd-hook: warning: prestop %s did not finish; the jail stops anyway and poststop "
                           "destroys its interfaces\n", jail.c_str());
    else
      std::fprintf(stderr, "vnetd-hook: warning: poststart %s did not finish; the jail runs, but what its rc "
                           "changed on its interfaces stays (vnetctl doctor shows it)\n", jail.c_str());
    return 0;
  };
  // Hostile or malformed names stop here, before the config, the state or the kernel.
  if (auto problem = jailNameProblem(jail); !problem.empty()) {
    std::fprintf(stderr, "vnetd-hook: %s: %s\n", argv[optind], problem.c_str());
    return fail(1);
  }

  ConfigLoadResult loaded = loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "vnetd-hook: %s\n", e.toString().c_str());
    return fail(1);
  }
  const Config& config = *loaded.config;
  log::setLevel(config.daemon.log_level < log::Level::Warning ? config.daemon.log_level
                                                              : log::Level::Warning);
  if (!standalone) {
    // stdout must carry exactly what the daemon path printed (nothing, on fallback).
    bool gave_up = false;
    std::string fallback;
    if (auto status = runThroughDaemon(config, *phase, jail, timeout, gave_up, fallback))
      return gave_up ? *status : fail(*status);
    return fail(runStandalone(config, *phase, jail, fallback));
  }
  return fail(runStandalone(config, *phase, jail));
}
