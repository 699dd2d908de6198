// IPv6 neighbour discovery messages for SLAAC (issue 19), as pure functions over bytes:
// the router advertisement vnetd sends on a bridge with router_advertisements = true,
// the router solicitation it answers (and sends from inside a FreeBSD jail, whose kernel
// sends none itself), and the EUI-64 address a jail forms from its MAC.
//
// Wire format: RFC 4861 section 4.1 (router solicitation), 4.2 (router advertisement),
// 4.6.1 (source link-layer address option), 4.6.2 (prefix information), 4.6.4 (MTU);
// EUI-64 interface identifiers: RFC 4291 appendix A / 2.5.1, RFC 2464 section 4.
// The bytes are the ICMPv6 message only (what a raw ICMPv6 socket sends and receives on
// both systems: no IPv6 header). The checksum field is left 0: the kernel computes it for
// raw ICMPv6 sockets (Linux net/ipv6/raw.c rawv6_init_sk sets the checksum offset 2 for
// IPPROTO_ICMPV6; FreeBSD sys/netinet6/raw_ip6.c rip6_output computes it at
// offsetof(struct icmp6_hdr, icmp6_cksum) for IPPROTO_ICMPV6 sockets), and received
// messages with a bad checksum never reach the socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/ip.h"
#include "core/naming.h"
#include "core/result.h"

namespace vnetd::ndp {

inline constexpr uint8_t kRouterSolicitation = 133;
inline constexpr uint8_t kRouterAdvertisement = 134;
// RFC 4861 section 6.1.1 / 6.1.2: neighbour discovery messages are only accepted with
// hop limit 255 (proof that they were not forwarded), so they are sent with it.
inline constexpr int kHopLimit = 255;

// Router timing (RFC 4861 section 6.2.1 and 10). vnetd's choice: unsolicited RAs every
// 10..30 s (MinRtrAdvInterval >= 3 s and <= 0.75 * MaxRtrAdvInterval), and a router
// lifetime of 1800 s (the RFC's range is MaxRtrAdvInterval..9000 s): a daemon restart or
// upgrade of minutes never takes the jails' default route away.
inline constexpr uint32_t kMinIntervalSeconds = 10;
inline constexpr uint32_t kMaxIntervalSeconds = 30;
inline constexpr uint16_t kRouterLifetimeSeconds = 1800;
// RFC 4861 section 10: MIN_DELAY_BETWEEN_RAS (3 s) between two multicast RAs, and the
// first MAX_INITIAL_RTR_ADVERTISEMENTS (3) RAs at most MAX_INITIAL_RTR_ADVERT_INTERVAL
// (16 s) apart.
inline constexpr uint32_t kMinDelayBetweenRasMs = 3000;
inline constexpr unsigned kInitialAdvertisements = 3;
inline constexpr uint32_t kInitialIntervalSeconds = 16;
// RFC 4861 section 6.2.1 defaults for the prefix: AdvValidLifetime 30 days,
// AdvPreferredLifetime 7 days.
inline constexpr uint32_t kPrefixValidSeconds = 2592000;
inline constexpr uint32_t kPrefixPreferredSeconds = 604800;

struct PrefixInformation {
  Cidr prefix;              // sent as its network (host bits zero: RFC 4861 4.6.2)
  bool on_link = true;      // L
  bool autonomous = true;   // A: hosts form addresses in it (SLAAC)
  uint32_t valid_seconds = kPrefixValidSeconds;
  uint32_t preferred_seconds = kPrefixPreferredSeconds;
};

struct RouterAdvertisement {
  uint8_t cur_hop_limit = 64;  // 0 = unspecified
  bool managed = false;        // M: addresses by DHCPv6
  bool other = false;          // O: other configuration by DHCPv6
  uint16_t router_lifetime_seconds = kRouterLifetimeSeconds;  // 0: not a default router
  uint32_t reachable_ms = 0;   // 0 = unspecified
  uint32_t retrans_ms = 0;     // 0 = unspecified
  std::optional<MacAddress> source_link_layer;  // the router's MAC: saves the hosts an NS
  std::optional<uint32_t> mtu;
  std::vector<PrefixInformation> prefixes;
};

// The ICMPv6 message (type 134), options in the order source link-layer address, MTU,
// prefixes. Checksum 0 (see above).
std::vector<std::byte> encodeRouterAdvertisement(const RouterAdvertisement& ra);

struct RouterSolicitation {
  std::optional<MacAddress> source_link_layer;
};

// The ICMPv6 message (type 133, code 0, checksum 0, 4 reserved bytes: RFC 4861 4.1),
// followed by the source link-layer address option (4.6.1) when `rs` has one. RFC 4861
// 4.1 / 6.3.7: the option MUST NOT be sent from the unspecified address and SHOULD be
// sent otherwise, so the caller leaves source_link_layer empty exactly when the packet
// goes out from ::. What rtsol(8) sends (usr.sbin/rtsold/rtsold.c make_packet: the header,
// then the link-layer address option of the interface).
std::vector<std::byte> encodeRouterSolicitation(const RouterSolicitation& rs);

// Validates a received ICMPv6 message as a router solicitation the way RFC 4861 section
// 6.1.1 says a router must: type 133, code 0, at least 8 bytes, every option with a
// non-zero length and inside the message, no source link-layer address option when
// the source is the unspecified address; `hop_limit` (from the packet's IPv6 header, as
// the socket reports it) must be 255. An error (code 0) naming what is wrong otherwise.
// Outside bytes: any input is fine (fuzzed: tests/fuzz/fuzz_ndp.cc).
Result<RouterSolicitation> decodeRouterSolicitation(std::span<const std::byte> icmp, const IpAddress& source,
                                                    int hop_limit);

// The modified EUI-64 interface identifier of an Ethernet MAC (RFC 4291 appendix A:
// ff:fe inserted in the middle, the universal/local bit inverted).
std::array<uint8_t, 8> eui64InterfaceId(const MacAddress& mac);
// The address SLAAC forms in the /64 `prefix` for `mac` (prefix bits + EUI-64).
// Precondition: prefix is IPv6 with length 64.
IpAddress eui64Address(const Cidr& prefix, const MacAddress& mac);
// Whether `address`'s low 64 bits are `mac`'s EUI-64 interface identifier.
bool hasEui64InterfaceId(const IpAddress& address, const MacAddress& mac);
// fe80::/10.
bool isLinkLocal(const IpAddress& address);

}  // namespace vnetd::ndp
