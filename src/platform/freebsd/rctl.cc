#include "platform/freebsd/rctl.h"

#include <sys/types.h>
#include <sys/rctl.h>

#include "platform/freebsd/policy_text.h"

namespace vnetd::platform::fbsd {
namespace {

// One line that says what to do, for the errors rctl reports on hosts that are not set
// up for it.
Error rctlError(const std::string& what) {
  int code = errno;
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

}  // namespace

Result<void> applyJailLimits(const std::string& jail, const std::vector<RctlLimit>& limits) {
  std::vector<std::string> rules;
  for (const RctlLimit& l : limits) {
    auto rule = rctlDenyRule(jail, l.resource, l.amount);
    if (!rule) return rule.error();
    rules.push_back(std::move(*rule));
  }
  for (const std::string& rule : rules) {
    // The length includes the NUL: the kernel copyinstr()s at most that many bytes.
    if (::rctl_add_rule(rule.c_str(), rule.size() + 1, nullptr, 0) != 0)
      return rctlError("add rctl rule " + rule);
  }
  return success();
}

Result<void> removeJailLimits(const std::string& jail) {
  auto filter = rctlJailFilter(jail);
  if (!filter) return filter.error();
  if (::rctl_remove_rule(filter->c_str(), filter->size() + 1, nullptr, 0) != 0) {
    if (errno == ESRCH) return success();  // no rules matched
    return rctlError("remove rctl rules " + *filter);
  }
  return success();
}

}  // namespace vnetd::platform::fbsd
