// The rctl(8) resources a [jail.X.limits] table may name, and what FreeBSD lets a rule on
// each of them do. The one table both sides read: the config loader (what a config may
// say) and the FreeBSD rule writer (platform/freebsd/policy_text.h: what goes to
// rctl_add_rule(2)). A resource or action one of them accepts, the other accepts too, and
// the kernel takes the rule.
//
// Pure data and platform-neutral: the config is checked the same way on Linux, where
// limits are not applied, so `vnetd --check-config` anywhere says what FreeBSD would.
//
// FreeBSD facts the table encodes (sys/kern/kern_racct.c racct_types[] gives each resource
// its flags; sys/kern/kern_rctl.c rctl_rule_add() decides which actions a rule may use):
//  - deny: resources flagged RACCT_DENIABLE, plus memoryuse (RACCT_RSS) and pcpu
//    (RACCT_PCTCPU), which rctl enforces another way; anything else is EOPNOTSUPP.
//  - throttle: resources flagged RACCT_DECAYING except pcpu, i.e. readbps, writebps,
//    readiops and writeiops (all four are RACCT_DECAYING only, so they cannot be denied).
//  - log, devctl and the sig* actions: every resource (rctl_rule_add checks nothing).
//  - cputime and wallclock are RACCT_IN_MILLIONS only: neither deny nor throttle, so a
//    limit on them needs log, devctl or a signal.
//  - amounts: rctl_string_to_rule() reads a decimal number (str2int64: strtoul, ERANGE
//    above INT64_MAX) and multiplies RACCT_IN_MILLIONS resources (cputime, wallclock,
//    pcpu) by 10^6, ERANGE above INT64_MAX / 10^6. The kernel takes no K/M/G suffix:
//    rctl(8) expands it (usr.bin/rctl/rctl.c expand_amount, expand_number(3)), so vnetd
//    does too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vnetd {

// Families of rctl actions, as bits of RctlResource::actions.
enum RctlActionBits : unsigned {
  kRctlDeny = 1u << 0,
  kRctlThrottle = 1u << 1,
  kRctlLog = 1u << 2,
  kRctlDevctl = 1u << 3,
  kRctlSignal = 1u << 4,  // sighup ... sigthr: signal the offending process
};

struct RctlResource {
  std::string_view name;  // as rctl(8) spells it, e.g. "readbps"
  std::string_view unit;  // what an amount counts, e.g. "bytes read per second"
  unsigned actions;       // RctlActionBits the kernel accepts for this resource
  // The action of a plain amount (`readbps = "100M"`): "deny" where the kernel denies,
  // "throttle" for the rates it can only throttle, "" where neither applies (cputime,
  // wallclock): the config must then name the action (`cputime = "sigkill=3600"`).
  std::string_view default_action;
  uint64_t max_amount;  // the largest amount rctl_add_rule(2) takes
};

// Every resource rctl knows (kern_rctl.c resourcenames[]), in rctl(8)'s order.
std::span<const RctlResource> rctlResources();
// nullptr for a name that is not in the table (case matters: the config is exact).
const RctlResource* findRctlResource(std::string_view name);

// Every action name rctl knows (kern_rctl.c actionnames[]): deny, throttle, log, devctl,
// then the signals.
std::span<const std::string_view> rctlActionNames();
// The RctlActionBits family of an action name; 0 for a name rctl does not know.
unsigned rctlActionFamily(std::string_view action);
// Whether the kernel accepts a rule with this action on this resource.
bool rctlAllows(const RctlResource& resource, std::string_view action);
// The action to suggest when a rule's action is refused or missing: throttle for the
// rates, deny where the kernel denies, "" where only log, devctl or a signal work
// (cputime, wallclock).
std::string_view rctlSuggestedAction(const RctlResource& resource);

// "2G" -> 2147483648: decimal digits with one optional K, M, G or T suffix
// (case-insensitive, powers of 1024, as rctl(8) reads them). nullopt for anything else:
// empty, signs, spaces, fractions, other suffixes, more than 64 bits.
std::optional<uint64_t> parseRctlAmount(std::string_view text);

// One configured limit: what the kernel does (`action`, an rctl action name the resource
// accepts) once the jail uses more than `amount` (in the resource's unit, expanded).
struct RctlLimit {
  std::string action;
  uint64_t amount = 0;
  bool operator==(const RctlLimit&) const = default;
};

// A jail's limits: resource name -> limit.
using RctlLimits = std::map<std::string, RctlLimit>;

// Why the text of a limit is refused, in the order parseRctlLimit() checks.
enum class RctlLimitProblem {
  None,
  UnknownAction,     // "<action>=" with a name rctl does not know (also "=<amount>")
  ActionNotAllowed,  // rctl_rule_add() answers EOPNOTSUPP for this action on this resource
  BadAmount,         // not what parseRctlAmount() reads
  AboveMaximum,      // above max_amount: rctl_string_to_rule() answers ERANGE
  NeedsAction,       // a plain amount on a resource without a default action
};

struct RctlLimitParse {
  RctlLimit limit;  // valid when problem is None
  RctlLimitProblem problem = RctlLimitProblem::None;
  std::string_view action;  // as written, or the resource's default action; views into the text
  std::string_view amount;  // the amount as written
};

// The value of a limit as a config writes it: "<amount>" (the resource's default action)
// or "<action>=<amount>", the tail of an rctl(8) rule. The only place that decides whether
// such a text is a rule the kernel takes for `resource`; callers word the refusal.
RctlLimitParse parseRctlLimit(const RctlResource& resource, std::string_view text);

}  // namespace vnetd
