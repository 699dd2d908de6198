// Per-jail resource limits through rctl(4): rules `jail:<name>:<resource>:deny=<amount>`.
// FreeBSD only; the rule text comes from policy_text.h.
//
// Rules name the jail, not its jid, so they can be added before the jail starts (prestart)
// and apply to every later incarnation until removed (poststop). Needs a kernel with
// RACCT/RCTL (GENERIC has both) and kern.racct.enable=1 set in /boot/loader.conf.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace vnetd::platform::fbsd {

struct RctlLimit {
  std::string resource;  // rctl(8) resource name, e.g. "memoryuse"
  std::string amount;    // number with optional K/M/G/T suffix, e.g. "2G"
};

// Adds one deny rule per limit. The kernel replaces an existing rule with the same
// subject, resource and action, so applying the same limits again is harmless. All rule
// texts are validated before the first one is added.
Result<void> applyJailLimits(const std::string& jail, const std::vector<RctlLimit>& limits);

// Removes the deny rules of these resources for `jail` ("jail:<name>:<resource>:deny"),
// i.e. exactly what applyJailLimits adds — never the administrator's other rules for the
// jail. None present, or resource accounting off (ENOSYS: nothing can have been added),
// is success.
Result<void> removeJailLimits(const std::string& jail, const std::vector<std::string>& resources);

}  // namespace vnetd::platform::fbsd
