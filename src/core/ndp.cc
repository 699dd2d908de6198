#include "core/ndp.h"

#include <cerrno>
#include <string>

namespace vnetd::ndp {
namespace {

constexpr uint8_t kOptionSourceLinkLayer = 1;  // RFC 4861 4.6.1
constexpr uint8_t kOptionPrefixInformation = 3;  // 4.6.2
constexpr uint8_t kOptionMtu = 5;               // 4.6.4
constexpr uint8_t kFlagManaged = 0x80;
constexpr uint8_t kFlagOther = 0x40;
constexpr uint8_t kPrefixOnLink = 0x80;
constexpr uint8_t kPrefixAutonomous = 0x40;

void put8(std::vector<std::byte>& out, uint8_t v) { out.push_back(std::byte{v}); }
void put16(std::vector<std::byte>& out, uint16_t v) {
  put8(out, static_cast<uint8_t>(v >> 8));
  put8(out, static_cast<uint8_t>(v));
}
void put32(std::vector<std::byte>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

Error bad(const std::string& what) { return Error{0, "router solicitation: " + what}; }

}  // namespace

std::vector<std::byte> encodeRouterAdvertisement(const RouterAdvertisement& ra) {
  std::vector<std::byte> out;
  out.reserve(16 + 8 + 8 + 32 * ra.prefixes.size());
  put8(out, kRouterAdvertisement);
  put8(out, 0);   // code
  put16(out, 0);  // checksum: the kernel's
  put8(out, ra.cur_hop_limit);
  put8(out, static_cast<uint8_t>((ra.managed ? kFlagManaged : 0) | (ra.other ? kFlagOther : 0)));
  put16(out, ra.router_lifetime_seconds);
  put32(out, ra.reachable_ms);
  put32(out, ra.retrans_ms);
  if (ra.source_link_layer) {
    put8(out, kOptionSourceLinkLayer);
    put8(out, 1);  // length in units of 8 bytes: type, length, 6-byte MAC
    for (uint8_t b : ra.source_link_layer->bytes) put8(out, b);
  }
  if (ra.mtu) {
    put8(out, kOptionMtu);
    put8(out, 1);
    put16(out, 0);  // reserved
    put32(out, *ra.mtu);
  }
  for (const PrefixInformation& p : ra.prefixes) {
    put8(out, kOptionPrefixInformation);
    put8(out, 4);
    put8(out, p.prefix.prefix);
    put8(out, static_cast<uint8_t>((p.on_link ? kPrefixOnLink : 0) | (p.autonomous ? kPrefixAutonomous : 0)));
    put32(out, p.valid_seconds);
    put32(out, p.preferred_seconds);
    put32(out, 0);  // reserved2
    IpAddress network = p.prefix.network();
    for (uint8_t b : network.bytes) put8(out, b);
  }
  return out;
}

std::vector<std::byte> encodeRouterSolicitation(const RouterSolicitation& rs) {
  std::vector<std::byte> out;
  out.reserve(16);
  put8(out, kRouterSolicitation);
  put8(out, 0);   // code
  put16(out, 0);  // checksum: the kernel's
  put32(out, 0);  // reserved: zero on sending (RFC 4861 4.1)
  if (rs.source_link_layer) {
    put8(out, kOptionSourceLinkLayer);
    put8(out, 1);  // 8 bytes: type, length, 6-byte MAC (RFC 2464 section 6)
    for (uint8_t b : rs.source_link_layer->bytes) put8(out, b);
  }
  return out;
}

Result<RouterSolicitation> decodeRouterSolicitation(std::span<const std::byte> icmp, const IpAddress& source,
                                                    int hop_limit) {
  if (hop_limit != kHopLimit) return bad("hop limit " + std::to_string(hop_limit) + ", not 255");
  if (icmp.size() < 8) return bad(std::to_string(icmp.size()) + " bytes, fewer than 8");
  auto at = [&](size_t i) { return std::to_integer<uint8_t>(icmp[i]); };
  if (at(0) != kRouterSolicitation) return bad("ICMPv6 type " + std::to_string(at(0)));
  if (at(1) != 0) return bad("code " + std::to_string(at(1)));
  const bool unspecified = source.family == IpFamily::V6 && source == IpAddress{IpFamily::V6, {}};
  RouterSolicitation out;
  // Bytes 4..7 are reserved (ignored on receipt); options follow.
  for (size_t off = 8; off < icmp.size();) {
    if (icmp.size() - off < 2) return bad("option header cut short at byte " + std::to_string(off));
    const uint8_t type = at(off);
    const size_t length = size_t{at(off + 1)} * 8;
    if (length == 0) return bad("option " + std::to_string(type) + " has length 0");
    if (length > icmp.size() - off) return bad("option " + std::to_string(type) + " runs past the message");
    if (type == kOptionSourceLinkLayer) {
      if (unspecified) return bad("source link-layer address option from the unspecified address");
      if (length == 8) {  // Ethernet (RFC 2464 section 6); other link types are not ours
        MacAddress mac;
        for (size_t i = 0; i < 6; ++i) mac.bytes[i] = at(off + 2 + i);
        out.source_link_layer = mac;
      }
    }
    off += length;  // unknown options are skipped (RFC 4861 4.6)
  }
  return out;
}

std::array<uint8_t, 8> eui64InterfaceId(const MacAddress& mac) {
  const auto& m = mac.bytes;
  return {static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
}

IpAddress eui64Address(const Cidr& prefix, const MacAddress& mac) {
  IpAddress out = prefix.network();
  auto id = eui64InterfaceId(mac);
  for (size_t i = 0; i < 8; ++i) out.bytes[8 + i] = id[i];
  return out;
}

bool hasEui64InterfaceId(const IpAddress& address, const MacAddress& mac) {
  if (address.family != IpFamily::V6) return false;
  auto id = eui64InterfaceId(mac);
  for (size_t i = 0; i < 8; ++i)
    if (address.bytes[8 + i] != id[i]) return false;
  return true;
}

bool isLinkLocal(const IpAddress& address) {
  return address.family == IpFamily::V6 && address.bytes[0] == 0xfe && (address.bytes[1] & 0xc0) == 0x80;
}

}  // namespace vnetd::ndp
