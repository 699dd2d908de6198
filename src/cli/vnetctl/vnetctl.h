// vnetctl — the operators' tool. Each sub-command lives in its own file under
// src/cli/vnetctl/ and is reached through this interface from src/cli/vnetctl_main.cc,
// which parses the global options (-c/--config, -S/--socket) and finds the daemon.
//
// The sub-commands are library code (vnetd_cli) so that their pure parts — formatting,
// rate arithmetic, pcap stream framing, doctor verdicts — are unit-tested.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/control_client.h"

namespace vnetd::cli {

// What every sub-command gets from the global options.
struct Context {
  std::string socket_path;       // the daemon's control socket (from --socket, the config, or the default)
  std::string config_path;       // the configuration file named or defaulted ("" when only --socket was given)
  std::optional<Config> config;  // loaded from config_path when it exists and is valid
  std::string config_error;      // why config is empty when config_path is set (first error, one line)
  FILE* out = stdout;
  FILE* err = stderr;
  // Where socket_path came from, for messages: "--socket", "config", or "default".
  std::string socket_source = "default";
};

// Exit codes shared by the sub-commands (doctor has its own 0/1/2 meaning).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (daemon error, jail unknown, ...)
inline constexpr int kExitUsage = 64;   // EX_USAGE: bad command line

// Each takes the arguments after its own name and returns the process exit code.
int statusCommand(const Context& ctx, const std::vector<std::string>& args);
int topCommand(const Context& ctx, const std::vector<std::string>& args);
int doctorCommand(const Context& ctx, const std::vector<std::string>& args);
int captureCommand(const Context& ctx, const std::vector<std::string>& args);

// How long vnetctl waits for a status-like reply (the daemon answers status from its
// loop without waiting for hooks; seconds mean it is wedged).
inline constexpr std::chrono::milliseconds kStatusTimeout{10000};

// The one line vnetctl prints when the daemon could not answer `call` — without the
// "vnetctl: " prefix and newline. Names what failed and what to do, e.g.
//   vnetd is not running (connect /run/vnetd.sock: No such file or directory); start it
//   with 'service vnetd start'
// A permission problem (daemonAccessDenied) says so instead of "not running".
std::string daemonFailureLine(const control::CallResult& call);

// The socket refused this user (EACCES/EPERM on connect): vnetd may well be running.
// control::call files it under Unreachable; every sub-command words it differently.
bool daemonAccessDenied(const control::CallResult& call);

// Prints "vnetctl: <daemonFailureLine>" to ctx.err, and when the default socket was
// tried only because the configuration is unusable, a "note:" line with its first error.
void reportDaemonFailure(const Context& ctx, const control::CallResult& call);

// Sends one request line to the daemon at ctx.socket_path. On a transport failure reports
// it (reportDaemonFailure) and returns nullopt; otherwise the reply line
// (which may still be ok:false — the caller decodes it).
std::optional<std::string> callDaemon(const Context& ctx, const std::string& request,
                                      std::chrono::milliseconds timeout = kStatusTimeout);

}  // namespace vnetd::cli
