// NAT for a bridge's jails through a pf(4) anchor. Rule text from policy_text.h.
//
// Each bridge gets its own anchor, "vnetd/<bridge>", loaded with pfctl(8): the anchor is
// replaced as a whole, so loading is idempotent and never touches the administrator's
// main ruleset. pf only evaluates the anchor when pf.conf says `nat-anchor "vnetd/*"`;
// natAnchorConfigured() lets doctor and the daemon say so instead of NAT silently not
// happening.
//
// pfctl is reached through a PfctlRunner: production's (systemPfctl(), FreeBSD backend
// only: pfctl_runner.cc) runs /sbin/pfctl through platform/child_process.h (argv vector,
// never a shell; PATH only; descriptors 0-2 only; killed after 20 s), rules on its stdin.
// Everything else here includes no FreeBSD header and is built on every OS
// (vnetd_freebsd_pure), so the NAT half of FreeBSD's Policy runs on Linux against a model
// of pfctl (tests/support/fake_pf.h) in the same Policy-level tests as the Linux backend
// (tests/unit/platform/policy_parity_test.cc).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/child_process.h"
#include "platform/policy.h"

namespace vnetd::platform::fbsd {

inline constexpr const char* kPfctl = "/sbin/pfctl";
inline constexpr const char* kPfConf = "/etc/pf.conf";

// How vnetd runs pfctl(8). Any thread (each call is independent).
class PfctlRunner {
 public:
  virtual ~PfctlRunner() = default;
  // Runs pfctl with `argv` (argv[0] = "pfctl"), `input` on its stdin until EOF. The result
  // holds how it ended and its stdout and stderr interleaved, at most `max_output` bytes.
  // An error only when it could not be run to completion at all (not started, timed out);
  // a pfctl that ran and failed is a ChildExit with a non-zero status.
  virtual Result<ChildExit> run(const std::vector<std::string>& argv, const std::string& input,
                                size_t max_output) const = 0;
};

// The real pfctl: kPfctl through platform::runChild. Defined in the FreeBSD backend only, so
// a Linux build that reaches it without a runner of its own fails to link.
const PfctlRunner& systemPfctl();

// Loads `nat on <egress> from <subnet> to any -> (<egress>)` for each subnet into
// vnetd/<bridge>, replacing what the anchor held.
Result<void> loadNatAnchor(const std::string& bridge, const std::string& egress,
                           const std::vector<Cidr>& subnets, const PfctlRunner& pfctl = systemPfctl());

// Empties vnetd/<bridge> (loads an empty ruleset into it).
Result<void> clearNatAnchor(const std::string& bridge, const PfctlRunner& pfctl = systemPfctl());

// The output of `pfctl [-a ANCHOR] -s WHAT` (WHAT: "info", "nat", ...), read-only: what pf
// has loaded now, for doctor. ANCHOR "" = the main ruleset.
Result<std::string> pfctlShow(const std::string& anchor, const std::string& what,
                              const PfctlRunner& pfctl = systemPfctl());

// What vnetd/<bridge> translates now (pfctl -a vnetd/<bridge> -s nat, read by
// pfNatLoaded); nullopt when it holds no rule or does not exist.
Result<std::optional<BridgeNat>> natAnchorRules(const std::string& bridge, const PfctlRunner& pfctl = systemPfctl());

// Whether the loaded main ruleset calls vnetd's anchors (`pfctl -s nat` holds
// `nat-anchor "vnetd/*"`, read by pfConfHasVnetdNatAnchor, as doctor does): without it pf
// evaluates none of the rules natAnchorRules reads back.
Result<bool> natAnchorHooked(const PfctlRunner& pfctl = systemPfctl());

// Whether `pf_conf` (a path) contains an active `nat-anchor "vnetd/*"`. A missing file is
// false, not an error.
Result<bool> natAnchorConfigured(const std::string& pf_conf = kPfConf);

// --- issue 19, port forwarding ---
// Loads the jail's rdr rules (policy_text.h pfRdrRules) into vnetd/expose.<jail>,
// replacing what the anchor held; no forwards: empties it.
Result<void> loadExposeAnchor(const std::string& jail, const std::vector<ExposeTarget>& forwards,
                              const PfctlRunner& pfctl = systemPfctl());
// Whether the loaded main ruleset holds `rdr-anchor "vnetd/*"` (pfctl -s nat, as
// natAnchorHooked reads the nat-anchor).
Result<bool> rdrAnchorHooked(const PfctlRunner& pfctl = systemPfctl());
// --- end port forwarding ---

// The NAT half of FreeBSD's Policy: the calls above over one runner. The resource limits
// (rctl) stay abstract: platform/freebsd/policy.cc completes the class with them.
class PfNatPolicy : public Policy {
 public:
  explicit PfNatPolicy(const PfctlRunner& pfctl = systemPfctl()) : pfctl_(pfctl) {}
  Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) override;
  Result<void> removeBridgeNat(const std::string& bridge) override;
  Result<std::optional<BridgeNat>> bridgeNat(const std::string& bridge) override;
  Result<bool> natHooked() override;
  // Issue 19: rdr rules in vnetd/expose.<jail>. jailExpose counts the anchor's rdr lines
  // (pfctl prints each rule on one line, sbin/pfctl/pfctl_parser.c print_rule) against
  // pfRdrRuleCount: a flushed or emptied anchor reads as not active; a rule edited by hand
  // in place is not noticed (pfctl's printed form is not compared text for text).
  Result<void> applyJailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) override;
  Result<void> removeJailExpose(const std::string& jail) override;
  Result<ExposeLoaded> jailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) override;

 private:
  const PfctlRunner& pfctl_;
};

}  // namespace vnetd::platform::fbsd
