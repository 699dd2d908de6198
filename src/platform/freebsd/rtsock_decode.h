// FreeBSD routing-socket (PF_ROUTE) messages → platform-neutral InterfaceEvents.
//
// Pure and platform-neutral: compiled and unit-tested on Linux too, against byte
// fixtures laid out per the FreeBSD amd64 ABI. It therefore includes no FreeBSD header;
// the offsets it uses (k* below) are static_assert'ed against <net/if.h>/<net/route.h>
// in abi_checks.cc, which only the FreeBSD build (and the Zig cross-compile) compiles.
// Multi-byte fields are read with memcpy in host byte order, which is the order the
// kernel writes them in (the fixtures are little-endian, as on amd64).
//
// Dispatch is a table of (message type → minimum length, handler), as in rtsold. Per
// message of a buffer:
//   - msglen < 4 or past the end of the buffer: malformed, and the rest of the buffer is
//     dropped (nothing after a lying length can be trusted to be a message boundary);
//   - other RTM_VERSION, or a type we do not use: skipped, advance by msglen;
//   - shorter than the type's minimum, or inconsistent inside (a sockaddr running past
//     the message, an unterminated name): malformed, advance by msglen.
// Nothing is ever read outside the span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/events.h"

namespace vnetd::platform::fbsd {

// FreeBSD ABI facts (amd64, FreeBSD 14/15), verified in abi_checks.cc.
inline constexpr uint8_t kRtmVersion = 5;
inline constexpr uint8_t kRtmNewAddr = 0x0c, kRtmDelAddr = 0x0d, kRtmIfInfo = 0x0e,
                         kRtmIfAnnounce = 0x11;
inline constexpr uint16_t kIfanArrival = 0, kIfanDeparture = 1;
inline constexpr int kRtaNetmask = 0x04, kRtaIfp = 0x10, kRtaIfa = 0x20;
inline constexpr int kRtaxMax = 8;  // RTA_* bits 0..7 exist
inline constexpr uint8_t kLinkStateUnknown = 0, kLinkStateDown = 1, kLinkStateUp = 2;
inline constexpr size_t kIfNameSize = 16;            // IFNAMSIZ, including the NUL
inline constexpr size_t kRtmHeaderSize = 4;          // msglen (u16), version (u8), type (u8)
inline constexpr size_t kIfMsghdrSize = 168;         // sizeof(struct if_msghdr)
inline constexpr size_t kIfAnnounceMsghdrSize = 24;  // sizeof(struct if_announcemsghdr)
inline constexpr size_t kIfaMsghdrSize = 20;         // sizeof(struct ifa_msghdr)
inline constexpr size_t kIfDataSize = 152;           // sizeof(struct if_data)
inline constexpr size_t kIfmIndexOffset = 12;        // offsetof(if_msghdr, ifm_index)
inline constexpr size_t kIfmDataOffset = 16;         // offsetof(if_msghdr, ifm_data)
inline constexpr size_t kIfiLinkStateOffset = 4;     // offsetof(if_data, ifi_link_state)
inline constexpr size_t kIfanIndexOffset = 4;        // offsetof(if_announcemsghdr, ifan_index)
inline constexpr size_t kIfanNameOffset = 6;         // offsetof(if_announcemsghdr, ifan_name)
inline constexpr size_t kIfanWhatOffset = 22;        // offsetof(if_announcemsghdr, ifan_what)
inline constexpr size_t kIfamAddrsOffset = 4;        // offsetof(ifa_msghdr, ifam_addrs)
inline constexpr size_t kIfamIndexOffset = 12;       // offsetof(ifa_msghdr, ifam_index)
inline constexpr uint8_t kAfInet = 2, kAfInet6 = 28, kAfLink = 18;
// Every sockaddr starts with sa_len (u8) and sa_family (u8).
inline constexpr size_t kSinAddrOffset = 4;     // offsetof(sockaddr_in, sin_addr)
inline constexpr size_t kSockaddrInSize = 16;   // sizeof(struct sockaddr_in)
inline constexpr size_t kSin6AddrOffset = 8;    // offsetof(sockaddr_in6, sin6_addr)
inline constexpr size_t kSockaddrIn6Size = 28;  // sizeof(struct sockaddr_in6)
inline constexpr size_t kSdlNlenOffset = 5;     // offsetof(sockaddr_dl, sdl_nlen)
inline constexpr size_t kSdlDataOffset = 8;     // offsetof(sockaddr_dl, sdl_data): name first

struct RtsockStats {
  uint64_t malformed = 0;  // too short, msglen lies, bad sockaddr or name
  uint64_t skipped = 0;    // other versions and message types we do not use
};

// Stateful only in remembering index → name and link state: RTM_IFINFO carries an
// index but no name, and only transitions are events.
//
// The host's routing socket is the source of renames and address changes (devd reports
// those for every jail's vnet too, see devd_parse.h): a routing message is queued on the
// loopback of the vnet it happened in (sys/net/rtsock.c rt_dispatch: rcvif = V_loif), so a
// socket hears its own vnet only — rtsock_addrmsg (RTM_NEWADDR/DELADDR, from
// sys/net/route.c rt_addrmsg) and rt_ifannouncemsg alike.
//
// Renames: SIOCSIFNAME announces a departure (old name) immediately followed by an
// arrival (new name) with the same index — sys/net/if.c if_rename invokes
// ifnet_departure_event before it changes if_xname and ifnet_arrival_event after, and
// sys/net/rtsock.c turns those into RTM_IFANNOUNCE (rts_handle_ifnet_departure/arrival);
// there is no RTM_IFINFO for a rename. Both are reported as they are (Departed,
// Arrived), and when an arrival reuses the index of the departure announced just before
// it, a Renamed event (old_name → name) follows. "Just before" spans translate() calls,
// because a raw routing socket returns one message per recv(). Index reuse after a
// destroy can make a destroy + create look like a rename; consumers treat events as
// "look again" hints, so the extra Renamed is harmless.
class RtsockEventTranslator {
 public:
  struct Known {
    std::string name;
    uint8_t link_state = kLinkStateUnknown;
  };
  // Forget everything and learn the current interfaces (start, or after a resync).
  void seed(const std::map<uint32_t, Known>& links) {
    links_ = links;
    last_departure_.reset();
  }
  // Decodes every message of one recv() buffer (or several concatenated), appending
  // events (source "route"). Loop thread only.
  void translate(std::span<const std::byte> buffer, std::vector<InterfaceEvent>& out);
  const RtsockStats& stats() const { return stats_; }

 private:
  enum class Outcome : uint8_t { Ok, Skipped, Malformed };
  struct Handler {
    uint8_t type;
    size_t min_length;
    Outcome (RtsockEventTranslator::*handle)(std::span<const std::byte> msg,
                                             std::vector<InterfaceEvent>& out);
  };
  struct Departure {
    uint32_t index;
    Known link;
  };
  static const Handler kHandlers[];

  Outcome onAnnounce(std::span<const std::byte> msg, std::vector<InterfaceEvent>& out);
  Outcome onIfInfo(std::span<const std::byte> msg, std::vector<InterfaceEvent>& out);
  Outcome onAddress(std::span<const std::byte> msg, std::vector<InterfaceEvent>& out);

  std::map<uint32_t, Known> links_;
  std::optional<Departure> last_departure_;  // the previous IFANNOUNCE, if a departure
  RtsockStats stats_;
};

// SA_SIZE(): a sockaddr's space in a routing message — sa_len rounded up to
// sizeof(long) (8 on LP64), and sizeof(long) when sa_len is 0.
constexpr size_t saSize(uint8_t sa_len) {
  return sa_len == 0 ? 8 : (size_t{sa_len} + 7) & ~size_t{7};
}

}  // namespace vnetd::platform::fbsd
