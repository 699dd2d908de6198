// Which bridges need the host to forward IP packets, and why: the one rule shared by the
// daemon ([daemon] manage_forwarding switches forwarding on for them) and `vnetctl
// doctor` (forwarding:ipv4 / forwarding:ipv6 judge the setting against them), so the two
// can never disagree about whether a host needs forwarding.
//
// A bridge needs IPv4 forwarding when it has `nat` (and an `address`: without one there
// is nothing to translate), or when some jail routes IPv4 via the bridge's `address`;
// IPv6 forwarding when some jail routes IPv6 via the bridge's `address6`. Jails that only
// talk to the host and to each other need no forwarding at all.
//
// Pure: no system access.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/ip.h"

namespace vnetd {


struct ForwardingNeed {
  std::vector<std::string> nat;  // keys of bridges with NAT (IPv4 only), config order
  // Keys of bridges whose address some jail routes via, with that address; each bridge
  // once, in the order the jails name them.
  std::vector<std::pair<std::string, IpAddress>> gateways;
  bool needed() const { return !nat.empty() || !gateways.empty(); }
};

struct ForwardingNeeds {
  ForwardingNeed ipv4;
  ForwardingNeed ipv6;
  const ForwardingNeed& of(IpFamily family) const { return family == IpFamily::V4 ? ipv4 : ipv6; }
};

// From the configuration's bridges, [jail.X] and [jail_defaults] interfaces (whose
// gateways the loader has already defaulted to the bridge's address), plus
// `more_gateways`: what running jails route via (doctor knows them from the state).
ForwardingNeeds forwardingNeeds(const Config& config, const std::vector<IpAddress>& more_gateways = {});

}  // namespace vnetd
