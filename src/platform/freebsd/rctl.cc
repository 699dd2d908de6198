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
  for (size_t i = 0; i < rules.size(); ++i) {
    // The length includes the NUL: the kernel copyinstr()s at most that many bytes.
    if (::rctl_add_rule(rules[i].c_str(), rules[i].size() + 1, nullptr, 0) != 0) {
      Error e = rctlError("add rctl rule " + rules[i]);
      // All or nothing: take back the rules this call already added.
      std::vector<std::string> added;
      for (size_t k = 0; k < i; ++k) added.push_back(limits[k].resource);
      (void)removeJailLimits(jail, added);
      return e;
    }
  }
  return success();
}

Result<void> removeJailLimits(const std::string& jail, const std::vector<std::string>& resources) {
  auto subject = rctlJailFilter(jail);
  if (!subject) return subject.error();
  for (const std::string& resource : resources) {
    const std::string filter = *subject + ":" + resource + ":deny";
    if (::rctl_remove_rule(filter.c_str(), filter.size() + 1, nullptr, 0) != 0) {
      if (errno == ESRCH || errno == ENOSYS) continue;  // nothing matched / racct off
      return rctlError("remove rctl rules " + filter);
    }
  }
  return success();
}

}  // namespace vnetd::platform::fbsd
