// Per-jail resource limits through rctl(4): one rule `jail:<name>:<resource>:<action>=<amount>`
// per configured limit (deny for what the kernel can deny, throttle for the I/O rates, or
// the action the config names; see core/rctl_resources.h). FreeBSD only; the rule text
// comes from policy_text.h.
//
// Rules name the jail, not its jid, so they can be added before the jail starts (prestart)
// and apply to every later incarnation until removed (poststop). Needs a kernel with
// RACCT/RCTL (GENERIC has both) and kern.racct.enable=1 set in /boot/loader.conf.
#pragma once

#include <string>

#include "core/rctl_resources.h"
#include "core/result.h"

namespace vnetd::platform::fbsd {

// Adds one rule per limit, all or nothing: every rule text is validated before the first
// is added, and a failure takes back the rules this call added. Applying the same limits
// again leaves one rule per limit: rctl_rule_add() itself replaces a deny rule that
// differs only in amount, but keeps other actions' rules with another amount side by
// side, so for those the old rule (same resource and action) is removed first.
Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits);

// Removes, per limit, the rules "jail:<name>:<resource>:<action>" — exactly what
// applyJailLimits adds, never the jail's rules for another resource or action. None
// present (ESRCH), or resource accounting off (ENOSYS: nothing can have been added), is
// success.
Result<void> removeJailLimits(const std::string& jail, const RctlLimits& limits);

}  // namespace vnetd::platform::fbsd
