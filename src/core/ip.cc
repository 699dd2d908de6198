#include "core/ip.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <charconv>

namespace vnetd {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton stops at a NUL: "198.18.0.1\0junk" must not pass as an address.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[46];
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    a.family = IpFamily::V4;
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.family = IpFamily::V6;
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

IpAddress IpAddress::v4(uint32_t h) {
  IpAddress a;
  a.family = IpFamily::V4;
  a.bytes[0] = static_cast<uint8_t>(h >> 24);
  a.bytes[1] = static_cast<uint8_t>(h >> 16);
  a.bytes[2] = static_cast<uint8_t>(h >> 8);
  a.bytes[3] = static_cast<uint8_t>(h);
  return a;
}

uint32_t IpAddress::v4HostOrder() const {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* r = inet_ntop(family == IpFamily::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return r ? std::string(r) : std::string();
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  std::string_view len = text.substr(slash + 1);
  if (len.empty() || len.size() > 3) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
  if (ec != std::errc() || end != len.data() + len.size()) return std::nullopt;
  if (value > addr->length() * 8) return std::nullopt;
  return Cidr{*addr, static_cast<uint8_t>(value)};
}

std::string Cidr::toString() const { return address.toString() + "/" + std::to_string(prefix); }

IpAddress Cidr::network() const {
  IpAddress n = address;
  for (size_t i = 0; i < n.length(); ++i) {
    size_t bit = i * 8;
    if (bit >= prefix) {
      n.bytes[i] = 0;
    } else if (bit + 8 > prefix) {
      n.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (prefix - bit)));
    }
  }
  return n;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  return Cidr{a, prefix}.network() == network();
}

bool Cidr::overlaps(const Cidr& other) const {
  if (other.address.family != address.family) return false;
  uint8_t p = prefix < other.prefix ? prefix : other.prefix;
  return Cidr{address, p}.network() == Cidr{other.address, p}.network();
}

}  // namespace vnetd
