#include "core/rctl_resources.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

namespace vnetd {
namespace {

// The kernel's side, written down independently of the table under test.
//
// racct_types[] flags per resource, in resourcenames[] order (FreeBSD sys/kern/kern_racct.c
// racct_types[], sys/kern/kern_rctl.c resourcenames[], flag values from sys/sys/racct.h).
constexpr unsigned kInMillions = 0x01, kReclaimable = 0x02, kInheritable = 0x04,
                   kDeniable = 0x08, kSloppy = 0x10, kDecaying = 0x20;
struct KernelResource {
  const char* name;
  unsigned flags;
};
constexpr KernelResource kKernel[] = {
    {"cputime", kInMillions},
    {"datasize", kReclaimable | kInheritable | kDeniable},
    {"stacksize", kReclaimable | kInheritable | kDeniable},
    {"coredumpsize", kDeniable},
    {"memoryuse", kReclaimable},  // RACCT_RSS: not deniable, yet deny is allowed (below)
    {"memorylocked", kReclaimable | kDeniable},
    {"maxproc", kReclaimable | kDeniable},
    {"openfiles", kReclaimable | kInheritable | kDeniable},
    {"vmemoryuse", kReclaimable | kInheritable | kDeniable},
    {"pseudoterminals", kReclaimable | kDeniable | kSloppy},
    {"swapuse", kReclaimable | kDeniable | kSloppy},
    {"nthr", kReclaimable | kDeniable},
    {"msgqqueued", kReclaimable | kDeniable | kSloppy},
    {"msgqsize", kReclaimable | kDeniable | kSloppy},
    {"nmsgq", kReclaimable | kDeniable | kSloppy},
    {"nsem", kReclaimable | kDeniable | kSloppy},
    {"nsemop", kReclaimable | kInheritable | kDeniable},
    {"nshm", kReclaimable | kDeniable | kSloppy},
    {"shmsize", kReclaimable | kDeniable | kSloppy},
    {"wallclock", kInMillions},
    {"pcpu", kDecaying | kDeniable | kInMillions},
    {"readbps", kDecaying},
    {"writebps", kDecaying},
    {"readiops", kDecaying},
    {"writeiops", kDecaying},
};

// kern_rctl.c rctl_rule_add(), for a jail rule (per = subject, so RACCT_SLOPPY's
// "/process" refusal never applies): EOPNOTSUPP for deny on a resource that is not
// deniable unless it is memoryuse (RSS) or pcpu; for throttle on one that does not decay,
// or on pcpu. No other action is checked.
bool kernelAccepts(const KernelResource& r, std::string_view action) {
  const std::string_view name = r.name;
  if (action == "deny") return (r.flags & kDeniable) || name == "memoryuse" || name == "pcpu";
  if (action == "throttle") return (r.flags & kDecaying) && name != "pcpu";
  return true;
}

// kern_rctl.c actionnames[].
const std::set<std::string> kKernelActions = {
    "sighup",  "sigint",  "sigquit",  "sigill",  "sigtrap",   "sigabrt",  "sigemt",
    "sigfpe",  "sigkill", "sigbus",   "sigsegv", "sigsys",    "sigpipe",  "sigalrm",
    "sigterm", "sigurg",  "sigstop",  "sigtstp", "sigchld",   "sigttin",  "sigttou",
    "sigio",   "sigxcpu", "sigxfsz",  "sigvtalrm", "sigprof", "sigwinch", "siginfo",
    "sigusr1", "sigusr2", "sigthr",   "deny",    "log",       "devctl",   "throttle"};

TEST(RctlResources, SameResourcesAndActionsAsTheKernel) {
  auto table = rctlResources();
  ASSERT_EQ(table.size(), std::size(kKernel));
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i].name, kKernel[i].name);
    EXPECT_EQ(findRctlResource(kKernel[i].name), &table[i]);
  }
  std::set<std::string> actions;
  for (std::string_view a : rctlActionNames()) actions.insert(std::string(a));
  EXPECT_EQ(actions, kKernelActions);
  EXPECT_EQ(rctlActionNames().size(), kKernelActions.size());  // no duplicates
}

TEST(RctlResources, AllowsExactlyWhatRctlRuleAddAccepts) {
  for (const KernelResource& k : kKernel) {
    const RctlResource* r = findRctlResource(k.name);
    ASSERT_NE(r, nullptr) << k.name;
    for (const std::string& action : kKernelActions)
      EXPECT_EQ(rctlAllows(*r, action), kernelAccepts(k, action)) << k.name << " " << action;
  }
}

// The default (a plain amount in the config) is deny where the kernel denies, otherwise
// throttle where it throttles, otherwise none: cputime and wallclock.
TEST(RctlResources, DefaultActionIsAcceptedOrAbsent) {
  for (const KernelResource& k : kKernel) {
    const RctlResource& r = *findRctlResource(k.name);
    std::string expected = kernelAccepts(k, "deny")       ? "deny"
                           : kernelAccepts(k, "throttle") ? "throttle"
                                                          : "";
    EXPECT_EQ(r.default_action, expected) << k.name;
  }
  EXPECT_EQ(findRctlResource("readbps")->default_action, "throttle");
  EXPECT_EQ(findRctlResource("cputime")->default_action, "");
  EXPECT_EQ(findRctlResource("wallclock")->default_action, "");
}

// kern_rctl.c rctl_string_to_rule(): str2int64 refuses more than INT64_MAX, and
// RACCT_IN_MILLIONS amounts above INT64_MAX / 10^6 (ERANGE).
TEST(RctlResources, MaxAmountIsTheKernelsRange) {
  constexpr uint64_t kInt64Max = 9223372036854775807ull;
  for (const KernelResource& k : kKernel) {
    const RctlResource& r = *findRctlResource(k.name);
    EXPECT_EQ(r.max_amount, (k.flags & kInMillions) ? kInt64Max / 1000000 : kInt64Max) << k.name;
    EXPECT_FALSE(r.unit.empty()) << k.name;
  }
}

TEST(RctlResources, UnknownNames) {
  EXPECT_EQ(findRctlResource("memory"), nullptr);
  EXPECT_EQ(findRctlResource("MEMORYUSE"), nullptr);
  EXPECT_EQ(findRctlResource(""), nullptr);
  EXPECT_EQ(rctlActionFamily("DENY"), 0u);
  EXPECT_EQ(rctlActionFamily("sig"), 0u);
  EXPECT_EQ(rctlActionFamily(""), 0u);
  EXPECT_EQ(rctlActionFamily("sigkill"), unsigned{kRctlSignal});
  EXPECT_EQ(rctlActionFamily("throttle"), unsigned{kRctlThrottle});
}

TEST(ParseRctlAmount, PlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(parseRctlAmount("0"), 0u);
  EXPECT_EQ(parseRctlAmount("100"), 100u);
  EXPECT_EQ(parseRctlAmount("1k"), 1024u);
  EXPECT_EQ(parseRctlAmount("512M"), 512ull << 20);
  EXPECT_EQ(parseRctlAmount("2G"), 2147483648ull);
  EXPECT_EQ(parseRctlAmount("2g"), 2147483648ull);
  EXPECT_EQ(parseRctlAmount("3T"), 3ull << 40);
  EXPECT_EQ(parseRctlAmount("16777215T"), 16777215ull << 40);
  EXPECT_EQ(parseRctlAmount("18446744073709551615"), UINT64_MAX);
}

TEST(ParseRctlAmount, RejectsEverythingElse) {
  for (const char* bad : {"", "G", "-1", "+1", " 1", "1 ", "1.5G", "1GB", "1X", "0x10", "1P",
                          "1E", "18446744073709551616", "16777216T", "1kk", "k1"})
    EXPECT_FALSE(parseRctlAmount(bad)) << bad;
}

// What the loader and the FreeBSD rule writer both suggest instead of a refused action:
// one the kernel takes, "" only where neither deny nor throttle applies.
TEST(RctlSuggestedAction, IsAnActionTheKernelTakes) {
  for (const KernelResource& k : kKernel) {
    const RctlResource& r = *findRctlResource(k.name);
    std::string_view suggested = rctlSuggestedAction(r);
    if (kernelAccepts(k, "throttle")) {
      EXPECT_EQ(suggested, "throttle") << k.name;
    } else if (kernelAccepts(k, "deny")) {
      EXPECT_EQ(suggested, "deny") << k.name;
    } else {
      EXPECT_EQ(suggested, "") << k.name;
    }
  }
}

// The text of a limit: the one place that decides (the config loader only words it).
TEST(ParseRctlLimit, PlainAmountGetsTheDefaultAction) {
  RctlLimitParse mem = parseRctlLimit(*findRctlResource("memoryuse"), "2G");
  EXPECT_EQ(mem.problem, RctlLimitProblem::None);
  EXPECT_EQ(mem.limit, (RctlLimit{"deny", 2ull << 30}));
  RctlLimitParse rate = parseRctlLimit(*findRctlResource("readbps"), "100M");
  EXPECT_EQ(rate.limit, (RctlLimit{"throttle", 100ull << 20}));
  RctlLimitParse kill = parseRctlLimit(*findRctlResource("cputime"), "sigkill=3600");
  EXPECT_EQ(kill.limit, (RctlLimit{"sigkill", 3600}));
  EXPECT_EQ(kill.action, "sigkill");
  EXPECT_EQ(kill.amount, "3600");
}

TEST(ParseRctlLimit, RefusesWhatTheKernelWouldNot) {
  struct Case {
    const char* resource;
    const char* text;
    RctlLimitProblem problem;
    const char* action;  // as reported back
  };
  for (const Case& c : {
           Case{"readbps", "limit=1M", RctlLimitProblem::UnknownAction, "limit"},
           Case{"maxproc", "=100", RctlLimitProblem::UnknownAction, ""},
           Case{"readbps", "deny=1M", RctlLimitProblem::ActionNotAllowed, "deny"},
           Case{"pcpu", "throttle=50", RctlLimitProblem::ActionNotAllowed, "throttle"},
           Case{"cputime", "deny=60", RctlLimitProblem::ActionNotAllowed, "deny"},
           Case{"memoryuse", "2GB", RctlLimitProblem::BadAmount, "deny"},
           Case{"cputime", "sigkill=1h", RctlLimitProblem::BadAmount, "sigkill"},
           Case{"memoryuse", "8388608T", RctlLimitProblem::AboveMaximum, "deny"},
           Case{"cputime", "log=9223372036855", RctlLimitProblem::AboveMaximum, "log"},
           Case{"cputime", "3600", RctlLimitProblem::NeedsAction, ""},
           Case{"wallclock", "1k", RctlLimitProblem::NeedsAction, ""},
       }) {
    RctlLimitParse p = parseRctlLimit(*findRctlResource(c.resource), c.text);
    EXPECT_EQ(p.problem, c.problem) << c.resource << " " << c.text;
    EXPECT_EQ(p.action, c.action) << c.resource << " " << c.text;
  }
  // The largest amount passes, one more does not.
  const RctlResource& cputime = *findRctlResource("cputime");
  EXPECT_EQ(parseRctlLimit(cputime, "log=" + std::to_string(cputime.max_amount)).problem,
            RctlLimitProblem::None);
}

}  // namespace
}  // namespace vnetd
