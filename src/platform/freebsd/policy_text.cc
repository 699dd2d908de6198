#include "platform/freebsd/policy_text.h"

#include "core/naming.h"

namespace vnetd::platform::fbsd {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view unquote(std::string_view token) {
  if (token.size() >= 2 && (token.front() == '"' || token.front() == '\'') &&
      token.back() == token.front())
    return token.substr(1, token.size() - 2);
  return token;
}

}  // namespace

Result<std::string> rctlRuleFilter(std::string_view jail, std::string_view resource,
                                   std::string_view action) {
  // Jail names are [A-Za-z0-9_.-]: no ':' that would shift the rule's fields. Resource and
  // action must be names from the table, which hold neither ':' nor '=' nor '/'.
  if (auto p = jailNameProblem(jail); !p.empty())
    return plainError("rctl rule for jail '" + std::string(jail) + "': " + p);
  const RctlResource* r = findRctlResource(resource);
  if (!r)
    return plainError("jail '" + std::string(jail) + "': unknown rctl resource '" +
                      std::string(resource) + "' (see rctl(8), RESOURCES)");
  if (!rctlAllows(*r, action)) {
    // rctl_rule_add() answers EOPNOTSUPP: say what would work instead.
    std::string instead(rctlSuggestedAction(*r));
    if (instead.empty()) instead = "log, devctl or a signal";
    return plainError("jail '" + std::string(jail) + "': rctl cannot " + std::string(action) +
                      " " + std::string(resource) + " (use " + instead + ")");
  }
  return "jail:" + std::string(jail) + ":" + std::string(resource) + ":" + std::string(action);
}

Result<std::string> rctlRule(std::string_view jail, std::string_view resource,
                             const RctlLimit& limit) {
  auto filter = rctlRuleFilter(jail, resource, limit.action);
  if (!filter) return filter.error();
  // rctl_string_to_rule(): ERANGE above INT64_MAX, or INT64_MAX / 10^6 where the kernel
  // keeps the amount in millionths (cputime, wallclock, pcpu).
  const RctlResource& r = *findRctlResource(resource);
  if (limit.amount > r.max_amount)
    return plainError("jail '" + std::string(jail) + "': " + std::string(resource) + " amount " +
                      std::to_string(limit.amount) + " is more than rctl accepts (at most " +
                      std::to_string(r.max_amount) + ")");
  return *filter + "=" + std::to_string(limit.amount);
}

Result<std::string> pfAnchorName(std::string_view bridge) {
  if (auto p = interfaceNameProblem(bridge); !p.empty())
    return plainError("pf anchor for bridge '" + std::string(bridge) + "': " + p);
  return "vnetd/" + std::string(bridge);
}

Result<std::string> pfNatRules(std::string_view egress, const std::vector<Cidr>& subnets) {
  if (auto p = interfaceNameProblem(egress); !p.empty())
    return plainError("NAT egress interface '" + std::string(egress) + "': " + p);
  std::string rules;
  for (const Cidr& subnet : subnets) {
    if (subnet.address.family != IpFamily::V4)
      return plainError("NAT is for IPv4 subnets only; " + subnet.toString() +
                        " would be routed, not translated");
    rules += "nat on " + std::string(egress) + " from " + subnet.network().toString() + "/" +
             std::to_string(subnet.prefix) + " to any -> (" + std::string(egress) + ")\n";
  }
  return rules;
}

bool pfConfHasVnetdNatAnchor(std::string_view text) {
  // Logical lines: a backslash before the newline continues the line (pfctl's lexer).
  std::string line;
  auto check = [](const std::string& l) {
    std::vector<std::string_view> tokens;
    std::string_view s(l);
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && isSpace(s[i])) ++i;
      if (i >= s.size()) break;
      size_t start = i;
      if (s[i] == '"' || s[i] == '\'') {
        char q = s[i++];
        while (i < s.size() && s[i] != q) ++i;
        if (i < s.size()) ++i;  // closing quote
      } else {
        while (i < s.size() && !isSpace(s[i])) ++i;
      }
      tokens.push_back(s.substr(start, i - start));
    }
    for (size_t t = 0; t + 1 < tokens.size(); ++t)
      if (tokens[t] == "nat-anchor" && unquote(tokens[t + 1]) == "vnetd/*") return true;
    return false;
  };
  bool in_quote = false, in_comment = false;
  char quote = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : '\n';
    if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;  // continuation: the next physical line belongs to this one
      line += ' ';
      continue;
    }
    if (c == '\n') {
      if (check(line)) return true;
      line.clear();
      in_quote = in_comment = false;
      continue;
    }
    if (in_comment) continue;
    if (in_quote) {
      if (c == quote) in_quote = false;
    } else if (c == '"' || c == '\'') {
      in_quote = true;
      quote = c;
    } else if (c == '#') {
      in_comment = true;
      continue;
    }
    line += c;
  }
  return false;
}

}  // namespace vnetd::platform::fbsd
