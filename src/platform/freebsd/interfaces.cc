#include "platform/freebsd/interfaces.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <memory>

namespace vnetd::platform::fbsd {
namespace {

// Prefix length of a netmask sockaddr whose address bytes start at `offset`. Routing
// messages trim trailing zero bytes off masks (sa_len shorter than the family's sockaddr),
// so only the bytes that are present are read; missing ones are zero.
uint8_t prefixOf(const struct sockaddr* mask, size_t offset, size_t length) {
  if (mask == nullptr) return static_cast<uint8_t>(length * 8);
  size_t present = mask->sa_len > offset ? std::min(length, size_t{mask->sa_len} - offset) : 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(mask) + offset;
  unsigned bits = 0;
  for (size_t i = 0; i < present; ++i) bits += static_cast<unsigned>(std::popcount(bytes[i]));
  return static_cast<uint8_t>(bits);
}

}  // namespace

Result<std::vector<IfEntry>> readInterfaces() {
  struct ifaddrs* head = nullptr;
  if (::getifaddrs(&head) != 0) return errnoError("list interfaces (getifaddrs)");
  std::unique_ptr<struct ifaddrs, void (*)(struct ifaddrs*)> guard(head, ::freeifaddrs);

  std::vector<IfEntry> out;
  for (const struct ifaddrs* ifa = head; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_name == nullptr) continue;
    size_t name_len = strnlen(ifa->ifa_name, IFNAMSIZ);
    if (name_len == 0 || name_len >= IFNAMSIZ) continue;
    IfEntry e;
    std::memset(&e, 0, sizeof e);
    std::memcpy(e.name, ifa->ifa_name, name_len);
    e.flags = ifa->ifa_flags;
    e.family = ifa->ifa_addr->sa_family;
    switch (e.family) {
      case AF_LINK: {
        const auto* sdl = reinterpret_cast<const struct sockaddr_dl*>(ifa->ifa_addr);
        e.index = sdl->sdl_index;
        // Stay inside the sockaddr: name and address share sdl_data.
        size_t data_room = sdl->sdl_len > offsetof(struct sockaddr_dl, sdl_data)
                               ? sdl->sdl_len - offsetof(struct sockaddr_dl, sdl_data)
                               : 0;
        if (size_t{sdl->sdl_nlen} + sdl->sdl_alen <= data_room) {
          e.mac_len = sdl->sdl_alen;
          std::memcpy(e.mac, LLADDR(sdl), std::min<size_t>(sdl->sdl_alen, sizeof e.mac));
        }
        if (ifa->ifa_data != nullptr) {
          std::memcpy(&e.data, ifa->ifa_data, sizeof e.data);
          e.has_data = true;
        }
        break;
      }
      case AF_INET: {
        const auto* sin = reinterpret_cast<const struct sockaddr_in*>(ifa->ifa_addr);
        std::memcpy(e.address, &sin->sin_addr, 4);
        e.prefix = prefixOf(ifa->ifa_netmask, offsetof(struct sockaddr_in, sin_addr), 4);
        break;
      }
      case AF_INET6: {
        const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(ifa->ifa_addr);
        std::memcpy(e.address, &sin6->sin6_addr, 16);
        // KAME keeps the scope (interface index) in bytes 2-3 of link-local addresses
        // inside the kernel; if a kernel ever hands it out embedded, the address a user
        // configured is the one without it.
        if (e.address[0] == 0xfe && (e.address[1] & 0xc0) == 0x80) e.address[2] = e.address[3] = 0;
        e.prefix = prefixOf(ifa->ifa_netmask, offsetof(struct sockaddr_in6, sin6_addr), 16);
        break;
      }
      default: continue;
    }
    out.push_back(e);
  }
  return out;
}

std::vector<std::byte> encodeEntries(const std::vector<IfEntry>& entries) {
  std::vector<std::byte> bytes(entries.size() * sizeof(IfEntry));
  if (!bytes.empty()) std::memcpy(bytes.data(), entries.data(), bytes.size());
  return bytes;
}

Result<std::vector<IfEntry>> decodeEntries(std::span<const std::byte> bytes) {
  if (bytes.size() % sizeof(IfEntry) != 0)
    return plainError("interface snapshot from the jail helper has a torn record (" +
                      std::to_string(bytes.size()) + " bytes)");
  std::vector<IfEntry> entries(bytes.size() / sizeof(IfEntry));
  if (!bytes.empty()) std::memcpy(entries.data(), bytes.data(), bytes.size());
  for (auto& e : entries) e.name[IFNAMSIZ - 1] = '\0';
  return entries;
}

}  // namespace vnetd::platform::fbsd
