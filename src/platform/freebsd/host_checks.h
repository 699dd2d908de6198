// Facts about the FreeBSD host that `vnetctl doctor` reports and judges. FreeBSD only.
//
// Only facts here, no verdicts: which kernel features and modules are present and what
// the relevant sysctls say. A sysctl that does not exist is std::nullopt ("not
// applicable" — e.g. net.link.bridge.member_ifaddrs before FreeBSD 15, or every
// net.link.bridge.* while if_bridge is not loaded), not an error.
//
// The per-vnet sysctls (forwarding, bridge pfil) are read in the calling process's vnet,
// i.e. the host's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace vnetd::platform::fbsd {

struct HostFacts {
  bool vimage = false;                   // kernel built with options VIMAGE (jails can have a vnet)
  bool epair_loaded = false;             // if_epair present (module or compiled in)
  bool bridge_loaded = false;            // if_bridge present
  bool pf_loaded = false;                // pf present (NAT anchors)
  std::optional<int64_t> ip_forwarding;  // net.inet.ip.forwarding
  std::optional<int64_t> ip6_forwarding;         // net.inet6.ip6.forwarding
  std::optional<int64_t> bridge_pfil_member;     // net.link.bridge.pfil_member
  std::optional<int64_t> bridge_pfil_bridge;     // net.link.bridge.pfil_bridge
  std::optional<int64_t> bridge_pfil_onlyip;     // net.link.bridge.pfil_onlyip
  std::optional<int64_t> bridge_member_ifaddrs;  // net.link.bridge.member_ifaddrs (15 only)
  std::optional<int64_t> racct_enable;           // kern.racct.enable (rctl limits need 1)
};

// Reads all facts; fails only on unexpected errors (not on absent sysctls/modules).
Result<HostFacts> readHostFacts();

// Whether kernel module `name` (e.g. "if_epair") is present, loaded or compiled in.
Result<bool> moduleLoaded(const std::string& name);

// kldload(2) of `file` (e.g. "if_bridge"); loading a present module is success.
Result<void> loadKernelModule(const std::string& file);

// An integer sysctl by name; nullopt when it does not exist.
Result<std::optional<int64_t>> readIntSysctl(const char* name);

}  // namespace vnetd::platform::fbsd
