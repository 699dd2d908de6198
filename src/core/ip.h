// IPv4/IPv6 addresses and prefixes as plain values (no sockaddr juggling in callers).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vnetd {

enum class IpFamily : uint8_t { V4, V6 };

struct IpAddress {
  IpFamily family = IpFamily::V4;
  std::array<uint8_t, 16> bytes{};  // network order; V4 uses the first 4 bytes

  // Strict textual forms only ("198.18.0.1", "2001:db8::1"); no zone ids, no CIDR.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t host_order);
  std::string toString() const;
  size_t length() const { return family == IpFamily::V4 ? 4 : 16; }
  uint32_t v4HostOrder() const;  // precondition: family == V4
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct Cidr {
  IpAddress address;   // as written (host bits kept: "198.18.0.1/24" is the gateway)
  uint8_t prefix = 0;  // 0..32 or 0..128

  // "addr/len"; the length is required.
  static std::optional<Cidr> parse(std::string_view text);
  std::string toString() const;
  IpAddress network() const;        // host bits cleared
  bool contains(const IpAddress& a) const;
  bool overlaps(const Cidr& other) const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

}  // namespace vnetd
