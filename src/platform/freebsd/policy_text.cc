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

namespace {
bool pfConfHasVnetdAnchor(std::string_view text, std::string_view keyword);
}  // namespace

bool pfConfHasVnetdNatAnchor(std::string_view text) { return pfConfHasVnetdAnchor(text, "nat-anchor"); }
bool pfConfHasVnetdRdrAnchor(std::string_view text) { return pfConfHasVnetdAnchor(text, "rdr-anchor"); }

namespace {
bool pfConfHasVnetdAnchor(std::string_view text, std::string_view keyword) {
  // Logical lines: a backslash before the newline continues the line (pfctl's lexer).
  std::string line;
  auto check = [keyword](const std::string& l) {
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
      if (tokens[t] == keyword && unquote(tokens[t + 1]) == "vnetd/*") return true;
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

}  // namespace

// --- issue 19, port forwarding ---

Result<std::string> pfExposeAnchorName(std::string_view jail) {
  // Jail names are [A-Za-z0-9_.-]: no '/' that would make another level, no quote.
  if (auto p = jailNameProblem(jail); !p.empty())
    return plainError("pf anchor for the forwards of jail '" + std::string(jail) + "': " + p);
  return "vnetd/expose." + std::string(jail);
}

namespace {

std::string pfPorts(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + ":" + std::to_string(r.last);
}

template <typename Fn>
void eachRule(const std::vector<ExposeTarget>& forwards, Fn fn) {
  for (const ExposeTarget& t : forwards)
    for (IpFamily f : {IpFamily::V4, IpFamily::V6}) {
      const std::optional<IpAddress>& to = f == IpFamily::V4 ? t.jail_v4 : t.jail_v6;
      if (!to || to->family != f) continue;
      if (t.rule.address && t.rule.address->family != f) continue;
      fn(t, f, *to);
    }
}

}  // namespace

Result<std::string> pfRdrRules(const std::vector<ExposeTarget>& forwards) {
  for (const ExposeTarget& t : forwards)
    if (!t.egress.empty())
      if (auto p = interfaceNameProblem(t.egress); !p.empty())
        return plainError("forward " + t.name() + ": egress interface '" + t.egress + "': " + p);
  std::string out;
  eachRule(forwards, [&](const ExposeTarget& t, IpFamily f, const IpAddress& to) {
    out += "rdr pass ";
    if (!t.rule.address && !t.egress.empty()) out += "on " + t.egress + " ";
    out += f == IpFamily::V4 ? "inet" : "inet6";
    out += std::string(" proto ") + exposeProtoName(t.rule.proto) + " from any to ";
    if (t.rule.address) out += t.rule.address->toString();
    else if (!t.egress.empty()) out += "(" + t.egress + ")";
    else out += "(self)";
    out += " port " + pfPorts(t.rule.external) + " -> " + to.toString() + " port ";
    out += t.rule.external.first == t.rule.external.last ? std::to_string(t.rule.jail.first)
                                                         : std::to_string(t.rule.jail.first) + ":*";
    out += "\n";
  });
  return out;
}

size_t pfRdrRuleCount(const std::vector<ExposeTarget>& forwards) {
  size_t n = 0;
  eachRule(forwards, [&](const ExposeTarget&, IpFamily, const IpAddress&) { ++n; });
  return n;
}

size_t pfRdrRulesListed(std::string_view text) {
  size_t n = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    while (!line.empty() && isSpace(line.front())) line.remove_prefix(1);
    if (line.substr(0, 4) == "rdr ") ++n;
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  }
  return n;
}

}  // namespace vnetd::platform::fbsd
