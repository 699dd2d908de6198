#include "platform/forwarding.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/file_util.h"
#include "core/naming.h"
#include "core/unique_fd.h"
#include "platform/linux/kernel_facts.h"

namespace vnetd::platform {
namespace {

// /proc/sys/net is resolved in the network namespace of the task that opens it, so these
// are the calling thread's namespace's switches.
const char* path(IpFamily family) {
  return family == IpFamily::V4 ? "/proc/sys/net/ipv4/ip_forward" : "/proc/sys/net/ipv6/conf/all/forwarding";
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
  const std::string what = "set " + forwardingSettingName(family) + " = " + (on ? "1" : "0");
  UniqueFd fd(::open(path(family), O_WRONLY | O_CLOEXEC));
  if (!fd) return errnoError(what);
  const char* text = on ? "1\n" : "0\n";
  ssize_t n;
  do n = ::write(fd.get(), text, 2);
  while (n < 0 && errno == EINTR);
  if (n != 2) return n < 0 ? errnoError(what) : plainError(what + ": short write");
  return success();
}

}  // namespace vnetd::platform
