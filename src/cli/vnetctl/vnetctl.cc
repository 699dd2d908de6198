// Helpers shared by the vnetctl sub-commands (see vnetctl.h).
#include "cli/vnetctl/vnetctl.h"

#include <cerrno>

namespace vnetd::cli {

std::string daemonFailureLine(const control::CallResult& call) {
  const std::string why = call.error.message();
  switch (call.failure) {
    case control::CallFailure::None: return "";
    case control::CallFailure::Unreachable:
      // control::call files EACCES under Unreachable (nothing we may talk to), but telling
      // an operator without access that the daemon "is not running" would send them to
      // restart a healthy daemon.
      if (daemonAccessDenied(call))
        return "cannot reach vnetd (" + why +
               "); run vnetctl as root or as a member of the [daemon] control_group";
      return "vnetd is not running (" + why + "); start it with 'service vnetd start'";
    case control::CallFailure::Timeout:
      return "vnetd did not answer (" + why + "); see its log (syslog, or journalctl -u vnetd)";
    case control::CallFailure::Lost:
      return "vnetd closed the connection without a reply (" + why + "); see its log";
  }
  return why;
}

bool daemonAccessDenied(const control::CallResult& call) {
  return call.failure == control::CallFailure::Unreachable && (call.error.code == EACCES || call.error.code == EPERM);
}

void reportDaemonFailure(const Context& ctx, const control::CallResult& call) {
  std::fprintf(ctx.err, "vnetctl: %s\n", daemonFailureLine(call).c_str());
  // With an unreadable configuration the default socket was tried: the daemon may well
  // be listening where that file says.
  if (ctx.socket_source == "default" && !ctx.config_error.empty())
    std::fprintf(ctx.err, "vnetctl: note: tried the default socket because the configuration is unusable (%s)\n",
                 ctx.config_error.c_str());
}

std::optional<std::string> callDaemon(const Context& ctx, const std::string& request,
                                      std::chrono::milliseconds timeout) {
  auto r = control::call(ctx.socket_path, request, timeout);
  if (!r.ok()) {
    reportDaemonFailure(ctx, r);
    return std::nullopt;
  }
  return std::move(r.reply);
}

}  // namespace vnetd::cli
