#include "platform/forwarding.h"

#include <sys/types.h>
#include <sys/sysctl.h>

#include <cerrno>

namespace vnetd::platform {
namespace {

// Both are plain ints in the calling process's vnet:
//   sys/netinet/ip_input.c: SYSCTL_INT(_net_inet_ip, IPCTL_FORWARDING, forwarding,
//     CTLFLAG_VNET | CTLFLAG_RW, &VNET_NAME(ipforwarding), ...)
//   sys/netinet6/in6_proto.c: SYSCTL_INT(_net_inet6_ip6, IPV6CTL_FORWARDING, forwarding,
//     CTLFLAG_VNET | CTLFLAG_RW, &VNET_NAME(ip6_forwarding), ...)
// so an int goes in and out, and a jail with its own vnet has switches of its own.
const char* name(IpFamily family) {
  return family == IpFamily::V4 ? "net.inet.ip.forwarding" : "net.inet6.ip6.forwarding";
}

}  // namespace

std::string forwardingSettingName(IpFamily family) { return name(family); }

Result<bool> readForwarding(IpFamily family) {
  int v = 0;
  size_t len = sizeof v;
  if (::sysctlbyname(name(family), &v, &len, nullptr, 0) != 0)
    return errnoError(std::string("read sysctl ") + name(family));
  if (len != sizeof v) return plainError(std::string("read sysctl ") + name(family) + ": not an int");
  return v != 0;
}

// IPv4 forwarding is one switch per vnet (sys/netinet/ip_input.c declares only
// net.inet.ip.forwarding, VNET_NAME(ipforwarding)); no interface has its own.
std::optional<bool> readInterfaceForwardingV4(const std::string&) { return std::nullopt; }

Result<void> writeForwarding(IpFamily family, bool on) {
  int v = on ? 1 : 0;
  if (::sysctlbyname(name(family), nullptr, nullptr, &v, sizeof v) != 0)
    return errnoError(std::string("set sysctl ") + name(family) + " = " + std::to_string(v));
  return success();
}

// Nothing else changes with the switch: both are plain SYSCTL_INTs (no handler of their
// own, so sysctl_handle_int only stores the int; declarations above), unlike Linux, where
// writing the switch rewrites every interface's flag. Nothing to snapshot or restore.
Result<ForwardingSideEffects> readForwardingSideEffects(IpFamily) { return ForwardingSideEffects{}; }

int forwardingSideEffectAfterOn(IpFamily, std::string_view, int before) { return before; }

Result<void> writeForwardingSideEffect(IpFamily family, const std::string& key, int) {
  return plainError("refusing to set '" + key.substr(0, 80) + "': " + name(family) +
                    " changes no other setting on FreeBSD");
}

}  // namespace vnetd::platform
