#include "core/hook_call.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace vnetd {
namespace {

using Action = HookCallVerdict::Action;
using namespace std::chrono_literals;

control::CallResult failure(control::CallFailure kind, Error error) {
  control::CallResult r;
  r.failure = kind;
  r.error = std::move(error);
  return r;
}

const HookPhase kAll[] = {HookPhase::Prestart, HookPhase::Created, HookPhase::Poststart, HookPhase::Prestop,
                          HookPhase::Poststop};

TEST(HookCall, AnAnswerIsUsed) {
  control::CallResult ok;
  ok.reply = R"({"v":1,"ok":true})";
  for (HookPhase p : kAll) EXPECT_EQ(judgeDaemonCall(p, "web", ok, 60s).action, Action::UseReply);
}

TEST(HookCall, OnlyNothingSentFallsBackToStandalone) {
  auto unreachable = failure(control::CallFailure::Unreachable,
                             Error{ENOENT, "connect /run/vnetd.sock"});
  for (HookPhase p : kAll) {
    auto v = judgeDaemonCall(p, "web", unreachable, 60s);
    EXPECT_EQ(v.action, Action::Standalone) << hookPhaseName(p);
    EXPECT_EQ(v.message, std::string("warning: vnetd is not reachable (connect /run/vnetd.sock: No such file or "
                                     "directory); doing ") + hookPhaseName(p) + " web without it");
  }
}

// The issue's sequence: poststop web times out while vnetd still has it queued. Redoing it
// here would be the first of two poststops; the hook must give up instead, for every phase.
TEST(HookCall, SentButNoAnswerNeverRedoesTheWork) {
  auto timeout = failure(control::CallFailure::Timeout, plainError("no reply from vnetd within 60000 ms"));
  auto lost = failure(control::CallFailure::Lost, plainError("vnetd closed the connection before replying"));
  for (const auto& [r, retried] : {std::pair{timeout, false}, std::pair{timeout, true}, std::pair{lost, true}}) {
    for (HookPhase p : kAll) {
      auto v = judgeDaemonCall(p, "web", r, 60s, retried, /*may_retry=*/!retried);
      EXPECT_EQ(v.action, Action::GiveUp) << hookPhaseName(p);
      EXPECT_EQ(v.message.find('\n'), std::string::npos) << "one line";
      EXPECT_NE(v.message.find("vnetctl status web"), std::string::npos) << v.message;
      EXPECT_NE(v.message.find("vnetd's log"), std::string::npos) << v.message;
      EXPECT_NE(v.message.find("it has the request, so"), std::string::npos) << v.message;
      EXPECT_NE(v.message.find("here too"), std::string::npos) << v.message;
    }
  }
}

// A lost connection means the daemon stopped or died (it never drops a connection whose
// request is pending): ask once more. Whoever answers does it; nobody listening means
// nothing of the old daemon can run it later, so the hook does it itself.
TEST(HookCall, ALostConnectionIsAskedAgainAndOnlyThenDoneHereIfNobodyListens) {
  auto lost = failure(control::CallFailure::Lost, plainError("vnetd closed the connection before replying"));
  auto gone = failure(control::CallFailure::Unreachable, Error{ECONNREFUSED, "connect /run/vnetd.sock"});
  control::CallResult answered;
  answered.reply = R"({"v":1,"ok":true})";
  for (HookPhase p : kAll) {
    EXPECT_EQ(judgeDaemonCall(p, "web", lost, 60s).action, Action::Retry) << hookPhaseName(p);
    EXPECT_EQ(judgeDaemonCall(p, "web", answered, 60s, true).action, Action::UseReply);
    auto v = judgeDaemonCall(p, "web", gone, 60s, true);
    EXPECT_EQ(v.action, Action::Standalone);
    EXPECT_EQ(v.message, std::string("warning: vnetd went away without answering and is not reachable now (connect "
                                     "/run/vnetd.sock: ") +
                             std::strerror(ECONNREFUSED) + "); doing " + hookPhaseName(p) + " web without it");
    EXPECT_EQ(judgeDaemonCall(p, "web", lost, 60s, true).action, Action::Retry) << "retries left";
    EXPECT_EQ(judgeDaemonCall(p, "web", lost, 60s, true, /*may_retry=*/false).action, Action::GiveUp);
  }
  // A timeout is never retried: that daemon lives and still has the request.
  auto timeout = failure(control::CallFailure::Timeout, plainError("no reply"));
  EXPECT_EQ(judgeDaemonCall(HookPhase::Poststop, "web", timeout, 60s).action, Action::GiveUp);
}

TEST(HookCall, GivingUpFailsTheStartButNotTheWarnOnlyPhasesOrPoststop) {
  auto timeout = failure(control::CallFailure::Timeout, plainError("no reply"));
  EXPECT_EQ(judgeDaemonCall(HookPhase::Prestart, "web", timeout, 60s).exit_status, 1);
  EXPECT_EQ(judgeDaemonCall(HookPhase::Created, "web", timeout, 60s).exit_status, 1);
  for (HookPhase p : {HookPhase::Poststart, HookPhase::Prestop, HookPhase::Poststop}) {
    auto v = judgeDaemonCall(p, "web", timeout, 60s);
    EXPECT_EQ(v.exit_status, 0) << hookPhaseName(p);
    EXPECT_EQ(v.message.rfind("warning: ", 0), 0u) << v.message;
  }
  EXPECT_EQ(judgeDaemonCall(HookPhase::Prestart, "web", timeout, 60s).message,
            "prestart web: vnetd did not answer within 60 s; it has the request, so it is not done here too and the "
            "start fails (see `vnetctl status web` and vnetd's log, then start the jail again)");
  EXPECT_NE(judgeDaemonCall(HookPhase::Poststop, "web", timeout, 1500ms).message.find("within 1500 ms"),
            std::string::npos);
}

}  // namespace
}  // namespace vnetd
