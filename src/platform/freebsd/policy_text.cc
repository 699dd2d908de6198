#include "platform/freebsd/policy_text.h"

#include <array>
#include <charconv>
#include <limits>

#include "core/naming.h"

namespace vnetd::platform::fbsd {
namespace {

// rctl(8), RESOURCES.
constexpr std::array<std::string_view, 25> kRctlResources = {
    "cputime",      "datasize", "stacksize",  "coredumpsize", "memoryuse",
    "memorylocked", "maxproc",  "openfiles",  "vmemoryuse",   "pseudoterminals",
    "swapuse",      "nthr",     "msgqqueued", "msgqsize",     "nmsgq",
    "nsem",         "nsemop",   "nshm",       "shmsize",      "wallclock",
    "pcpu",         "readbps",  "writebps",   "readiops",     "writeiops"};

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view unquote(std::string_view token) {
  if (token.size() >= 2 && (token.front() == '"' || token.front() == '\'') &&
      token.back() == token.front())
    return token.substr(1, token.size() - 2);
  return token;
}

}  // namespace

std::optional<uint64_t> expandRctlAmount(std::string_view text) {
  if (text.empty()) return std::nullopt;
  unsigned shift = 0;
  switch (text.back()) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    case 't':
    case 'T': shift = 40; break;
    case 'p':
    case 'P': shift = 50; break;
    case 'e':
    case 'E': shift = 60; break;
    default: break;
  }
  std::string_view digits = shift ? text.substr(0, text.size() - 1) : text;
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (shift && value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

bool isRctlResource(std::string_view resource) {
  for (auto r : kRctlResources)
    if (r == resource) return true;
  return false;
}

Result<std::string> rctlJailFilter(std::string_view jail) {
  // Jail names are [A-Za-z0-9_.-]: no ':' that would shift the rule's fields.
  if (auto p = jailNameProblem(jail); !p.empty())
    return plainError("rctl rule for jail '" + std::string(jail) + "': " + p);
  return "jail:" + std::string(jail);
}

Result<std::string> rctlDenyRule(std::string_view jail, std::string_view resource,
                                 std::string_view amount) {
  auto filter = rctlJailFilter(jail);
  if (!filter) return filter.error();
  if (!isRctlResource(resource))
    return plainError("jail '" + std::string(jail) + "': unknown rctl resource '" +
                      std::string(resource) + "' (see rctl(8), RESOURCES)");
  // The kernel refuses deny rules for these two (rctl_rule_add: EOPNOTSUPP); they can
  // only be acted on by signal, log or devctl actions.
  if (resource == "cputime" || resource == "wallclock")
    return plainError("jail '" + std::string(jail) + "': rctl cannot deny " +
                      std::string(resource) + " (only signal/log/devctl actions apply to it)");
  auto value = expandRctlAmount(amount);
  if (!value)
    return plainError("jail '" + std::string(jail) + "': " + std::string(resource) + " limit '" +
                      std::string(amount) + "' is not a number with an optional K/M/G/T suffix");
  return *filter + ":" + std::string(resource) + ":deny=" + std::to_string(*value);
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
