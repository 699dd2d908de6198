// What vnetd-hook does with the outcome of its call to the daemon. Pure: decided from the
// phase and the call's result alone, so every case is unit-testable without a daemon.
//
// The rule: the hook does the work itself ("standalone") only when the daemon cannot have
// the request — not one byte of it was sent (control::CallFailure::Unreachable). Once
// (part of) it went out, the daemon may run it later or be running it now (a hook job is
// skipped only if it has not started when its client goes away): doing it here as well
// is how a stale poststop came to destroy a restarted jail's new pair.
//
// - No answer in time (Timeout): the daemon lives but is stuck or stopped, and its queue
//   still holds the request. The hook stops with one line saying what happened and where
//   to look.
// - The connection ended without an answer (Lost): a running daemon never drops a
//   connection whose request is pending, so it is stopping or died — and its queue with
//   it: queued hooks are dropped at shutdown and skipped once their connection is gone
//   (only a hook already running finishes, under the state lock, which a standalone hook
//   waits for). The hook asks again (Retry): a daemon that answers (restarted, or the
//   same one) does it — in a live daemon strictly after the earlier request, which it
//   then skips or has finished —, and if nothing listens any more, nothing can run it
//   later and the hook does it itself. A connection a dying daemon had not accepted yet
//   is reset too, so a few more Losts are asked again (bounded by the caller); a Timeout,
//   or a Lost when no retry is left, gives up. This keeps a jail starting when the daemon
//   is killed in the middle of a burst of starts.
#pragma once

#include <chrono>
#include <string>

#include "core/control_client.h"
#include "core/hook_phase.h"

namespace vnetd {

struct HookCallVerdict {
  enum class Action {
    UseReply,    // the daemon answered: its reply decides (result.reply)
    Standalone,  // nothing was sent: print `message` (a warning) and do the work here
    GiveUp,      // sent, no answer: print `message`, exit with `exit_status`, do nothing
    Retry,       // the connection was lost: ask the daemon again, then judge that answer
  };
  Action action = Action::UseReply;
  std::string message;  // one line, without the "vnetd-hook: " prefix; empty for UseReply
  int exit_status = 0;  // GiveUp only
};

// `timeout` is the wait that applied (for the message). Prestop and poststart give up with
// a warning and status 0 (their failure would cost more than they are for: see
// hook_main.cc), and so does poststop: the jail is already removed when exec.poststop
// runs (usr.sbin/jail/jail.c stopcommands: IP__OP, the removal, comes before
// IP_EXEC_POSTSTOP), and a failed exec.poststop marks the jail failed (command.c
// finish_command → failed()), which makes `jail -rc` not start it again (jail.c main,
// jail_remove_done) — while what poststop would destroy is destroyed anyway: by the daemon
// if it already started the request, else by the next prestart (a record left in phase
// "created" with the jail gone is made anew) or by orphan collection.
// `after_lost`: an earlier attempt was Lost (this result answers a Retry). `may_retry`:
// a Lost may still be asked again (false: the caller's retries or time are used up).
HookCallVerdict judgeDaemonCall(HookPhase phase, const std::string& jail, const control::CallResult& result,
                                std::chrono::milliseconds timeout, bool after_lost = false, bool may_retry = true);

// After a lost connection (the daemon stopped or died) the request is asked again, at most
// this often, this far apart, within the timeout: long enough for a killed daemon's
// listening socket to go (or a restarted one to come), short next to a jail start.
inline constexpr int kMaxLostRetries = 20;
inline constexpr std::chrono::milliseconds kLostRetryPause{50};

struct HookDaemonCall {
  HookCallVerdict verdict;  // never Retry
  std::string reply;        // UseReply: the reply line
  bool after_lost = false;  // an attempt was Lost before this verdict (or `after_lost` was given)
};

// The whole daemon path of a hook, shared by the thin vnetd-hook and the standalone one:
// sends the hook request (control::encodeHookRequestLine) to `socket_path`, asks again
// after a Lost as judgeDaemonCall says (within `timeout` overall), and returns the final
// verdict. `after_lost`: a previous process already lost the daemon in this invocation
// (the thin hook execs the standalone one after a Lost and then nothing listening), so
// a fallback's warning says "went away" as it would have in one process.
HookDaemonCall callDaemonForHook(const std::string& socket_path, HookPhase phase, const std::string& jail,
                                 std::chrono::milliseconds timeout, bool after_lost = false);

}  // namespace vnetd
