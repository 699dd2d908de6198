#include "platform/linux/forwarding_effects.h"

namespace vnetd::platform::linux_forwarding {
namespace {

// The kernel's own rule for interface names (net/core/dev.c dev_valid_name(): 1..15
// bytes, not "." or "..", no '/', ':' or whitespace), wider than vnetd's naming rules:
// the host's interfaces are not vnetd's to name, and each one's flag is restored. It is
// also what keeps a key inside /proc/sys/net/<family>/conf/.
bool kernelInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
        c == '\0')
      return false;
  return true;
}

// "conf/<name>/<leaf>" → name and leaf; false for anything else.
bool splitKey(std::string_view key, std::string_view& name, std::string_view& leaf) {
  constexpr std::string_view kConf = "conf/";
  if (key.substr(0, kConf.size()) != kConf) return false;
  key.remove_prefix(kConf.size());
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  name = key.substr(0, slash);
  leaf = key.substr(slash + 1);
  return !name.empty() && !leaf.empty();
}

}  // namespace

std::vector<std::string> sideEffectLeaves(IpFamily family, std::string_view name) {
  if (family == IpFamily::V4) {
    // all/forwarding is the switch itself; default and every interface follow it.
    if (name == "all") return {"accept_redirects"};
    return {"forwarding"};
  }
  if (name == "all") return {"force_forwarding"};
  if (name == "default") return {"forwarding"};  // default/force_forwarding is not touched
  return {"forwarding", "force_forwarding"};
}

bool isSideEffectKey(IpFamily family, std::string_view key) {
  std::string_view name, leaf;
  if (!splitKey(key, name, leaf)) return false;
  if (name != "all" && name != "default" && !kernelInterfaceName(name)) return false;
  for (const auto& l : sideEffectLeaves(family, name))
    if (leaf == l) return true;
  return false;
}

bool isConfName(std::string_view name) { return name == "all" || name == "default" || kernelInterfaceName(name); }

int valueAfterSwitchOn(IpFamily family, std::string_view key, int before) {
  std::string_view name, leaf;
  if (!splitKey(key, name, leaf)) return before;
  if (leaf == "forwarding") return 1;
  if (family == IpFamily::V4 && name == "all" && leaf == "accept_redirects") return 0;
  return before;  // IPv6 force_forwarding: only the switch-off writes it
}

}  // namespace vnetd::platform::linux_forwarding
