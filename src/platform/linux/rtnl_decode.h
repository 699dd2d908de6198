// Pure decoders of rtnetlink messages (RTM_NEWLINK/DELLINK, NEWADDR/DELADDR,
// NEWROUTE, NEWNEIGH/DELNEIGH, NEWSTATS) into the platform-neutral types of netif.h, and of the sock_diag
// replies that describe packet sockets (the capture's ring, platform/capture.h).
//
// Input is untrusted bytes (the kernel, but also fuzzers): every length is checked
// against the buffer, truncated or lying messages give an error, never a crash.
// No sockets, no allocation beyond the result. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/result.h"
#include "platform/netif.h"

namespace vnetd::platform::lnx {

struct LinkMessage {
  bool deleted = false;   // RTM_DELLINK
  LinkInfo info;
  std::string kind;       // IFLA_INFO_KIND ("veth", "bridge", "vlan", ...), "" if absent
};

struct AddrMessage {
  bool deleted = false;   // RTM_DELADDR
  AddressInfo address;
};

// One RTM_NEWSTATS reply of a counters-only dump (IFLA_STATS_LINK_64).
struct StatsMessage {
  uint32_t index = 0;
  LinkCounters counters;
};

// One RTM_NEWNEIGH / RTM_DELNEIGH message (a neighbour-cache entry), AF_INET / AF_INET6 only.
struct NeighbourMessage {
  bool deleted = false;   // RTM_DELNEIGH
  NeighbourInfo neighbour;
  uint16_t state = 0;     // ndm_state: NUD_* bits
  uint8_t flags = 0;      // ndm_flags: NTF_* bits
};

struct RouteMessage {
  bool deleted = false;   // RTM_DELROUTE
  RouteInfo route;
  uint8_t table = 0;      // RT_TABLE_MAIN = 254
  uint8_t type = 0;       // RTN_UNICAST = 1
};

// Splits a receive buffer into messages, validating each nlmsg_len against what is left.
// Calls `fn` with each whole message (header included). Stops with an error on the first
// malformed header. NLMSG_ERROR / NLMSG_DONE are passed through like any other message.
Result<void> forEachMessage(std::span<const std::byte> buf,
                            const std::function<void(std::span<const std::byte>)>& fn);

// Message type (nlmsg_type) of one message; 0 if shorter than a header.
uint16_t messageType(std::span<const std::byte> msg);

Result<LinkMessage> decodeLinkMessage(std::span<const std::byte> msg);
Result<AddrMessage> decodeAddrMessage(std::span<const std::byte> msg);
Result<RouteMessage> decodeRouteMessage(std::span<const std::byte> msg);
// Other families (AF_BRIDGE fdb entries come as RTM_NEWNEIGH too) and entries without
// NDA_DST are errors; a link-layer address of another length than 6 is left out.
Result<NeighbourMessage> decodeNeighbourMessage(std::span<const std::byte> msg);
// Whether a decoded entry says its address is in use: resolved at some point (REACHABLE,
// STALE, DELAY, PROBE), or set by hand (PERMANENT, NOARP); not INCOMPLETE, FAILED or NONE
// (net/core/neighbour.c: nobody answered, or nothing was tried).
bool neighbourInUse(const NeighbourMessage& m);
// An RTM_NEWSTATS message without IFLA_STATS_LINK_64 is an error: the request asked for it.
Result<StatsMessage> decodeStatsMessage(std::span<const std::byte> msg);

// One reply of a NETLINK_SOCK_DIAG dump of packet sockets (SOCK_DIAG_BY_FAMILY, a
// packet_diag_msg, attributes as net/packet/diag.c sk_diag_fill puts them).
struct PacketSocketMessage {
  uint32_t inode = 0;          // pdiag_ino: the socket's inode (fstat of its descriptor)
  uint64_t rx_ring_bytes = 0;  // PACKET_DIAG_RX_RING block size x blocks; 0: no receive ring
};
Result<PacketSocketMessage> decodePacketDiagMessage(std::span<const std::byte> msg);

}  // namespace vnetd::platform::lnx
