#include "core/naming.h"

#include <cstdio>

#include "core/hash.h"

namespace vnetd {
namespace {

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string nameProblem(std::string_view what, std::string_view name, size_t max_len) {
  if (name.empty()) return std::string(what) + " is empty";
  if (name.size() > max_len)
    return std::string(what) + " is " + std::to_string(name.size()) + " characters long (at most " +
           std::to_string(max_len) + ")";
  for (char c : name) {
    if (!isNameChar(c)) {
      unsigned char u = static_cast<unsigned char>(c);
      char buf[8];
      if (u >= 0x20 && u < 0x7f)
        std::snprintf(buf, sizeof buf, "'%c'", c);
      else
        std::snprintf(buf, sizeof buf, "0x%02x", u);
      return std::string(what) + " contains " + buf + " (allowed: A-Z a-z 0-9 _ . -)";
    }
  }
  if (name.front() == '-' || name.front() == '.')
    return std::string(what) + " must not start with '" + name.front() + "'";
  return {};
}

constexpr char kBase62[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr size_t kHashChars = 8;

}  // namespace

std::string jailNameProblem(std::string_view name) {
  return nameProblem("jail name", name, kMaxJailNameLength);
}

std::string interfaceNameProblem(std::string_view name) {
  return nameProblem("interface name", name, kMaxInterfaceNameLength);
}

std::string interfaceName(std::string_view jail, unsigned index, Side side) {
  std::string prefix = "e" + std::to_string(index) + (side == Side::A ? "a_" : "b_");
  bool plain = prefix.size() + jail.size() <= kMaxInterfaceNameLength &&
               jail.find('-') == std::string_view::npos;
  if (plain) return prefix + std::string(jail);

  // Shortened form. The hash covers only the jail name: the index and side are already
  // spelled out in the prefix, and keeping the hash side-independent keeps a/b names
  // visibly paired.
  uint64_t h = StableHash().add("vnetd-ifname-v1").add(jail).digest();
  std::string out = prefix;
  size_t head = kMaxInterfaceNameLength - prefix.size() - kHashChars;
  for (size_t i = 0; i < head && i < jail.size(); ++i) out += jail[i] == '-' ? '_' : jail[i];
  for (size_t i = 0; i < kHashChars; ++i) {
    out += kBase62[h % 62];
    h /= 62;
  }
  return out;
}

std::string MacAddress::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  // Exactly "xx:xx:xx:xx:xx:xx", hex digits in either case.
  if (text.size() != 17) return std::nullopt;
  MacAddress mac;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 6; ++i) {
    int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    mac.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

MacAddress deriveMac(std::string_view host_id, std::string_view jail, unsigned index, Side side) {
  uint64_t h = StableHash().add("vnetd-mac-v1").add(host_id).add(jail).add(uint64_t{index}).digest();
  MacAddress mac;
  for (size_t i = 0; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(h >> (8 * i));
  mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfc) | 0x02);  // local, unicast
  mac.bytes[5] = static_cast<uint8_t>((mac.bytes[5] & 0xfe) | (side == Side::B ? 1 : 0));
  return mac;
}

MacAddress bridgeMac(std::string_view host_id, std::string_view bridge_interface) {
  return deriveMac(host_id, "bridge/" + std::string(bridge_interface), 0, Side::A);
}

}  // namespace vnetd
