// What the thin vnetd-hook (hook_main.cc) and vnetd-hook-standalone
// (hook_standalone_main.cc) share on the command line: one man page, one usage line, the
// same option checks and the same warn-only rule, so that the standalone implementation,
// executed with the thin hook's arguments, behaves exactly as the one vnetd-hook of old.
#pragma once

#include <getopt.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/hook_phase.h"
#include "core/naming.h"
#include "vnetd/build_config.h"

// Where vnetd-hook finds vnetd-hook-standalone once installed: src/cli/CMakeLists.txt passes
// its VNETD_HOOK_STANDALONE_PATH; this default is for builds without it (check-freebsd).
#ifndef VNETD_HOOK_STANDALONE_PATH
#define VNETD_HOOK_STANDALONE_PATH "/usr/local/libexec/vnetd-hook-standalone"
#endif

namespace vnetd::hook_cli {

inline constexpr const char* kUsage =
    "usage: vnetd-hook [--config FILE] [--socket PATH] [--standalone] [--timeout SECONDS] "
    "prestart|created|poststart|prestop|poststop JAIL\n";
inline constexpr const char* kShortOptions = "+c:S:st:Vh";

// How long a hook waits for the daemon's answer by default. The daemon serialises hooks,
// so this covers a queue of many jails starting at once.
inline constexpr std::chrono::seconds kDaemonReplyTimeout{60};
inline constexpr long kMaxTimeoutSeconds = 86400;

// The environment variable by which the thin hook tells the standalone one that the
// daemon went away without answering (its fallback warning then says so).
inline constexpr const char* kAfterLostEnv = "VNETD_HOOK_AFTER_LOST";

// printf arguments: default control socket, default configuration file, standalone path.
inline constexpr const char* kHookHelp =
    "NAME\n"
    "     vnetd-hook - set up and tear down a VNET jail's network from jail.conf hooks\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetd-hook [-c FILE] [-S PATH] [-s] [-t SECONDS] prestart JAIL\n"
    "     vnetd-hook [-c FILE] [-S PATH] [-s] [-t SECONDS] created JAIL\n"
    "     vnetd-hook [-c FILE] [-S PATH] [-s] [-t SECONDS] poststart JAIL\n"
    "     vnetd-hook [-c FILE] [-S PATH] [-s] [-t SECONDS] prestop JAIL\n"
    "     vnetd-hook [-c FILE] [-S PATH] [-s] [-t SECONDS] poststop JAIL\n"
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
    "               not exist. Prints the names the interfaces will have inside the\n"
    "               jail (a configured `name`, else e<i>b_JAIL), one per line.\n"
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
    "     (-S, else [daemon] control_socket of the configuration file, else %s):\n"
    "     the daemon serialises all hooks and knows at once what changed. When it is not running (nothing could be sent to it),\n"
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
    "     -S, --socket PATH   vnetd's control socket; the configuration file is then\n"
    "                         not read on the daemon path.\n"
    "     -s, --standalone    Do the work without the daemon; do not contact it.\n"
    "     -t, --timeout SECONDS\n"
    "                         How long to wait for the daemon's answer (default 60).\n"
    "     -V, --version       Print the version and exit.\n"
    "     -h, --help          Print this help and exit.\n"
    "\n"
    "THE THIN HOOK AND THE STANDALONE ONE\n"
    "     vnetd-hook is the small program that talks to the daemon: it links the C\n"
    "     library and the C++ runtime and nothing else (statically, on Linux), loads\n"
    "     no configuration and opens no kernel interface. It finds the control\n"
    "     socket (-S, and then it reads no file; else only the [daemon]\n"
    "     control_socket line of the configuration file; else the default), sends\n"
    "     the one request line, waits for the one reply line and prints what it\n"
    "     says.\n"
    "\n"
    "     Everything else is done by the standalone implementation,\n"
    "     vnetd-hook-standalone, which vnetd-hook executes in its own place with the\n"
    "     same arguments and environment, so that the output and exit status are\n"
    "     exactly those described here:\n"
    "       - when nothing could be sent to the daemon (it is not running, or it went\n"
    "         away without answering and nothing listens any more): the standalone\n"
    "         implementation asks the daemon once more and, when it is still not\n"
    "         there, does the work itself as described above;\n"
    "       - with -s: it does the work itself at once;\n"
    "       - when the configuration file sets control_socket in a way the thin hook\n"
    "         does not read with certainty (a multi-line or escaped string, an inline\n"
    "         table, a path that is not absolute or too long), or cannot be read: the\n"
    "         standalone implementation loads it and reports any error in it.\n"
    "     It never runs while vnetd may still have the request: then vnetd's\n"
    "     answer, or the give-up line above, decides. Since the thin hook does not load the\n"
    "     configuration, an error elsewhere in the file does not fail a hook that\n"
    "     the daemon runs (the daemon works with the configuration it loaded; vnetd\n"
    "     --check-config checks the file).\n"
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
    "     does poststop when it gave up waiting for the daemon (see above). When\n"
    "     the standalone implementation is needed and cannot be executed, one line\n"
    "     says so and the status is 1 (0 for prestop and poststart).\n"
    "\n"
    "ENVIRONMENT\n"
    "     VNETD_HOOK_AFTER_LOST  Set by vnetd-hook for vnetd-hook-standalone only.\n"
    "\n"
    "FILES\n"
    "     %s\n"
    "             The standalone implementation. A vnetd-hook-standalone in the\n"
    "             directory of the vnetd-hook that runs (as in a build tree) is used\n"
    "             in its place.\n";

// --timeout's argument, or nullopt after printing the usage error (exit status 2).
inline std::optional<std::chrono::milliseconds> parseTimeout(const char* arg) {
  char* end = nullptr;
  errno = 0;
  long seconds = std::strtol(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || seconds < 1 || seconds > kMaxTimeoutSeconds) {
    std::fprintf(stderr, "vnetd-hook: --timeout: expected whole seconds from 1 to %ld, got '%s'\n",
                 kMaxTimeoutSeconds, arg);
    return std::nullopt;
  }
  return std::chrono::seconds(seconds);
}

// Two phases never fail their jail(8) step, whose failure would cost more than what they
// are for: a failed exec.prestop makes jail(8) keep the jail (usr.sbin/jail/jail.c main:
// a failed stop command with the jail still there goes to jail_remove_done), and a failed
// exec.poststart makes it remove a jail that has just booted (command.c next_command
// unwinds the start). Their failures are warnings: this turns a failure status into 0
// with one warning line for them, and returns other statuses as they are.
inline int warnOnly(HookPhase phase, const char* jail, int status) {
  if (status == 0 || (phase != HookPhase::Prestop && phase != HookPhase::Poststart)) return status;
  if (phase == HookPhase::Prestop)
    std::fprintf(stderr, "vnetd-hook: warning: prestop %s did not finish; the jail stops anyway and poststop "
                         "destroys its interfaces\n", jail);
  else
    std::fprintf(stderr, "vnetd-hook: warning: poststart %s did not finish; the jail runs, but what its rc "
                         "changed on its interfaces stays (vnetctl doctor shows it)\n", jail);
  return 0;
}

// The command line of both binaries, parsed by the same code.
struct HookArgs {
  std::optional<std::string> config_path;  // -c; unset: the default configuration file
  std::optional<std::string> socket;       // -S
  bool standalone = false;                 // -s
  std::chrono::milliseconds timeout = kDaemonReplyTimeout;
  HookPhase phase = HookPhase::Prestart;
  std::string jail;
};

// Parses argv. nullopt when the process is to exit now with *exit_status: --help and
// --version (0, printed), a usage error (2, printed), or a jail name vnetd refuses (1, or
// 0 for the warn-only phases, one line printed) — hostile names stop here, before any
// file, socket or kernel call.
inline std::optional<HookArgs> parseHookArgs(int argc, char** argv, int* exit_status) {
  HookArgs out;
  static const option kOptions[] = {{"config", required_argument, nullptr, 'c'},
                                    {"socket", required_argument, nullptr, 'S'},
                                    {"standalone", no_argument, nullptr, 's'},
                                    {"timeout", required_argument, nullptr, 't'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, kShortOptions, kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c': out.config_path = optarg; break;
      case 'S': out.socket = optarg; break;
      case 's': out.standalone = true; break;
      case 't': {
        auto t = parseTimeout(optarg);
        if (!t) return *exit_status = 2, std::nullopt;
        out.timeout = *t;
        break;
      }
      case 'V':
        std::printf("vnetd-hook %s (%s)\n", build::kVersion, build::kPlatform);
        return *exit_status = 0, std::nullopt;
      case 'h':
        std::printf(kHookHelp, build::kDefaultControlSocket, build::kDefaultConfigPath, VNETD_HOOK_STANDALONE_PATH);
        return *exit_status = 0, std::nullopt;
      default: std::fputs(kUsage, stderr); return *exit_status = 2, std::nullopt;
    }
  }
  if (argc - optind != 2) {
    std::fputs(kUsage, stderr);
    return *exit_status = 2, std::nullopt;
  }
  auto phase = parseHookPhase(argv[optind]);
  if (!phase) {
    std::fprintf(stderr,
                 "vnetd-hook: unknown phase '%s' (expected prestart, created, poststart, prestop or poststop)\n",
                 argv[optind]);
    return *exit_status = 2, std::nullopt;
  }
  out.phase = *phase;
  out.jail = argv[optind + 1];
  if (auto problem = jailNameProblem(out.jail); !problem.empty()) {
    std::fprintf(stderr, "vnetd-hook: %s: %s\n", argv[optind], problem.c_str());
    return *exit_status = warnOnly(out.phase, out.jail.c_str(), 1), std::nullopt;
  }
  return out;
}

}  // namespace vnetd::hook_cli
