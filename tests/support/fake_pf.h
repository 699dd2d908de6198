// A model of pfctl(8) and the pf rulesets it changes, for running FreeBSD's pf NAT code
// (platform/freebsd/pf_nat.h) on Linux: FakePf is a PfctlRunner that answers the commands
// vnetd and an administrator use on vnetd's anchors, from state kept in memory.
//
// Modelled (FreeBSD sources read at freebsd-src commits bc5ed32bdcdc for sbin/pfctl/pfctl.c,
// f192aee06d8b for sbin/pfctl/pfctl_parser.c, e490a9e1b888 for sys/netpfil/pf/pf_ruleset.c,
// ac81d74326a0 for sys/netpfil/pf/pf_ioctl.c, 8a8af9424008 for sbin/pfctl/parse.y; there the
// kernel functions are pf_find_ruleset & co., newer trees call them pf_find_kruleset & co.):
//  - rulesets by anchor path ("" = main). An anchor comes into existence when a transaction
//    opens it (pf_begin_rules -> pf_find_or_create_ruleset, which also creates every parent
//    of the path), or when a rule calls it (pf_anchor_setup: `nat-anchor "vnetd/*"` creates
//    and references "vnetd", the "/*" stripped). pf_commit_rules() ends with
//    pf_remove_if_empty_ruleset(), which removes an anchor that has no rules, no children
//    and no reference, then tries its parent the same way; dropping a calling rule does the
//    same for the called anchor (pf_anchor_remove). pfctl_flush_nat / pfctl_clear_nat are
//    such a transaction (DIOCXBEGIN + DIOCXCOMMIT of the NAT, BINAT and RDR rulesets).
//  - `pfctl [-a A] -f -`: stdin replaces A's rules (pfctl_rules, one transaction; a parse
//    error loads nothing: "stdin:<line>: syntax error" from parse.y's yyerror and
//    "pfctl: Syntax error in config file: pf rules not loaded", exit 1).
//  - `pfctl [-a A] -s nat`: the rules as pfctl_show_nat() prints them (print_rule + "\n"):
//      nat on <if> inet from <addr>[/<len>, not printed for 32] to any -> <pool>
//    with pool "(<if>) round-robin" for an interface target (parse.y natrule: a dynamic
//    interface address makes the pool round-robin; print_pool prints the type) and the bare
//    address for a single host; `nat-anchor "<name>" all` for an anchor call (print_rule's
//    anchortypes, print_fromto's " all"). An anchor pf does not have: DIOCGETRULES answers
//    EINVAL (pf_ioctl.c, pf_find_ruleset() == NULL), pfctl_show_nat() warns
//    "pfctl: DIOCGETRULES: Invalid argument", and main() ignores its return: exit 0.
//  - `pfctl [-a A] -F nat|all`: empties A's NAT rules (all: its filter rules too), prints
//    "nat cleared" (all: "Ethernet rules cleared", "rules cleared", "nat cleared"; the
//    tables line and main-only clears are not modelled), exit 0. On the main ruleset this
//    drops `nat-anchor "vnetd/*"` while every vnetd/<bridge> anchor holding rules stays.
//  - option words are matched by prefix as pfctl_lookup_option() does ("-F a" = all).
// Minimal model of the rule grammar (the project has no parser of pf.conf input): only
//   nat on <if> [inet] from <IPv4>[/<len>] to any -> (<if>) | <IPv4>
//   nat-anchor "<name>"          (main ruleset only)
// plus blank lines and # comments; anything else is a syntax error. Interfaces need not
// exist (nothing is looked up). Commands outside this list answer exit 64 with
// "fake pfctl: not modelled: ...", so a change in what vnetd runs shows up in the tests.
// Not thread-safe; tests drive it from one thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "platform/freebsd/pf_nat.h"

namespace vnetd::testing {

class FakePf final : public platform::fbsd::PfctlRunner {
 public:
  struct Call {
    std::vector<std::string> argv;
    std::string input;
  };

  Result<platform::ChildExit> run(const std::vector<std::string>& argv, const std::string& input,
                                  size_t max_output) const override;

  // What the administrator's pf.conf loads into the main ruleset (`pfctl -f /etc/pf.conf`),
  // e.g. `nat-anchor "vnetd/*"`; returns pfctl's exit status.
  int loadMain(const std::string& rules) const;
  // Runs one pfctl command line as typed by hand (no stdin); returns its exit status.
  int pfctl(const std::vector<std::string>& args, const std::string& input = "") const;

  bool anchorExists(const std::string& path) const { return rulesets_.count(path) != 0; }
  // The anchor's NAT rules as `pfctl -a <path> -s nat` prints them, one per line.
  std::vector<std::string> natRules(const std::string& path) const;
  // Every call, in order (argv and stdin).
  const std::vector<Call>& calls() const { return calls_; }
  void clearCalls() const { calls_.clear(); }
  // The next run ends with `status` and `output` instead of being modelled (a pfctl that
  // fails: /dev/pf missing, pf not loaded, ...). Nothing changes.
  void failNext(int status, std::string output) const {
    fail_status_ = status;
    fail_output_ = std::move(output);
  }

 private:
  struct Rule {
    std::string printed;      // as print_rule prints it
    std::string anchor_call;  // nat-anchor: the anchor it references ("" = none)
  };
  struct Ruleset {
    std::vector<Rule> nat;
    std::vector<std::string> filter;  // never filled by the model's grammar; cleared by -F all
    int refcnt = 0;                   // rules calling this anchor
  };

  void findOrCreate(const std::string& path) const;
  void removeIfEmpty(std::string path) const;
  void replaceNat(const std::string& path, std::vector<Rule> rules) const;

  mutable std::map<std::string, Ruleset> rulesets_{{"", Ruleset{}}};  // "" = main, always there
  mutable std::vector<Call> calls_;
  mutable int fail_status_ = -1;
  mutable std::string fail_output_;
};

}  // namespace vnetd::testing
