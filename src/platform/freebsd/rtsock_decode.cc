#include "platform/freebsd/rtsock_decode.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "platform/freebsd/wire.h"

namespace vnetd::platform::fbsd {
namespace {

using Type = InterfaceEvent::Type;
constexpr const char* kSource = "route";

uint8_t byteAt(std::span<const std::byte> s, size_t offset) {
  return std::to_integer<uint8_t>(s[offset]);
}

InterfaceEvent event(Type type, uint32_t index, std::string name, std::string old_name = {},
                     std::optional<Cidr> address = std::nullopt) {
  return InterfaceEvent{
      type, kSource, index, std::move(name), std::move(old_name), std::move(address), std::nullopt};
}

// Kernel-written names are NUL-terminated inside their IFNAMSIZ field; one that is not
// (or is empty) means the message is not what it claims to be.
std::optional<std::string> fixedName(std::span<const std::byte> field) {
  std::string_view chars(reinterpret_cast<const char*>(field.data()), field.size());
  size_t nul = chars.find('\0');
  if (nul == std::string_view::npos || nul == 0) return std::nullopt;
  return std::string(chars.substr(0, nul));
}

// Prefix length of a netmask sockaddr. Masks may come trimmed (sa_len short of the full
// sockaddr: the missing trailing bytes are zero), and the family of a trimmed mask is not
// reliable, so the address offset and width come from the address the mask belongs to.
// A non-contiguous mask is not a prefix; its leading run of ones is what a prefix-based
// consumer can use.
uint8_t prefixFromMask(std::span<const std::byte> mask, size_t addr_offset, size_t addr_len) {
  uint8_t prefix = 0;
  for (size_t i = 0; i < addr_len; ++i) {
    size_t at = addr_offset + i;
    uint8_t b = at < mask.size() ? byteAt(mask, at) : 0;
    for (int bit = 7; bit >= 0; --bit) {
      if ((b & (1u << bit)) == 0) return prefix;
      ++prefix;
    }
  }
  return prefix;
}

}  // namespace

// rtsold-style dispatch: the minimum length of each type is the size of its fixed header.
const RtsockEventTranslator::Handler RtsockEventTranslator::kHandlers[] = {
    {kRtmIfAnnounce, kIfAnnounceMsghdrSize, &RtsockEventTranslator::onAnnounce},
    {kRtmIfInfo, kIfMsghdrSize, &RtsockEventTranslator::onIfInfo},
    {kRtmNewAddr, kIfaMsghdrSize, &RtsockEventTranslator::onAddress},
    {kRtmDelAddr, kIfaMsghdrSize, &RtsockEventTranslator::onAddress},
};

void RtsockEventTranslator::translate(std::span<const std::byte> buffer,
                                      std::vector<InterfaceEvent>& out) {
  size_t pos = 0;
  while (pos < buffer.size()) {
    size_t remaining = buffer.size() - pos;
    if (remaining < kRtmHeaderSize) {
      ++stats_.malformed;
      return;
    }
    auto length = size_t{loadHost<uint16_t>(buffer, pos)};
    if (length < kRtmHeaderSize || length > remaining) {
      // Without a trustworthy length there is no next message boundary to resume at.
      ++stats_.malformed;
      return;
    }
    auto msg = buffer.subspan(pos, length);
    pos += length;
    if (byteAt(msg, 2) != kRtmVersion) {
      ++stats_.skipped;
      continue;
    }
    uint8_t type = byteAt(msg, 3);
    const auto* handler = std::find_if(std::begin(kHandlers), std::end(kHandlers),
                                       [type](const Handler& h) { return h.type == type; });
    if (handler == std::end(kHandlers)) {
      ++stats_.skipped;
      continue;
    }
    if (length < handler->min_length) {
      ++stats_.malformed;
      continue;
    }
    switch ((this->*handler->handle)(msg, out)) {
      case Outcome::Ok: break;
      case Outcome::Skipped: ++stats_.skipped; break;
      case Outcome::Malformed: ++stats_.malformed; break;
    }
  }
}

RtsockEventTranslator::Outcome RtsockEventTranslator::onAnnounce(std::span<const std::byte> msg,
                                                                 std::vector<InterfaceEvent>& out) {
  uint32_t index = loadHost<uint16_t>(msg, kIfanIndexOffset);
  auto name = fixedName(msg.subspan(kIfanNameOffset, kIfNameSize));
  if (!name) return Outcome::Malformed;
  uint16_t what = loadHost<uint16_t>(msg, kIfanWhatOffset);
  if (what == kIfanArrival) {
    Known link{*name, kLinkStateUnknown};
    out.push_back(event(Type::Arrived, index, *name));
    if (last_departure_ && last_departure_->index == index) {
      // A rename: the interface keeps its link state, so the next RTM_IFINFO is not
      // mistaken for a transition.
      link.link_state = last_departure_->link.link_state;
      if (last_departure_->link.name != *name) {
        out.push_back(event(Type::Renamed, index, *name, last_departure_->link.name));
      }
    }
    links_[index] = std::move(link);
    last_departure_.reset();
    return Outcome::Ok;
  }
  if (what == kIfanDeparture) {
    Known link;
    if (auto it = links_.find(index); it != links_.end()) {
      link = std::move(it->second);
      links_.erase(it);
    }
    link.name = *name;  // the message is authoritative, the table may be stale
    out.push_back(event(Type::Departed, index, *name));
    last_departure_ = Departure{index, std::move(link)};
    return Outcome::Ok;
  }
  return Outcome::Skipped;
}

RtsockEventTranslator::Outcome RtsockEventTranslator::onIfInfo(std::span<const std::byte> msg,
                                                               std::vector<InterfaceEvent>& out) {
  uint32_t index = loadHost<uint16_t>(msg, kIfmIndexOffset);
  uint8_t state = byteAt(msg, kIfmDataOffset + kIfiLinkStateOffset);
  auto it = links_.find(index);
  if (it == links_.end()) {
    // First sighting (an interface that existed before seed(), or whose arrival we
    // missed): there is no previous state to call this a transition from.
    links_[index] = Known{"", state};
    return Outcome::Ok;
  }
  if (state == it->second.link_state) return Outcome::Ok;  // flags, MTU, promisc: not ours
  it->second.link_state = state;
  if (state == kLinkStateUp) out.push_back(event(Type::LinkUp, index, it->second.name));
  if (state == kLinkStateDown) out.push_back(event(Type::LinkDown, index, it->second.name));
  return Outcome::Ok;
}

RtsockEventTranslator::Outcome RtsockEventTranslator::onAddress(std::span<const std::byte> msg,
                                                                std::vector<InterfaceEvent>& out) {
  auto addrs = loadHost<int32_t>(msg, kIfamAddrsOffset);
  uint32_t index = loadHost<uint16_t>(msg, kIfamIndexOffset);
  // The sockaddrs follow the header in RTA_* bit order, each padded to SA_SIZE. An absent
  // one is an empty span; a present one spans its sa_len bytes (the padding excluded).
  std::span<const std::byte> sa[kRtaxMax];
  bool present[kRtaxMax] = {};
  size_t pos = kIfaMsghdrSize;
  for (int i = 0; i < kRtaxMax; ++i) {
    if ((addrs & (1 << i)) == 0) continue;
    if (pos >= msg.size()) return Outcome::Malformed;
    uint8_t sa_len = byteAt(msg, pos);
    if (saSize(sa_len) > msg.size() - pos) return Outcome::Malformed;
    sa[i] = msg.subspan(pos, sa_len);
    present[i] = true;
    pos += saSize(sa_len);
  }
  constexpr int kIfa = 5, kIfp = 4, kNetmask = 2;  // log2 of kRtaIfa, kRtaIfp, kRtaNetmask
  static_assert(1 << kIfa == kRtaIfa && 1 << kIfp == kRtaIfp && 1 << kNetmask == kRtaNetmask);

  const auto& ifa = sa[kIfa];
  if (ifa.size() < 2) return Outcome::Malformed;  // an address message without an address
  IpAddress address;
  size_t addr_offset = 0;
  switch (byteAt(ifa, 1)) {
    case kAfInet:
      if (ifa.size() < kSinAddrOffset + 4) return Outcome::Malformed;
      address.family = IpFamily::V4;
      addr_offset = kSinAddrOffset;
      break;
    case kAfInet6:
      if (ifa.size() < kSin6AddrOffset + 16) return Outcome::Malformed;
      address.family = IpFamily::V6;
      addr_offset = kSin6AddrOffset;
      break;
    default: return Outcome::Skipped;  // e.g. AF_LINK: not an address vnetd manages
  }
  std::memcpy(address.bytes.data(), ifa.data() + addr_offset, address.length());
  // No netmask at all: the kernel knows no prefix, report the host route's.
  auto prefix = static_cast<uint8_t>(address.length() * 8);
  if (present[kNetmask]) prefix = prefixFromMask(sa[kNetmask], addr_offset, address.length());

  std::string name;
  auto known = links_.find(index);
  if (present[kIfp]) {
    const auto& dl = sa[kIfp];
    if (dl.size() < kSdlDataOffset || byteAt(dl, 1) != kAfLink) return Outcome::Malformed;
    size_t nlen = byteAt(dl, kSdlNlenOffset);
    if (nlen >= kIfNameSize || nlen > dl.size() - kSdlDataOffset) return Outcome::Malformed;
    name.assign(reinterpret_cast<const char*>(dl.data() + kSdlDataOffset), nlen);
    if (name.find('\0') != std::string::npos) return Outcome::Malformed;
    if (known != links_.end() && known->second.name.empty()) known->second.name = name;
  }
  if (name.empty() && known != links_.end()) name = known->second.name;

  bool added = byteAt(msg, 3) == kRtmNewAddr;
  out.push_back(event(added ? Type::AddressAdded : Type::AddressRemoved, index, std::move(name), {},
                      Cidr{address, prefix}));
  return Outcome::Ok;
}

}  // namespace vnetd::platform::fbsd
