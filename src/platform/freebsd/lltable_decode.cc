#include "platform/freebsd/lltable_decode.h"

#include <cstring>
#include <string>

#include "platform/freebsd/default_route.h"
#include "platform/freebsd/rtsock_decode.h"
#include "platform/freebsd/wire.h"

namespace vnetd::platform::fbsd {
namespace {

Error bad(size_t at, const std::string& what) {
  return Error{EBADMSG,
               "neighbour table dump: message at byte " + std::to_string(at) + ": " + what};
}

// One message, `msg` being exactly rtm_msglen bytes (checked by the caller).
Result<LltableEntry> decodeEntry(std::span<const std::byte> msg, size_t at) {
  const auto version = loadHost<uint8_t>(msg, 2);
  const auto type = loadHost<uint8_t>(msg, 3);
  if (version != kRtmVersion)
    return bad(at, "routing message version " + std::to_string(version) + ", expected " +
                       std::to_string(kRtmVersion));
  if (type != kRtmGet)
    return bad(at, "message type " + std::to_string(type) + ", expected RTM_GET (" +
                       std::to_string(kRtmGet) + ")");
  const auto addrs = loadHost<int32_t>(msg, kRtmAddrsOffset);
  if ((addrs & (kRtaDst | kRtaGateway)) != (kRtaDst | kRtaGateway))
    return bad(at, "rtm_addrs " + std::to_string(addrs) + " lacks RTA_DST or RTA_GATEWAY");

  // RTA_DST: sockaddr_in / sockaddr_in6, right after the header (RTA_DST is bit 0).
  LltableEntry e;
  size_t offset = kRtMsghdrSize;
  if (msg.size() - offset < 2) return bad(at, "no room for the destination sockaddr");
  const auto dst_len = loadHost<uint8_t>(msg, offset);
  const auto dst_family = loadHost<uint8_t>(msg, offset + 1);
  size_t addr_offset = 0;
  if (dst_family == kAfInet) {
    e.address.family = IpFamily::V4;
    addr_offset = kSinAddrOffset;
  } else if (dst_family == kAfInet6) {
    e.address.family = IpFamily::V6;
    addr_offset = kSin6AddrOffset;
  } else {
    return bad(at, "destination family " + std::to_string(dst_family) + " is not IPv4 or IPv6");
  }
  if (dst_len < addr_offset + e.address.length() || dst_len > msg.size() - offset)
    return bad(at, "destination sockaddr length " + std::to_string(dst_len) +
                       " does not fit its address or the message");
  std::memcpy(e.address.bytes.data(), msg.data() + offset + addr_offset, e.address.length());

  // RTA_GATEWAY: the sockaddr_dl, SA_SIZE(destination) further on (see the header).
  offset += saSize(dst_len);
  if (offset > msg.size() || msg.size() - offset < kSdlDataOffset)
    return bad(at, "no room for the link-layer sockaddr");
  const auto sdl_len = loadHost<uint8_t>(msg, offset);
  const auto sdl_family = loadHost<uint8_t>(msg, offset + 1);
  if (sdl_family != kAfLink)
    return bad(at, "gateway family " + std::to_string(sdl_family) + " is not AF_LINK");
  if (sdl_len < kSdlDataOffset || sdl_len > msg.size() - offset)
    return bad(at, "link-layer sockaddr length " + std::to_string(sdl_len) +
                       " does not fit the message");
  const auto nlen = loadHost<uint8_t>(msg, offset + kSdlNlenOffset);
  const auto alen = loadHost<uint8_t>(msg, offset + kSdlAlenOffset);
  if (size_t{nlen} + alen > sdl_len - kSdlDataOffset)
    return bad(at, "link-layer name (" + std::to_string(nlen) + ") and address (" +
                       std::to_string(alen) + ") run past their sockaddr");
  // LLADDR(sdl): the address follows the (normally empty) name in sdl_data.
  e.resolved = alen != 0;
  if (alen == 6) {
    MacAddress mac;
    std::memcpy(mac.bytes.data(), msg.data() + offset + kSdlDataOffset + nlen, 6);
    e.mac = mac;
  }
  // Interface indexes start at 1 (0 means "all links" to neighboursInUse).
  e.link_index = loadHost<uint16_t>(msg, kRtmIndexOffset);
  if (e.link_index == 0) return bad(at, "interface index 0");
  e.flags = loadHost<int32_t>(msg, kRtmFlagsOffset);
  e.own_address = (e.flags & kRtfPinned) != 0;
  return e;
}

}  // namespace

Result<std::vector<LltableEntry>> decodeLltableDump(std::span<const std::byte> dump) {
  std::vector<LltableEntry> out;
  size_t pos = 0;
  while (pos < dump.size()) {
    const size_t remaining = dump.size() - pos;
    if (remaining < kRtmHeaderSize)
      return bad(pos, std::to_string(remaining) + " trailing bytes, shorter than a message header");
    const size_t length = loadHost<uint16_t>(dump, pos);
    if (length < kRtMsghdrSize)
      return bad(pos, "length " + std::to_string(length) + " is shorter than an rt_msghdr (" +
                          std::to_string(kRtMsghdrSize) + ")");
    if (length > remaining)
      return bad(pos, "length " + std::to_string(length) + " runs past the end of the dump (" +
                          std::to_string(remaining) + " bytes left)");
    auto entry = decodeEntry(dump.subspan(pos, length), pos);
    if (!entry) return entry.error();
    out.push_back(*entry);
    pos += length;
  }
  return out;
}

std::vector<NeighbourInfo> neighboursInUse(const std::vector<LltableEntry>& entries,
                                           uint32_t link_index) {
  std::vector<NeighbourInfo> out;
  for (const LltableEntry& e : entries) {
    if (!e.resolved || e.own_address) continue;
    if (link_index != 0 && e.link_index != link_index) continue;
    out.push_back(NeighbourInfo{e.link_index, e.address, e.mac});
  }
  return out;
}

}  // namespace vnetd::platform::fbsd
