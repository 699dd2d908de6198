#include "platform/forwarding.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <memory>

#include "core/file_util.h"
#include "core/naming.h"
#include "core/unique_fd.h"
#include "platform/linux/forwarding_effects.h"
#include "platform/linux/kernel_facts.h"

namespace vnetd::platform {
namespace {

// /proc/sys/net is resolved in the network namespace of the task that opens it, so these
// are the calling thread's namespace's switches.
const char* path(IpFamily family) {
  return family == IpFamily::V4 ? "/proc/sys/net/ipv4/ip_forward" : "/proc/sys/net/ipv6/conf/all/forwarding";
}

std::string netDir(IpFamily family) {
  return family == IpFamily::V4 ? "/proc/sys/net/ipv4/" : "/proc/sys/net/ipv6/";
}

// One integer sysctl ("1\n", "-1\n"); nullopt when unreadable or not one integer.
std::optional<int> readInt(const std::string& path) {
  auto text = readSmallFile(path, 64);
  if (!text) return std::nullopt;
  std::string t = trimWhitespace(*text);
  int v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty()) return std::nullopt;
  return v;
}

Result<void> writeText(const std::string& path, const std::string& text, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errnoError(what);
  ssize_t n;
  do n = ::write(fd.get(), text.data(), text.size());
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size())) return n < 0 ? errnoError(what) : plainError(what + ": short write");
  return success();
}

}  // namespace

std::string forwardingSettingName(IpFamily family) {
  return family == IpFamily::V4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
}

Result<bool> readForwarding(IpFamily family) {
  auto text = readSmallFile(path(family), 64);
  if (!text) return withContext(text.error(), "read " + forwardingSettingName(family));
  auto on = linux_facts::parseSysctlFlag(*text);
  if (!on) return plainError("read " + forwardingSettingName(family) + ": unexpected value '" + trimWhitespace(*text) + "'");
  return *on;
}

std::optional<bool> readInterfaceForwardingV4(const std::string& ifname) {
  if (!isValidInterfaceName(ifname)) return std::nullopt;  // never a path of someone's choosing
  auto text = readSmallFile("/proc/sys/net/ipv4/conf/" + ifname + "/forwarding", 64);
  if (!text) return std::nullopt;
  return linux_facts::parseSysctlFlag(*text);
}

Result<void> writeForwarding(IpFamily family, bool on) {
  return writeText(path(family), on ? "1\n" : "0\n", "set " + forwardingSettingName(family) + " = " + (on ? "1" : "0"));
}

Result<ForwardingSideEffects> readForwardingSideEffects(IpFamily family) {
  const std::string conf = netDir(family) + "conf";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(conf.c_str()), ::closedir);
  if (!dir) return errnoError("list " + conf);
  ForwardingSideEffects out;
  while (dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (!linux_forwarding::isConfName(name)) continue;  // ".", ".."
    for (const auto& leaf : linux_forwarding::sideEffectLeaves(family, name)) {
      std::string key = "conf/" + name + "/" + leaf;
      // Missing: the interface went away meanwhile, or a kernel without the entry
      // (force_forwarding before 6.17): nothing of it to restore.
      if (auto v = readInt(netDir(family) + key)) out[key] = *v;
    }
  }
  return out;
}

int forwardingSideEffectAfterOn(IpFamily family, std::string_view key, int before) {
  return linux_forwarding::valueAfterSwitchOn(family, key, before);
}

Result<void> writeForwardingSideEffect(IpFamily family, const std::string& key, int value) {
  std::string dotted = std::string(family == IpFamily::V4 ? "net.ipv4." : "net.ipv6.") + key;
  for (char& c : dotted)
    if (c == '/') c = '.';  // for the message: how sysctl(8) spells it
  if (!linux_forwarding::isSideEffectKey(family, key))
    return plainError("refusing to set '" + key.substr(0, 80) + "': not a setting the forwarding switch changes");
  return writeText(netDir(family) + key, std::to_string(value) + "\n", "set " + dotted + " = " + std::to_string(value));
}

}  // namespace vnetd::platform
