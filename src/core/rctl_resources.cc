#include "core/rctl_resources.h"

#include "core/binary_amount.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace vnetd {
namespace {

constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
// RACCT_IN_MILLIONS resources: the kernel stores amount * 10^6 in an int64_t.
constexpr uint64_t kMaxInMillions = kMax / 1000000;

// What every resource accepts besides deny/throttle (rctl_rule_add checks neither).
constexpr unsigned kNotify = kRctlLog | kRctlDevctl | kRctlSignal;
constexpr unsigned kDeniable = kRctlDeny | kNotify;
constexpr unsigned kRate = kRctlThrottle | kNotify;

// Units: rctl(8) RESOURCES. Actions: the racct_types[] flags (kern_racct.c) through
// rctl_rule_add() (kern_rctl.c), as the header explains. Both are re-derived from the
// flags in tests/unit/core/rctl_resources_test.cc.
constexpr std::array<RctlResource, 25> kResources = {{
    {"cputime", "seconds of CPU time", kNotify, "", kMaxInMillions},
    {"datasize", "bytes of data segment", kDeniable, "deny", kMax},
    {"stacksize", "bytes of stack", kDeniable, "deny", kMax},
    {"coredumpsize", "bytes of core dump", kDeniable, "deny", kMax},
    {"memoryuse", "bytes of resident memory", kDeniable, "deny", kMax},
    {"memorylocked", "bytes of locked memory", kDeniable, "deny", kMax},
    {"maxproc", "processes", kDeniable, "deny", kMax},
    {"openfiles", "open file descriptors", kDeniable, "deny", kMax},
    {"vmemoryuse", "bytes of address space", kDeniable, "deny", kMax},
    {"pseudoterminals", "pseudo-terminals", kDeniable, "deny", kMax},
    {"swapuse", "bytes of swap", kDeniable, "deny", kMax},
    {"nthr", "threads", kDeniable, "deny", kMax},
    {"msgqqueued", "queued SysV messages", kDeniable, "deny", kMax},
    {"msgqsize", "bytes of SysV message queue", kDeniable, "deny", kMax},
    {"nmsgq", "SysV message queues", kDeniable, "deny", kMax},
    {"nsem", "SysV semaphores", kDeniable, "deny", kMax},
    {"nsemop", "SysV semaphores changed in one semop(2)", kDeniable, "deny", kMax},
    {"nshm", "SysV shared memory segments", kDeniable, "deny", kMax},
    {"shmsize", "bytes of SysV shared memory", kDeniable, "deny", kMax},
    {"wallclock", "seconds of wall-clock time", kNotify, "", kMaxInMillions},
    {"pcpu", "percent of one CPU core", kDeniable, "deny", kMaxInMillions},
    {"readbps", "bytes read per second", kRate, "throttle", kMax},
    {"writebps", "bytes written per second", kRate, "throttle", kMax},
    {"readiops", "read operations per second", kRate, "throttle", kMax},
    {"writeiops", "write operations per second", kRate, "throttle", kMax},
}};

// kern_rctl.c actionnames[].
constexpr std::array<std::string_view, 35> kActions = {
    "deny",     "throttle", "log",     "devctl",  "sighup",    "sigint",  "sigquit",
    "sigill",   "sigtrap",  "sigabrt", "sigemt",  "sigfpe",    "sigkill", "sigbus",
    "sigsegv",  "sigsys",   "sigpipe", "sigalrm", "sigterm",   "sigurg",  "sigstop",
    "sigtstp",  "sigchld",  "sigttin", "sigttou", "sigio",     "sigxcpu", "sigxfsz",
    "sigvtalrm", "sigprof", "sigwinch", "siginfo", "sigusr1",  "sigusr2", "sigthr"};

}  // namespace

std::span<const RctlResource> rctlResources() { return kResources; }

const RctlResource* findRctlResource(std::string_view name) {
  for (const RctlResource& r : kResources)
    if (r.name == name) return &r;
  return nullptr;
}

std::span<const std::string_view> rctlActionNames() { return kActions; }

unsigned rctlActionFamily(std::string_view action) {
  if (action == "deny") return kRctlDeny;
  if (action == "throttle") return kRctlThrottle;
  if (action == "log") return kRctlLog;
  if (action == "devctl") return kRctlDevctl;
  if (std::find(kActions.begin(), kActions.end(), action) != kActions.end()) return kRctlSignal;
  return 0;
}

bool rctlAllows(const RctlResource& resource, std::string_view action) {
  return (resource.actions & rctlActionFamily(action)) != 0;
}

std::string_view rctlSuggestedAction(const RctlResource& resource) {
  if (resource.actions & kRctlThrottle) return "throttle";
  return resource.default_action;
}

std::optional<uint64_t> parseRctlAmount(std::string_view text) { return parseBinaryAmount(text, "KMGT"); }

RctlLimitParse parseRctlLimit(const RctlResource& resource, std::string_view text) {
  RctlLimitParse out;
  out.action = resource.default_action;
  out.amount = text;
  auto refuse = [&](RctlLimitProblem problem) {
    out.problem = problem;
    return out;
  };
  if (size_t eq = text.find('='); eq != std::string_view::npos) {
    out.action = text.substr(0, eq);
    out.amount = text.substr(eq + 1);
    if (rctlActionFamily(out.action) == 0) return refuse(RctlLimitProblem::UnknownAction);
    if (!rctlAllows(resource, out.action)) return refuse(RctlLimitProblem::ActionNotAllowed);
  }
  auto amount = parseRctlAmount(out.amount);
  if (!amount) return refuse(RctlLimitProblem::BadAmount);
  if (*amount > resource.max_amount) return refuse(RctlLimitProblem::AboveMaximum);
  // cputime and wallclock: no default action, so a plain amount says nothing rctl can do.
  if (out.action.empty()) return refuse(RctlLimitProblem::NeedsAction);
  out.limit = RctlLimit{std::string(out.action), *amount};
  return out;
}

}  // namespace vnetd
