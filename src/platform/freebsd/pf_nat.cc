#include "platform/freebsd/pf_nat.h"

#include <utility>

#include "core/file_util.h"
#include "platform/freebsd/pf_show.h"
#include "platform/freebsd/policy_text.h"

namespace vnetd::platform::fbsd {
namespace {

constexpr size_t kMaxPfConf = 4u << 20;
constexpr size_t kMaxDiagnostics = 4096;
constexpr size_t kMaxShowOutput = size_t{1} << 20;

// Runs pfctl with `args` (argv[0] included), feeding `input` on stdin, through `pfctl`.
// Its stdout and stderr are collected: the error message on failure, the output on
// success.
Result<std::string> runPfctl(const PfctlRunner& pfctl, const std::vector<std::string>& args,
                             const std::string& input, const std::string& what,
                             size_t max_output = kMaxDiagnostics) {
  auto ran = pfctl.run(args, input, max_output);
  if (!ran) return withContext(ran.error(), what);
  if (ran->exited && ran->status == 0) return std::move(ran->output);

  std::string detail = trimWhitespace(ran->output);
  for (char& c : detail)
    if (c == '\n') c = ';';  // one line per error, as everywhere in vnetd
  std::string how = ran->exited ? "exited with status " + std::to_string(ran->status)
                                : "was killed by signal " + std::to_string(ran->signal);
  return plainError(what + ": pfctl " + how + (detail.empty() ? std::string() : ": " + detail));
}

}  // namespace

Result<void> loadNatAnchor(const std::string& bridge, const std::string& egress,
                           const std::vector<Cidr>& subnets, const PfctlRunner& pfctl) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto rules = pfNatRules(egress, subnets);
  if (!rules) return rules.error();
  auto r = runPfctl(pfctl, {"pfctl", "-a", *anchor, "-f", "-"}, *rules, "load NAT rules into pf anchor " + *anchor);
  if (!r) return r.error();
  return success();
}

Result<void> clearNatAnchor(const std::string& bridge, const PfctlRunner& pfctl) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto r = runPfctl(pfctl, {"pfctl", "-a", *anchor, "-f", "-"}, "", "clear pf anchor " + *anchor);
  if (!r) return r.error();
  return success();
}

Result<std::string> pfctlShow(const std::string& anchor, const std::string& what, const PfctlRunner& pfctl) {
  std::vector<std::string> args = {"pfctl"};
  if (!anchor.empty()) args.insert(args.end(), {"-a", anchor});
  args.insert(args.end(), {"-s", what});
  return runPfctl(pfctl, args, "", "pfctl -s " + what, kMaxShowOutput);
}

Result<std::optional<BridgeNat>> natAnchorRules(const std::string& bridge, const PfctlRunner& pfctl) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto shown = pfctlShow(*anchor, "nat", pfctl);
  if (!shown) {
    // An anchor pf does not have (never loaded, or emptied by clearNatAnchor and so
    // removed): the kernel's DIOCGETRULES answers EINVAL when pf_find_kruleset() finds no
    // such ruleset (sys/netpfil/pf/pf_ioctl.c, case DIOCGETRULES), and pfctl_show_nat()
    // only warns "DIOCGETRULES" (sbin/pfctl/pfctl.c). Nothing is loaded then; any other
    // failure is one. pfctl's main() ignores what pfctl_show_nat() returns for -s nat, so
    // pfctl exits 0 and the warning "pfctl: DIOCGETRULES: Invalid argument" arrives as
    // output, which pfNatLoaded() skips (not a rule); this branch covers a pfctl that
    // would exit non-zero with it.
    // NOT gone with `pfctl -F all`: main() in sbin/pfctl/pfctl.c (case 'a' of the clear
    // option) flushes rules and nat of `anchorname` only, "" (the main ruleset) without
    // -a. That drops main's `nat-anchor "vnetd/*"`, whose rule removal
    // (pf_anchor_remove, sys/netpfil/pf/pf_ruleset.c) calls pf_remove_if_empty_ruleset
    // on the anchor "vnetd" (pf_anchor_setup strips the "/*"), which returns at once while
    // it has children, and each vnetd/<bridge> child returns while its rules are not empty.
    // So the anchors keep their rules and are read back here, while pf evaluates none of
    // them: natAnchorHooked() is what notices (read at freebsd-src commits bc5ed32bdcdc
    // for pfctl.c and e490a9e1b888 for pf_ruleset.c, where the functions are named
    // pf_anchor_remove / pf_remove_if_empty_ruleset; newer trees call them
    // pf_kanchor_remove / pf_remove_if_empty_kruleset, same early returns).
    if (shown.error().message().find("DIOCGETRULES: Invalid argument") != std::string::npos)
      return std::optional<BridgeNat>();
    return shown.error();
  }
  return pfNatLoaded(*shown);
}

Result<bool> natAnchorHooked(const PfctlRunner& pfctl) {
  // The live main ruleset, as doctor reads it (host_support.cc readBridgeNat): pfctl
  // prints the anchor call as `nat-anchor "vnetd/*" all` (print_rule).
  auto main = pfctlShow("", "nat", pfctl);
  if (!main) return main.error();
  return pfConfHasVnetdNatAnchor(*main);
}

Result<bool> natAnchorConfigured(const std::string& pf_conf) {
  auto text = readSmallFile(pf_conf, kMaxPfConf);
  if (!text) {
    if (text.error().code == ENOENT) return false;
    return text.error();
  }
  return pfConfHasVnetdNatAnchor(*text);
}

// --- issue 19, port forwarding ---

Result<void> loadExposeAnchor(const std::string& jail, const std::vector<ExposeTarget>& forwards,
                              const PfctlRunner& pfctl) {
  auto anchor = pfExposeAnchorName(jail);
  if (!anchor) return anchor.error();
  auto rules = pfRdrRules(forwards);
  if (!rules) return rules.error();
  auto r = runPfctl(pfctl, {"pfctl", "-a", *anchor, "-f", "-"}, *rules, "load the forwards into pf anchor " + *anchor);
  if (!r) return r.error();
  return success();
}

Result<bool> rdrAnchorHooked(const PfctlRunner& pfctl) {
  // `pfctl -s nat` prints nat, binat and rdr rules and their anchor calls (pfctl.c
  // pfctl_show_nat), the rdr-anchor as `rdr-anchor "vnetd/*" all`.
  auto main = pfctlShow("", "nat", pfctl);
  if (!main) return main.error();
  return pfConfHasVnetdRdrAnchor(*main);
}

Result<void> PfNatPolicy::applyJailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) {
  return loadExposeAnchor(jail, forwards, pfctl_);
}

Result<void> PfNatPolicy::removeJailExpose(const std::string& jail) { return loadExposeAnchor(jail, {}, pfctl_); }

Result<ExposeLoaded> PfNatPolicy::jailExpose(const std::string& jail, const std::vector<ExposeTarget>& forwards) {
  auto anchor = pfExposeAnchorName(jail);
  if (!anchor) return anchor.error();
  size_t listed = 0;
  auto shown = pfctlShow(*anchor, "nat", pfctl_);
  if (shown) listed = pfRdrRulesListed(*shown);
  // An anchor pf does not have: nothing loaded (see natAnchorRules for the DIOCGETRULES case).
  else if (shown.error().message().find("DIOCGETRULES: Invalid argument") == std::string::npos) return shown.error();
  auto hooked = rdrAnchorHooked(pfctl_);
  if (!hooked) return hooked.error();
  const size_t want = pfRdrRuleCount(forwards);
  ExposeLoaded out;
  out.hooked = *hooked;
  for (const ExposeTarget& f : forwards) out.active[f.name()] = listed == want;
  out.unexpected = listed > want;
  return out;
}

Result<void> PfNatPolicy::applyBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) {
  return loadNatAnchor(bridge, egress, {subnet}, pfctl_);
}

Result<void> PfNatPolicy::removeBridgeNat(const std::string& bridge) { return clearNatAnchor(bridge, pfctl_); }

Result<std::optional<BridgeNat>> PfNatPolicy::bridgeNat(const std::string& bridge) {
  return natAnchorRules(bridge, pfctl_);
}

Result<bool> PfNatPolicy::natHooked() { return natAnchorHooked(pfctl_); }

}  // namespace vnetd::platform::fbsd
