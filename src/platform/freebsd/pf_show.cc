#include "platform/freebsd/pf_show.h"

#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

std::vector<std::string_view> tokens(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename F>
bool anyLine(std::string_view text, F f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (f(tokens(text.substr(0, nl)))) return true;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return false;
}

}  // namespace

bool pfInfoEnabled(std::string_view info) {
  return anyLine(info, [](const std::vector<std::string_view>& t) {
    return t.size() >= 2 && t[0] == "Status:" && t[1] == "Enabled";
  });
}

bool pfNatRulesCover(std::string_view rules, std::string_view egress, const Cidr& subnet) {
  const std::string want = Cidr{subnet.network(), subnet.prefix}.toString();
  return anyLine(rules, [&](const std::vector<std::string_view>& t) {
    if (t.empty() || t[0] != "nat") return false;
    bool on = false, from = false;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      if (t[i] == "on" && t[i + 1] == egress) on = true;
      if (t[i] == "from" && t[i + 1] == want) from = true;
      if (t[i] == "->") break;  // the translation target is not the match
    }
    return on && from;
  });
}

}  // namespace vnetd::platform::fbsd
