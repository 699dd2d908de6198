#include "platform/freebsd/rctl.h"

#include <sys/types.h>
#include <sys/rctl.h>

#include <vector>

#include "platform/freebsd/policy_text.h"

namespace vnetd::platform::fbsd {
namespace {

// One line that says what to do, for the errors rctl reports on hosts that are not set
// up for it. `code` is errno as the call left it (read before building any message).
Error rctlError(int code, const std::string& what) {
  switch (code) {
    case ENOSYS:
      return Error{
          code, what +
                    ": resource limits are off (set kern.racct.enable=1 in /boot/loader.conf and "
                    "reboot; the kernel also needs options RACCT and RCTL, as GENERIC has)"};
    case EPERM:
      return Error{code, what + ": not permitted (needs root on the host, not inside a jail)"};
    case EOPNOTSUPP: return Error{code, what + ": the kernel does not support this rule"};
    case ENAMETOOLONG: return Error{code, what + ": jail name too long for rctl"};
    default: return Error{code, what};
  }
}

// rctl_remove_rule(2) with a filter; nothing matched (ESRCH, sys_rctl_remove_rule via
// rctl_rule_remove) and racct off (ENOSYS) are success: there is nothing to remove.
Result<void> removeMatching(const std::string& filter) {
  // The length includes the NUL: the kernel copyinstr()s at most that many bytes.
  if (::rctl_remove_rule(filter.c_str(), filter.size() + 1, nullptr, 0) == 0) return success();
  const int code = errno;
  if (code == ESRCH || code == ENOSYS) return success();
  return rctlError(code, "remove rctl rules " + filter);
}

struct Planned {
  std::string rule;
  std::string filter;  // matches this rule whatever its amount
  bool replace;        // remove the old rule first (the kernel does that itself for deny)
};

}  // namespace

Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits) {
  std::vector<Planned> plan;
  for (const auto& [resource, limit] : limits) {
    auto rule = rctlRule(jail, resource, limit);
    if (!rule) return rule.error();
    auto filter = rctlRuleFilter(jail, resource, limit.action);
    if (!filter) return filter.error();
    // rctl_rule_add() (kern_rctl.c): a deny rule replaces the rules that differ from it
    // only in amount; any other rule only replaces an identical one.
    plan.push_back({std::move(*rule), std::move(*filter), limit.action != "deny"});
  }
  // All or nothing: take back the rules this call added (those before `failed`).
  auto undo = [&](size_t failed) {
    for (size_t k = 0; k < failed; ++k) (void)removeMatching(plan[k].filter);
  };
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].replace) {
      if (auto removed = removeMatching(plan[i].filter); !removed) {
        undo(i);
        return removed.error();
      }
    }
    if (::rctl_add_rule(plan[i].rule.c_str(), plan[i].rule.size() + 1, nullptr, 0) != 0) {
      const int code = errno;
      Error e = rctlError(code, "add rctl rule " + plan[i].rule);
      undo(i);
      return e;
    }
  }
  return success();
}

Result<void> removeJailLimits(const std::string& jail, const RctlLimits& limits) {
  for (const auto& [resource, limit] : limits) {
    auto filter = rctlRuleFilter(jail, resource, limit.action);
    if (!filter) return filter.error();
    if (auto removed = removeMatching(*filter); !removed) return removed.error();
  }
  return success();
}

}  // namespace vnetd::platform::fbsd
