// The forwards of one jail as the packet filter needs them (core/expose.h ExposeTarget):
// the configured forwards of each interface, with the addresses the jail's record says the
// interface got (an "auto" IPv4 address is only known there) and the bridge's NAT egress.
// Pure; used by the hooks (created) and the reconciler alike, so both load the same rules.
#pragma once

#include <vector>

#include "core/config.h"
#include "core/expose.h"
#include "core/state_store.h"

namespace vnetd {

// Forwards whose interface has no record, or no recorded address of a family the forward
// is for, leave that family out (a forward with neither is left out).
std::vector<ExposeTarget> exposeTargets(const Config& config, const JailConfig& jail, const JailRecord& record);

}  // namespace vnetd
