// vnetctl — the operators' tool: global options, finding the daemon, sub-command dispatch.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/vnetctl/status_view.h"
#include "cli/vnetctl/vnetctl.h"
#include "core/config.h"
#include "vnetd/build_config.h"

namespace {

constexpr const char* kUsage =
    "usage: vnetctl [-c FILE] [-S PATH] status [--json] [JAIL]\n"
    "       vnetctl [-c FILE] [-S PATH] top [-b] [-d SECONDS] [-n ITERATIONS]\n"
    "       vnetctl [-c FILE] [-S PATH] doctor [-q] [--json] [--jail-conf FILE]\n"
    "       vnetctl [-c FILE] [-S PATH] capture JAIL [-w FILE|-] [-c COUNT]\n"
    "               [-G SECONDS] [-s SNAPLEN] [--last] [FILTER ...]\n"
    "       vnetctl COMMAND --help | vnetctl --version | vnetctl --help\n";

// printf arguments: default config path, default control socket, default config path.
constexpr const char* kHelp =
    "NAME\n"
    "     vnetctl - look at and troubleshoot the jail networks vnetd manages\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetctl [-c FILE] [-S PATH] status [-j] [JAIL]\n"
    "     vnetctl [-c FILE] [-S PATH] top [-b] [-d SECONDS] [-n ITERATIONS]\n"
    "     vnetctl [-c FILE] [-S PATH] doctor [-q] [--json] [--jail-conf FILE]\n"
    "     vnetctl [-c FILE] [-S PATH] capture JAIL [-w FILE|-] [-c COUNT]\n"
    "             [-G SECONDS] [-s SNAPLEN] [--last] [FILTER ...]\n"
    "     vnetctl COMMAND -h\n"
    "     vnetctl -V | -h\n"
    "\n"
    "DESCRIPTION\n"
    "     vnetctl talks to the vnetd(8) daemon over its control socket: the socket\n"
    "     named by -S, else [daemon] control_socket in the configuration file, else\n"
    "     the default. When the configuration file is missing or has errors, status\n"
    "     and top still work with the default socket. When vnetd is not running,\n"
    "     vnetctl says so in one line and exits 1.\n"
    "\n"
    "COMMANDS\n"
    "     status [-j | --json] [JAIL]\n"
    "             One entry per jail interface, like jls -v: jail, jid, whether it\n"
    "             runs, host-side and jail-side interface, link state, receive and\n"
    "             transmit rate, bridge, addresses and jail-side MAC; then the\n"
    "             bridges. --json prints a stable document for scripts (schema\n"
    "             version 1). With JAIL, only that jail.\n"
    "\n"
    "     top [-b] [-d SECONDS] [-n ITERATIONS]\n"
    "             A live view of per-jail receive/transmit bits/s and packets/s,\n"
    "             active flows and drops/s, busiest jail first, refreshed every\n"
    "             SECONDS (default 2); q quits. -b (automatic when not on a\n"
    "             terminal) prints plain text refreshes; -n stops after N of them.\n"
    "\n"
    "     doctor [-q | --quiet] [--json] [--jail-conf FILE]\n"
    "             Runs the troubleshooting checklist for this platform: kernel\n"
    "             support (FreeBSD: vimage, if_epair and if_bridge; Linux: veth,\n"
    "             bridge, the netns directory), each configured bridge exists, is up,\n"
    "             has its address and expected members, consistent MTUs, forwarding\n"
    "             and NAT rules where NAT or a gateway is configured, each running\n"
    "             jail's default route, capture can open each bridge, and the daemon\n"
    "             is reachable and runs the configuration on disk. Each check prints\n"
    "             OK, WARN or FAIL with the command that fixes it. -q prints only\n"
    "             the warnings and failures (nothing when all is well: for cron);\n"
    "             --json prints one JSON object per check; --jail-conf names the\n"
    "             jail.conf to check (default /etc/jail.conf).\n"
    "\n"
    "     capture JAIL [-w FILE|-] [-c COUNT] [-G SECONDS] [-s SNAPLEN] [FILTER ...]\n"
    "             Captures one jail's traffic without entering the jail: vnetd\n"
    "             captures on the jail's bridge, restricted to the jail's MAC\n"
    "             addresses and the optional BPF FILTER, and streams pcap to FILE\n"
    "             (mode 0600; - for standard output) for tcpdump -r or tshark -r.\n"
    "             Bounded by default by a packet count or a duration; Ctrl-C ends it\n"
    "             with a summary line. --last writes the jail's flight recorder (its\n"
    "             last packets, kept by vnetd all along) at once.\n"
    "\n"
    "     Each command has its own help: vnetctl COMMAND --help.\n"
    "\n"
    "OPTIONS\n"
    "     -c, --config FILE\n"
    "             vnetd's configuration file, for the control socket path (and, for\n"
    "             doctor, what to check) (default: %s).\n"
    "     -S, --socket PATH\n"
    "             The control socket; overrides the configuration.\n"
    "     -V, --version\n"
    "             Print the version, revision and platform.\n"
    "     -h, --help\n"
    "             Print this help.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 on success; 1 when the operation failed (vnetd not running, unknown\n"
    "     jail, ...); 64 on usage errors. doctor: 0 all OK, 1 warnings, 2 failures.\n"
    "\n"
    "FILES\n"
    "     %s\n"
    "             The control socket when the configuration names none. Reading\n"
    "             status needs root or membership of [daemon] control_group.\n"
    "     %s\n"
    "             The default configuration file.\n"
    "\n"
    "EXAMPLES\n"
    "     vnetctl status\n"
    "     vnetctl status web --json | jq '.jails[0].interfaces[0].addresses'\n"
    "     vnetctl top -d 1\n"
    "     vnetctl top -b -n 3 -d 5 > traffic.txt\n"
    "     vnetctl doctor\n"
    "     vnetctl capture web -c 100 -w /tmp/web.pcap tcp port 80\n"
    "     vnetctl capture web --last -w - | tcpdump -nr -\n"
    "\n"
    "SEE ALSO\n"
    "     vnetd(8), vnetd-hook(8), jail(8), jls(8), tcpdump(1); docs/vnetctl.md\n";

// The unknown option getopt_long complained about: a short one by its letter (it may sit
// inside a cluster like -xV, where optind has not moved on), a long one as written.
std::string offending(char** argv, int optind_now, int optopt_now) {
  if (optopt_now > 0 && optopt_now < 0x7f) return std::string("-") + static_cast<char>(optopt_now);
  return vnetd::cli::printable(argv[optind_now - 1]);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnetd;
  cli::Context ctx;
  std::string config_path;
  std::string socket_path;
  bool config_given = false, socket_given = false;
  static const option kOptions[] = {{"config", required_argument, nullptr, 'c'},
                                    {"socket", required_argument, nullptr, 'S'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  opterr = 0;  // our own one-line messages
  int opt;
  // '+': options end at the command; what follows belongs to it (capture's -c COUNT).
  while ((opt = getopt_long(argc, argv, "+:c:S:Vh", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'c':
        config_path = optarg;
        config_given = true;
        break;
      case 'S':
        socket_path = optarg;
        socket_given = true;
        break;
      case 'V':
        std::printf("vnetctl %s (revision %s, %s)\n", build::kVersion, build::kRevision, build::kPlatform);
        return cli::kExitOk;
      case 'h':
        std::printf(kHelp, build::kDefaultConfigPath, build::kDefaultControlSocket, build::kDefaultConfigPath);
        return cli::kExitOk;
      case ':':
        // Only the last argument can lack its value: argv[optind - 1] is the option as written.
        std::fprintf(stderr, "vnetctl: option '%s' needs an argument\n%s", cli::printable(argv[optind - 1]).c_str(),
                     kUsage);
        return cli::kExitUsage;
      default:
        std::fprintf(stderr, "vnetctl: unknown option '%s'\n%s", offending(argv, optind, optopt).c_str(), kUsage);
        return cli::kExitUsage;
    }
  }
  if (optind >= argc) {
    std::fprintf(stderr, "vnetctl: no command given\n%s", kUsage);
    return cli::kExitUsage;
  }
  const std::string command = argv[optind];
  const std::vector<std::string> rest(argv + optind + 1, argv + argc);
  using Command = int (*)(const cli::Context&, const std::vector<std::string>&);
  Command run = command == "status"    ? cli::statusCommand
                : command == "top"     ? cli::topCommand
                : command == "doctor"  ? cli::doctorCommand
                : command == "capture" ? cli::captureCommand
                                       : nullptr;
  if (!run) {
    std::fprintf(stderr, "vnetctl: unknown command '%s' (expected status, top, doctor or capture)\n%s",
                 cli::printable(command).c_str(), kUsage);
    return cli::kExitUsage;
  }

  // Only --socket given: no configuration is read (a host without one, or a test).
  if (config_given || !socket_given) ctx.config_path = config_given ? config_path : build::kDefaultConfigPath;
  if (!ctx.config_path.empty()) {
    ConfigLoadResult loaded = loadConfigFile(ctx.config_path);
    if (loaded.ok()) ctx.config = std::move(*loaded.config);
    else if (!loaded.errors.empty()) ctx.config_error = loaded.errors.front().toString();
    else ctx.config_error = ctx.config_path + ": cannot be loaded";
  }
  if (socket_given) {
    ctx.socket_path = socket_path;
    ctx.socket_source = "--socket";
  } else if (ctx.config) {
    ctx.socket_path = ctx.config->daemon.control_socket;
    ctx.socket_source = "config";
  } else {
    ctx.socket_path = build::kDefaultControlSocket;
    ctx.socket_source = "default";
  }
  return run(ctx, rest);
}
