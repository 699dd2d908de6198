// The host's IP forwarding switches (the equivalent of rc.conf gateway_enable /
// ipv6_gateway_enable), for the daemon's [daemon] manage_forwarding
// (src/daemon/forwarding.h).
//
// Linux: /proc/sys/net/ipv4/ip_forward and /proc/sys/net/ipv6/conf/all/forwarding, which
// belong to the network namespace of the calling thread (a daemon started with
// `ip netns exec X vnetd` switches X's). Writing "all" also writes other settings: every
// interface's own forwarding flag, conf/default/forwarding, IPv4's conf/all/accept_redirects,
// IPv6's force_forwarding flags (src/platform/linux/forwarding_effects.h has the kernel
// functions); the side-effect functions below snapshot and restore them.
// FreeBSD: net.inet.ip.forwarding and net.inet6.ip6.forwarding, per vnet (the calling
// process's).
//
// Threading: any thread; a caller that moves threads between network stacks must call
// from the host's.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip.h"
#include "core/result.h"

namespace vnetd::platform {

// The setting's name as the administrator knows it: "net.ipv4.ip_forward",
// "net.inet6.ip6.forwarding", ... (for logs and messages).
std::string forwardingSettingName(IpFamily family);

// Whether forwarding of `family` is on.
Result<bool> readForwarding(IpFamily family);

// Linux: the IPv4 forwarding flag of one interface (/proc/sys/net/ipv4/conf/<if>/forwarding).
// The kernel decides whether to forward a packet by the flag of the interface it came in on
// (net/ipv4/route.c ip_route_input_slow: IN_DEV_FORWARD(in_dev)), so an administrator can
// route a NAT bridge with the flags of the bridge and its egress alone, ip_forward off (the
// demo does). nullopt where the platform has no per-interface switch (FreeBSD: one
// net.inet.ip.forwarding per vnet) or the interface is not there.
std::optional<bool> readInterfaceForwardingV4(const std::string& ifname);

// Switches forwarding of `family` on or off. Errors name the setting; EACCES/EPERM when
// not root (or, on FreeBSD, inside a jail that may not set it).
Result<void> writeForwarding(IpFamily family, bool on);

// The settings that switching `family` on or off changes besides the switch itself, by
// key (Linux: the path below /proc/sys/net/<ipv4|ipv6>/, "conf/eth0/forwarding") → the
// integer the kernel holds.
using ForwardingSideEffects = std::map<std::string, int>;

// A snapshot of them now. Error when the list itself cannot be read; an entry that cannot
// be read (its interface went away meanwhile) is left out. FreeBSD: always empty — the
// switch is one sysctl per vnet and writing it changes nothing else (sys/netinet/ip_input.c
// and sys/netinet6/in6_proto.c declare plain SYSCTL_INTs without a handler).
Result<ForwardingSideEffects> readForwardingSideEffects(IpFamily family);

// Pure: what switching `family` on makes of the entry `key` whose value was `before`.
int forwardingSideEffectAfterOn(IpFamily family, std::string_view key, int before);

// Puts one entry back. Refuses (error, nothing written) a key that
// readForwardingSideEffects cannot produce — keys come from a file in state_dir.
// ENOENT when its interface is gone.
Result<void> writeForwardingSideEffect(IpFamily family, const std::string& key, int value);

}  // namespace vnetd::platform
