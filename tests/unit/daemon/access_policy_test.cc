#include "daemon/access_policy.h"

#include <gtest/gtest.h>

#include <set>

namespace vnetd::daemon {
namespace {

using control::Op;

constexpr Op kEveryOp[] = {Op::Ping, Op::Hook, Op::Status, Op::Reload, Op::Capture};

PeerCredentials as(uid_t uid) { return PeerCredentials{uid, 1000, 4242, {}}; }

TEST(AccessPolicy, TheTableHasOneRulePerOp) {
  std::set<Op> seen;
  for (const auto& rule : kOpAccess) EXPECT_TRUE(seen.insert(rule.op).second) << control::opName(rule.op);
  for (Op op : kEveryOp) EXPECT_TRUE(seen.count(op)) << control::opName(op) << " has no rule";
}

TEST(AccessPolicy, OperatorsMayWatchOnlyRootMayChangeOrCapture) {
  EXPECT_EQ(requiredCaller(Op::Ping), Caller::ControlGroup);
  EXPECT_EQ(requiredCaller(Op::Status), Caller::ControlGroup);
  EXPECT_EQ(requiredCaller(Op::Hook), Caller::Root);
  EXPECT_EQ(requiredCaller(Op::Reload), Caller::Root);
  EXPECT_EQ(requiredCaller(Op::Capture), Caller::Root);
}

TEST(AccessPolicy, RootMayCallEverything) {
  for (Op op : kEveryOp) EXPECT_EQ(refusal(op, as(0)), std::nullopt) << control::opName(op);
}

TEST(AccessPolicy, AMemberOfTheControlGroupIsRefusedRootOpsWithOneLine) {
  EXPECT_EQ(refusal(Op::Status, as(1001)), std::nullopt);
  EXPECT_EQ(refusal(Op::Ping, as(1001)), std::nullopt);
  EXPECT_EQ(refusal(Op::Hook, as(1001)), "permission denied: op hook needs root (uid 1001)");
  EXPECT_EQ(refusal(Op::Reload, as(1001)), "permission denied: op reload needs root (uid 1001)");
  EXPECT_EQ(refusal(Op::Capture, as(65534)), "permission denied: op capture needs root (uid 65534)");
}

TEST(AccessPolicy, AnOpWithoutARuleIsRootOnly) {
  auto unknown = static_cast<Op>(99);
  EXPECT_EQ(requiredCaller(unknown), Caller::Root);
  EXPECT_TRUE(refusal(unknown, as(1001)));
  EXPECT_EQ(refusal(unknown, as(0)), std::nullopt);
}

}  // namespace
}  // namespace vnetd::daemon
