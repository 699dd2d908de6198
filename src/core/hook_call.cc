#include "core/hook_call.h"

#include <algorithm>
#include <thread>

#include "core/hook_wire.h"

namespace vnetd {

HookCallVerdict judgeDaemonCall(HookPhase phase, const std::string& jail, const control::CallResult& result,
                                std::chrono::milliseconds timeout, bool after_lost, bool may_retry) {
  HookCallVerdict v;
  const std::string what = std::string(hookPhaseName(phase)) + " " + jail;
  if (result.ok()) return v;
  if (!result.maybeReceived()) {
    v.action = HookCallVerdict::Action::Standalone;
    v.message = std::string(after_lost ? "warning: vnetd went away without answering and is not reachable now ("
                                    : "warning: vnetd is not reachable (") +
                result.error.message() + "); doing " + what + " without it";
    return v;
  }
  if (result.failure == control::CallFailure::Lost && may_retry) {
    v.action = HookCallVerdict::Action::Retry;
    return v;
  }
  v.action = HookCallVerdict::Action::GiveUp;
  std::string happened;
  if (result.failure == control::CallFailure::Timeout) {
    auto ms = timeout.count();
    happened = "vnetd did not answer within " +
               (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
  } else {
    happened = "vnetd stopped answering (" + result.error.message() + ")";
  }
  const std::string where = "see `vnetctl status " + jail + "` and vnetd's log";
  switch (phase) {
    case HookPhase::Prestop:
    case HookPhase::Poststart:
      v.exit_status = 0;
      v.message = "warning: " + what + ": " + happened + "; it has the request, so it is not done here too (" +
                  where + ")";
      break;
    case HookPhase::Poststop:
      v.exit_status = 0;
      v.message = "warning: " + what + ": " + happened +
                  "; it has the request, so the interfaces are not destroyed here too: vnetd destroys them if it "
                  "started, else the next prestart or orphan collection does (" + where + ")";
      break;
    case HookPhase::Prestart:
    case HookPhase::Created:
      v.exit_status = 1;
      v.message = what + ": " + happened + "; it has the request, so it is not done here too and the start fails (" +
                  where + ", then start the jail again)";
      break;
  }
  return v;
}

HookDaemonCall callDaemonForHook(const std::string& socket_path, HookPhase phase, const std::string& jail,
                                 std::chrono::milliseconds timeout, bool after_lost) {
  const std::string request = control::encodeHookRequestLine(phase, jail);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto result = control::call(socket_path, request, timeout);
  auto verdict = judgeDaemonCall(phase, jail, result, timeout, after_lost);
  // Lost: the daemon stopped or died (see the top of hook_call.h); ask again, a few times
  // within the timeout — a connection the dying daemon had not accepted yet is reset too.
  for (int retries = 0; verdict.action == HookCallVerdict::Action::Retry; ++retries) {
    after_lost = true;
    std::this_thread::sleep_for(kLostRetryPause);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    result = control::call(socket_path, request, std::max(left, std::chrono::milliseconds(1)));
    const bool may_retry = retries + 1 < kMaxLostRetries && std::chrono::steady_clock::now() < deadline;
    verdict = judgeDaemonCall(phase, jail, result, timeout, /*after_lost=*/true, may_retry);
  }
  HookDaemonCall out{std::move(verdict), {}, after_lost};
  if (out.verdict.action == HookCallVerdict::Action::UseReply) out.reply = std::move(result.reply);
  return out;
}

}  // namespace vnetd
