// Per-jail and per-bridge policy that lives outside the interfaces themselves:
// resource limits ([jail.X.limits]) and NAT for a bridge's subnet ([bridge.X] nat).
//
// FreeBSD: rctl(2) rules "jail:<name>:<resource>:<action>=<amount>", and a pf anchor
// "vnetd/<bridge>" loaded with pfctl(8) (argv, rules on stdin). Linux: network
// namespaces have no resource accounting of their own, so limits are reported and
// skipped; NAT is one rule per bridge subnet, named by a comment, in vnetd's own nftables
// table "ip vnetd", loaded through libnftables in-process (linux/nft_text.h, linux/nftables.h)
// — no other table is ever changed.
// Injected into the hook logic like NetStack and Jails (no link-time dependency of
// core on a backend). Any thread; each call is synchronous.
#pragma once

#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/expose.h"
#include "core/ip.h"
#include "core/rctl_resources.h"
#include "core/result.h"

namespace vnetd::platform {

// NAT loaded for one bridge: traffic from `subnets` leaving through `egress` is
// translated to the egress address (what applyBridgeNat loads).
struct BridgeNat {
  std::string egress;
  std::vector<Cidr> subnets;  // network addresses, in rule order
  bool recognised = true;     // false: the rules hold something applyBridgeNat never writes
  friend bool operator==(const BridgeNat&, const BridgeNat&) = default;
};

// Issue 19: Policy::jailExpose.
struct ExposeLoaded {
  std::map<std::string, bool> active;  // per forward name: all its rules loaded as written
  bool unexpected = false;             // rules of the jail that no given forward needs
  // The packet filter evaluates them (FreeBSD: `rdr-anchor "vnetd/*"` in the main ruleset,
  // which only pf.conf can put back; Linux: always). Not hooked is reported, not reloaded.
  bool hooked = true;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // Applies every limit (resource → {action, amount}, as the config loader validated
  // them); all or nothing; empty → success.
  virtual Result<void> applyJailLimits(const std::string& jail, const RctlLimits& limits) = 0;
  // Removes the rules applyJailLimits adds for these limits (same resource and action,
  // never other rules of the jail); none present, or accounting disabled → success.
  virtual Result<void> removeJailLimits(const std::string& jail, const RctlLimits& limits) = 0;
  // NAT of `subnet` out of `egress` for the jails on `bridge` (replaces earlier rules).
  virtual Result<void> applyBridgeNat(const std::string& bridge, const Cidr& subnet,
                                      const std::string& egress) = 0;
  // Removes the bridge's NAT rules (undo of applyBridgeNat).
  virtual Result<void> removeBridgeNat(const std::string& bridge) = 0;
  // What vnetd's NAT for `bridge` holds now (read-only; the reconciler compares it with the
  // configuration): nullopt when nothing is loaded (never loaded, removed, or flushed by
  // hand with pfctl -F / nft flush). Rules vnetd would not have written show up as an
  // entry with `recognised` false, so that they are replaced, never taken for correct.
  virtual Result<std::optional<BridgeNat>> bridgeNat(const std::string& bridge) = 0;
  // Whether the packet filter evaluates vnetd's NAT rules at all (read-only). FreeBSD: the
  // loaded main ruleset holds `nat-anchor "vnetd/*"`, which pf.conf provides and vnetd
  // never loads itself; `pfctl -F all` removes it while the vnetd/<bridge> anchors keep
  // their rules, so bridgeNat still reads them back (platform/freebsd/pf_nat.cc). Linux:
  // always true (vnetd's nft table hooks its own chain).
  virtual Result<bool> natHooked() = 0;

  // --- issue 19, port forwarding (core/expose.h) ---
  // Replaces the jail's forwards with `forwards` (none: removes them), in one transaction:
  // Linux: table "inet vnetd" (linux/nft_expose.h); FreeBSD: rdr rules in the bridge anchors.
  // The base class knows no packet filter: forwards there are an error, none is success.
  virtual Result<void> applyJailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) {
    if (forwards.empty()) return success();
    return Error{ENOTSUP, "port forwarding (expose) of jail " + jail + " is not supported here"};
  }
  // Removes every forward of the jail, whatever it was loaded for; none is success.
  virtual Result<void> removeJailExpose(const std::string& /*jail*/) { return success(); }
  // What is loaded of the jail's forwards (read-only; the reconciler, vnetd_expose_active):
  // per forward (ExposeTarget::name()) whether every rule it needs is loaded as
  // applyJailExpose writes it, and whether rules of the jail are loaded that `forwards`
  // does not need (left from an earlier configuration).
  virtual Result<ExposeLoaded> jailExpose(const std::string& /*jail*/, const std::vector<ExposeTarget>& forwards) {
    ExposeLoaded out;
    for (const ExposeTarget& f : forwards) out.active[f.name()] = false;
    return out;
  }
  // Jails with any forward rule loaded (read-only; forwards of stopped jails are removed).
  virtual Result<std::set<std::string>> exposeJails() { return std::set<std::string>{}; }
  // --- end port forwarding ---
};

std::unique_ptr<Policy> openPolicy();

}  // namespace vnetd::platform
