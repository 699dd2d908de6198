#include "platform/freebsd/pf_show.h"
#include "core/file_util.h"

#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

std::vector<std::string_view> tokens(std::string_view line) { return splitFields(line, " \t\r"); }

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

std::optional<BridgeNat> pfNatLoaded(std::string_view rules) {
  std::optional<BridgeNat> out;
  anyLine(rules, [&](const std::vector<std::string_view>& t) {
    // Only rule lines: pfctl's messages ("pfctl: ...", "No ALTQ support ...") are not.
    if (t.empty() || (t[0] != "nat" && t[0] != "no" && t[0] != "rdr" && t[0] != "binat")) return false;
    if (!out) out.emplace();
    // nat on <egress> inet from <subnet> to any -> (<egress>) [pool options]
    const bool shape = t.size() >= 10 && t[0] == "nat" && t[1] == "on" && t[3] == "inet" && t[4] == "from" &&
                       t[6] == "to" && t[7] == "any" && t[8] == "->" && t[9].size() > 2 &&
                       t[9].front() == '(' && t[9].back() == ')' && t[9].substr(1, t[9].size() - 2) == t[2];
    std::optional<Cidr> subnet;
    if (shape) {
      std::string text(t[5]);
      if (text.find('/') == std::string::npos) text += "/32";
      subnet = Cidr::parse(text);
    }
    if (!subnet || subnet->address.family != IpFamily::V4 || !(subnet->network() == subnet->address)) {
      out->recognised = false;
      return false;
    }
    if (out->subnets.empty() && out->egress.empty()) out->egress = std::string(t[2]);
    else if (out->egress != t[2]) out->recognised = false;
    out->subnets.push_back(*subnet);
    return false;  // every line
  });
  return out;
}

}  // namespace vnetd::platform::fbsd
