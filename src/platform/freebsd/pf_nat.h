// NAT for a bridge's jails through a pf(4) anchor. FreeBSD only; rule text from
// policy_text.h.
//
// Each bridge gets its own anchor, "vnetd/<bridge>", loaded with pfctl(8): the anchor is
// replaced as a whole, so loading is idempotent and never touches the administrator's
// main ruleset. pf only evaluates the anchor when pf.conf says `nat-anchor "vnetd/*"`;
// natAnchorConfigured() lets doctor and the daemon say so instead of NAT silently not
// happening. pfctl runs through platform/child_process.h (argv vector, never a shell;
// PATH only; descriptors 0-2 only; killed after 20 s), rules on its stdin.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/policy.h"

namespace vnetd::platform::fbsd {

inline constexpr const char* kPfctl = "/sbin/pfctl";
inline constexpr const char* kPfConf = "/etc/pf.conf";

// Loads `nat on <egress> from <subnet> to any -> (<egress>)` for each subnet into
// vnetd/<bridge>, replacing what the anchor held.
Result<void> loadNatAnchor(const std::string& bridge, const std::string& egress,
                           const std::vector<Cidr>& subnets);

// Empties vnetd/<bridge> (loads an empty ruleset into it).
Result<void> clearNatAnchor(const std::string& bridge);

// The output of `pfctl [-a ANCHOR] -s WHAT` (WHAT: "info", "nat", ...), read-only: what pf
// has loaded now, for doctor. ANCHOR "" = the main ruleset.
Result<std::string> pfctlShow(const std::string& anchor, const std::string& what);

// What vnetd/<bridge> translates now (pfctl -a vnetd/<bridge> -s nat, read by
// pfNatLoaded); nullopt when it holds no rule or does not exist.
Result<std::optional<BridgeNat>> natAnchorRules(const std::string& bridge);

// Whether the loaded main ruleset calls vnetd's anchors (`pfctl -s nat` holds
// `nat-anchor "vnetd/*"`, read by pfConfHasVnetdNatAnchor, as doctor does): without it pf
// evaluates none of the rules natAnchorRules reads back.
Result<bool> natAnchorHooked();

// Whether `pf_conf` (a path) contains an active `nat-anchor "vnetd/*"`. A missing file is
// false, not an error.
Result<bool> natAnchorConfigured(const std::string& pf_conf = kPfConf);

}  // namespace vnetd::platform::fbsd
