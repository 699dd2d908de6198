// Names and MAC addresses of the links vnetd creates.
//
// Pure functions: the same inputs give the same outputs on every host, release and
// platform, because administrators reference these names in pf rules and these MACs
// in DHCP reservations (USERS.md #2-#5). Both are persisted in the state store too,
// so an upgrade never renames or re-addresses an existing jail.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vnetd {

// FreeBSD IFNAMSIZ (16) and Linux IFNAMSIZ (16) include the NUL.
inline constexpr size_t kMaxInterfaceNameLength = 15;
// FreeBSD's MAXHOSTNAMELEN-bounded jail names can be long; we cap what we accept so a
// name always fits a log line, a label value and a file name comfortably.
inline constexpr size_t kMaxJailNameLength = 64;
// Interfaces per jail: indexes 0..kMaxInterfacesPerJail-1.
inline constexpr unsigned kMaxInterfacesPerJail = 16;

enum class Side { A, B };  // A = host side (bridge member), B = jail side

// Jail names accepted anywhere in vnetd: [A-Za-z0-9_.-], 1..64 chars, not "." or "..",
// not starting with '-' or '.' (would look like an option / hidden file).
// Returns an empty string when valid, else the reason (one clause, no trailing period).
std::string jailNameProblem(std::string_view name);
inline bool isValidJailName(std::string_view name) { return jailNameProblem(name).empty(); }

// Interface names vnetd will pass to the kernel: [A-Za-z0-9_.-], 1..15 chars, not
// starting with '-' or '.'.
std::string interfaceNameProblem(std::string_view name);
inline bool isValidInterfaceName(std::string_view name) { return interfaceNameProblem(name).empty(); }

// Host-side (A) / jail-side (B) name for interface `index` of `jail` (jib's convention):
//   "e<index><a|b>_<jail>" when that fits 15 chars and the jail name uses only
//   [A-Za-z0-9_.]; otherwise a shortened form "e<index><a|b>_<head><hash8>", exactly 15
//   chars, where <head> is the start of the jail name ('-' mapped to '_') and <hash8>
//   is 8 characters of base62 over the full jail name (~47 bits). The a/b names of one
//   pair always differ only in the side letter.
// Precondition: isValidJailName(jail) and index < kMaxInterfacesPerJail.
std::string interfaceName(std::string_view jail, unsigned index, Side side);

struct MacAddress {
  std::array<uint8_t, 6> bytes{};
  std::string toString() const;  // "02:1a:2b:3c:4d:5e"
  static std::optional<MacAddress> parse(std::string_view text);
  bool isLocallyAdministered() const { return (bytes[0] & 0x02) != 0; }
  bool isMulticast() const { return (bytes[0] & 0x01) != 0; }
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

// Stable locally administered unicast MAC for one side of a jail's interface, derived
// from (host id, jail, index). 45 bits come from the hash; the lowest bit of the last
// octet is the side, so the A and B MACs of a pair always differ.
MacAddress deriveMac(std::string_view host_id, std::string_view jail, unsigned index, Side side);

// Stable MAC for a bridge vnetd creates (the jails' gateway), derived the same way from
// (host id, "bridge/<interface>"): distinct from every jail's, since jail names have no '/'.
MacAddress bridgeMac(std::string_view host_id, std::string_view bridge_interface);

}  // namespace vnetd
