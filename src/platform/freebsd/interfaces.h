// One snapshot of a network stack's interfaces and addresses, as getifaddrs(3) sees it.
// FreeBSD only.
//
// getifaddrs(3) reads sysctl NET_RT_IFLIST in the *calling process's* vnet: the host's
// for the daemon. A jail's snapshot is therefore taken by a child attached to the jail
// (jail_child.h), which ships the entries back as plain bytes — hence the fixed-size,
// trivially copyable record below (both ends are the same binary).
#pragma once

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>

#include <cstdint>
#include <functional>
#include <span>
#include <type_traits>
#include <vector>

#include "core/result.h"

namespace vnetd::platform::fbsd {

struct IfEntry {
  char name[IFNAMSIZ];  // NUL-terminated
  uint8_t family;       // AF_LINK, AF_INET or AF_INET6
  uint8_t prefix;       // AF_INET/AF_INET6: prefix length from the netmask
  uint8_t mac_len;      // AF_LINK: link-level address length (6 for Ethernet)
  uint8_t mac[6];       // AF_LINK: first 6 bytes of the link-level address
  uint8_t address[16];  // AF_INET: first 4 bytes; AF_INET6: 16 bytes, scope cleared
  uint32_t index;       // AF_LINK: interface index (sockaddr_dl sdl_index)
  uint32_t flags;       // interface flags (IFF_*), including driver flags
  bool has_data;        // AF_LINK: `data` is valid
  struct if_data data;  // AF_LINK: type, MTU, link state, counters
};
static_assert(std::is_trivially_copyable_v<IfEntry>, "IfEntry crosses a process boundary as bytes");

// Reads the interfaces of the calling process's vnet with one getifaddrs(3) call.
Result<std::vector<IfEntry>> readInterfaces();

// The same for an arbitrary stack (host: readInterfaces; a jail: a child attached to it).
using InterfaceReader = std::function<Result<std::vector<IfEntry>>()>;

// Byte image of a snapshot and back (the jail child's reply).
std::vector<std::byte> encodeEntries(const std::vector<IfEntry>& entries);
Result<std::vector<IfEntry>> decodeEntries(std::span<const std::byte> bytes);

}  // namespace vnetd::platform::fbsd
