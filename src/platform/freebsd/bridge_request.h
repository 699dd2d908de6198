// if_bridge(4) ioctl request images, per the FreeBSD amd64 ABI. Pure and
// platform-neutral so the byte layout is unit-tested on Linux; the FreeBSD backend
// memcpy's these images into the real structs (sizes and offsets static_assert'ed in
// abi_checks.cc) and passes them to SIOCSDRVSPEC / SIOCGDRVSPEC. Integers are stored in
// host byte order, as the kernel of the same machine reads them (little-endian on amd64).
//
// Names: callers validate interface names (isValidInterfaceName: 1..15 characters)
// before building a request. A longer name is never an overflow here: at most 15 bytes
// are copied, so the field stays NUL-terminated, and the kernel then reports the
// truncated name as unknown (ENOENT/ENXIO) instead of acting on a neighbour's memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vnetd::platform::fbsd {

inline constexpr size_t kIfbreqSize = 80;  // sizeof(struct ifbreq), 14 and 15
inline constexpr size_t kIfdrvSize = 40;   // sizeof(struct ifdrv) on LP64
inline constexpr size_t kIfbifconfSize = 16;
inline constexpr size_t kBridgeNameSize = 16;      // IFNAMSIZ, including the NUL
inline constexpr size_t kIfbrIfsnameOffset = 0;    // offsetof(ifbreq, ifbr_ifsname)
inline constexpr size_t kIfbrIfsflagsOffset = 16;  // offsetof(ifbreq, ifbr_ifsflags)
inline constexpr size_t kIfdNameOffset = 0;        // offsetof(ifdrv, ifd_name)
inline constexpr size_t kIfdCmdOffset = 16;        // offsetof(ifdrv, ifd_cmd), unsigned long
inline constexpr size_t kIfdLenOffset = 24;        // offsetof(ifdrv, ifd_len), size_t
inline constexpr size_t kIfdDataOffset = 32;       // offsetof(ifdrv, ifd_data), void*
inline constexpr size_t kIfbicLenOffset = 0;       // offsetof(ifbifconf, ifbic_len), uint32
inline constexpr size_t kIfbicBufOffset = 8;       // offsetof(ifbifconf, ifbic_buf), pointer

// Bridge commands (ifd_cmd) and member flags, from <net/if_bridgevar.h>.
inline constexpr unsigned long kBrdgAdd = 0, kBrdgDel = 1, kBrdgGifflgs = 2, kBrdgSifflgs = 3,
                               kBrdgGifs = 6;
inline constexpr uint32_t kIfbifLearning = 0x1, kIfbifDiscover = 0x2, kIfbifStp = 0x4,
                          kIfbifSpan = 0x8, kIfbifPrivate = 0x800;

using IfbreqImage = std::array<std::byte, kIfbreqSize>;
using IfdrvImage = std::array<std::byte, kIfdrvSize>;

// struct ifbreq with ifbr_ifsname = member (at most 15 bytes, NUL-padded) and
// ifbr_ifsflags = flags; every other byte zero.
IfbreqImage encodeIfbreq(const std::string& member, uint32_t flags = 0);
// Reads ifbr_ifsname / ifbr_ifsflags back (for BRDGGIFS / BRDGGIFFLGS replies). The name
// ends at the first NUL, or after the 16 bytes of the field if the reply has none.
std::string ifbreqMember(const IfbreqImage& image);
uint32_t ifbreqFlags(const IfbreqImage& image);

// struct ifdrv { ifd_name = bridge, ifd_cmd = cmd, ifd_len = len, ifd_data = data }.
// `len` must be the exact size of the argument struct: the kernel rejects anything else.
// The pointer is stored as its 64-bit value: `data` must outlive the ioctl.
IfdrvImage encodeIfdrv(const std::string& bridge, unsigned long cmd, size_t len, const void* data);

// BRDGSIFFLGS replaces all flags: the new flag word from the current one (read with
// BRDGGIFFLGS) with PRIVATE set or cleared and everything else kept.
constexpr uint32_t withPrivate(uint32_t current, bool on) {
  return on ? (current | kIfbifPrivate) : (current & ~kIfbifPrivate);
}

}  // namespace vnetd::platform::fbsd
