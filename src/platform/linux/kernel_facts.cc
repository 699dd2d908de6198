#include "platform/linux/kernel_facts.h"

#include <string>

namespace vnetd::platform::linux_facts {
namespace {

bool sameModuleName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
    if (x != y) return false;
  }
  return true;
}

// Calls f(line) for every line of text (without the newline); stops when f returns true.
template <typename F>
bool anyLine(std::string_view text, F f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (f(line)) return true;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return false;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<char> kernelConfigOption(std::string_view config, std::string_view symbol) {
  std::optional<char> found;
  if (symbol.empty()) return found;
  anyLine(config, [&](std::string_view raw) {
    std::string_view line = trim(raw);
    if (line.size() > symbol.size() && line.substr(0, symbol.size()) == symbol && line[symbol.size()] == '=') {
      std::string_view value = line.substr(symbol.size() + 1);
      if (value == "y" || value == "m" || value == "n") {
        found = value[0];
        return true;
      }
      return false;
    }
    // "# CONFIG_FOO is not set"
    if (line.size() > 2 && line[0] == '#') {
      std::string_view rest = trim(line.substr(1));
      if (rest.substr(0, symbol.size()) == symbol && trim(rest.substr(symbol.size())) == "is not set") {
        found = 'n';
        return true;
      }
    }
    return false;
  });
  return found;
}

bool procModulesListed(std::string_view proc_modules, std::string_view module) {
  if (module.empty()) return false;
  return anyLine(proc_modules, [&](std::string_view line) {
    size_t sp = line.find(' ');
    return sp != std::string_view::npos && sameModuleName(line.substr(0, sp), module);
  });
}

bool moduleFileListed(std::string_view list, std::string_view module) {
  if (module.empty()) return false;
  return anyLine(list, [&](std::string_view line) {
    std::string_view path = trim(line.substr(0, line.find(':')));
    size_t slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    size_t ko = base.find(".ko");
    if (ko == std::string_view::npos) return false;
    std::string_view after = base.substr(ko + 3);
    if (!after.empty() && after[0] != '.') return false;  // "veth.kofoo" is not a module file
    return sameModuleName(base.substr(0, ko), module);
  });
}

std::optional<bool> parseSysctlFlag(std::string_view text) {
  std::string_view v = trim(text);
  if (v.empty() || v.size() > 9) return std::nullopt;
  long n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n != 0;
}

}  // namespace vnetd::platform::linux_facts
