#include "platform/freebsd/default_route.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform/freebsd/rtsock_decode.h"
#include "platform/freebsd/wire.h"

namespace vnetd::platform::fbsd {
namespace {

// Host-order stores at any alignment (the kernel writes host order; amd64 is
// little-endian, as the fixtures are).
template <typename T>
void store(RouteBytes& b, size_t offset, T value) {
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

uint8_t afOf(IpFamily family) { return family == IpFamily::V4 ? kAfInet : kAfInet6; }
size_t addrOffsetOf(IpFamily family) {
  return family == IpFamily::V4 ? kSinAddrOffset : kSin6AddrOffset;
}
size_t sockaddrSizeOf(IpFamily family) {
  return family == IpFamily::V4 ? kSockaddrInSize : kSockaddrIn6Size;
}

// The address bytes a sockaddr of `family` carries, missing trailing bytes being zero
// (masks come trimmed). False when a present byte is not zero.
bool zeroAddress(std::span<const std::byte> sa, IpFamily family) {
  const size_t from = addrOffsetOf(family);
  const size_t to = std::min(sa.size(), from + (family == IpFamily::V4 ? 4 : 16));
  for (size_t i = from; i < to; ++i)
    if (sa[i] != std::byte{0}) return false;
  return true;
}

std::string describe(const RouteBytes& sockaddr) {
  // Only for messages: the gateway as an address when it is one.
  if (sockaddr.size() >= kSockaddrInSize && std::to_integer<uint8_t>(sockaddr[1]) == kAfInet) {
    IpAddress a;
    std::memcpy(a.bytes.data(), sockaddr.data() + kSinAddrOffset, 4);
    return a.toString();
  }
  if (sockaddr.size() >= kSockaddrIn6Size && std::to_integer<uint8_t>(sockaddr[1]) == kAfInet6) {
    IpAddress a;
    a.family = IpFamily::V6;
    std::memcpy(a.bytes.data(), sockaddr.data() + kSin6AddrOffset, 16);
    if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) a.bytes[2] = a.bytes[3] = 0;
    return a.toString();
  }
  return "a non-address gateway";
}

std::string describe(const RouteOp& op) {
  switch (op.kind) {
    case RouteOp::Kind::Add: return "add the default route";
    case RouteOp::Kind::Change: return "change the default route's gateway";
    case RouteOp::Kind::Delete:
      return op.gateway.empty() ? "delete the default route"
                                : "remove nexthop " + describe(op.gateway) +
                                      " from the multipath default route";
  }
  return "?";
}

}  // namespace

RouteReply decodeDefaultRouteReply(std::span<const std::byte> msg, IpFamily family, int32_t pid,
                                   int32_t seq) {
  RouteReply out;
  if (msg.size() < kRtMsghdrSize) return out;
  if (loadHost<uint8_t>(msg, 2) != kRtmVersion || loadHost<uint8_t>(msg, 3) != kRtmGet ||
      loadHost<int32_t>(msg, kRtmPidOffset) != pid || loadHost<int32_t>(msg, kRtmSeqOffset) != seq)
    return out;
  const int err = loadHost<int32_t>(msg, kRtmErrnoOffset);
  if (err == ESRCH) {
    out.kind = RouteReply::Kind::NoRoute;
    return out;
  }
  if (err != 0) {
    out.kind = RouteReply::Kind::Failed;
    out.error = err;
    return out;
  }
  // rtm_msglen bounds the message; a recv() may have cut it shorter.
  const size_t end = std::min<size_t>(loadHost<uint16_t>(msg, 0), msg.size());
  const int addrs = loadHost<int32_t>(msg, kRtmAddrsOffset);
  std::span<const std::byte> sas[kRtaxMax];
  size_t offset = kRtMsghdrSize;
  for (int i = 0; i < kRtaxMax; ++i) {
    if ((addrs & (1 << i)) == 0) continue;
    if (offset + 2 > end) {
      out.kind = RouteReply::Kind::Malformed;
      return out;
    }
    const uint8_t sa_len = loadHost<uint8_t>(msg, offset);
    if (sa_len > end - offset) {
      out.kind = RouteReply::Kind::Malformed;
      return out;
    }
    sas[i] = msg.subspan(offset, sa_len);
    offset += saSize(sa_len);  // may step past `end`: the next present sockaddr then fails
  }
  // An exact-match lookup of 0/0 cannot answer with another prefix; if it ever did, it
  // is not the default route.
  if (!zeroAddress(sas[kRtaxDst], family) || !zeroAddress(sas[kRtaxNetmask], family)) {
    out.kind = RouteReply::Kind::NoRoute;
    return out;
  }
  out.kind = RouteReply::Kind::Found;
  DefaultRoute& r = out.route;
  r.flags = loadHost<int32_t>(msg, kRtmFlagsOffset);
  r.out_index = loadHost<uint16_t>(msg, kRtmIndexOffset);
  r.weight = loadHost<uint64_t>(msg, kRtmRmxWeightOffset);
  const std::span<const std::byte> gw = sas[kRtaxGateway];
  r.gateway_sockaddr.assign(gw.begin(), gw.end());
  if (gw.size() >= sockaddrSizeOf(family) && std::to_integer<uint8_t>(gw[1]) == afOf(family)) {
    IpAddress a;
    a.family = family;
    std::memcpy(a.bytes.data(), gw.data() + addrOffsetOf(family), a.length());
    // Link-local gateways may carry the KAME embedded scope in bytes 2-3.
    if (family == IpFamily::V6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80)
      a.bytes[2] = a.bytes[3] = 0;
    r.gateway = a;
  }
  return out;
}

RouteBytes sockaddrOf(const IpAddress& address) {
  RouteBytes sa(sockaddrSizeOf(address.family));
  sa[0] = std::byte{static_cast<uint8_t>(sa.size())};
  sa[1] = std::byte{afOf(address.family)};
  std::memcpy(sa.data() + addrOffsetOf(address.family), address.bytes.data(), address.length());
  return sa;
}

RouteBytes encodeDefaultRouteRequest(uint8_t type, IpFamily family, int32_t seq,
                                     std::span<const std::byte> gateway) {
  const bool with_gateway = !gateway.empty();
  IpAddress zero;
  zero.family = family;
  const RouteBytes any = sockaddrOf(zero);  // DST 0.0.0.0 / ::, and the all-zero NETMASK
  RouteBytes b(kRtMsghdrSize);
  // Sockaddrs follow in RTA_* bit order: DST (0x1), GATEWAY (0x2), NETMASK (0x4), each
  // padded to SA_SIZE. The zero mask goes at full length; the kernel accepts full and
  // trimmed masks (rtsock.c cleanup_xaddrs_inet/_inet6).
  auto append = [&](std::span<const std::byte> sa) {
    size_t at = b.size();
    b.resize(at + saSize(static_cast<uint8_t>(sa.size())));
    std::memcpy(b.data() + at, sa.data(), sa.size());
  };
  append(any);
  if (with_gateway) append(gateway);
  append(any);
  store<uint16_t>(b, 0, static_cast<uint16_t>(b.size()));  // rtm_msglen
  store<uint8_t>(b, 2, kRtmVersion);
  store<uint8_t>(b, 3, type);
  store<int32_t>(b, kRtmFlagsOffset, kRtfUp | kRtfStatic | (with_gateway ? kRtfGateway : 0));
  store<int32_t>(b, kRtmAddrsOffset,
                 kRtaDst | kRtaNetmask | (with_gateway ? kRtaGateway : 0));
  store<int32_t>(b, kRtmSeqOffset, seq);
  return b;
}

Result<std::vector<RouteOp>> planDefaultRoute(const std::optional<DefaultRoute>& now,
                                              const IpAddress& gateway) {
  using Kind = RouteOp::Kind;
  const RouteBytes ours = sockaddrOf(gateway);
  if (!now) return std::vector<RouteOp>{{Kind::Add, ours}};
  if (now->multipath()) {
    if (now->gateway_sockaddr.empty())
      return plainError("the default route has several nexthops, but the kernel did not name "
                        "its gateway; remove it by hand (route delete -" +
                        std::string(gateway.family == IpFamily::V4 ? "inet" : "inet6") +
                        " default <gateway>)");
    return std::vector<RouteOp>{{Kind::Delete, now->gateway_sockaddr}};
  }
  if (now->plainGateway()) {
    if (now->gateway == gateway) return std::vector<RouteOp>{};
    return std::vector<RouteOp>{{Kind::Change, ours}};
  }
  return std::vector<RouteOp>{{Kind::Delete, {}}, {Kind::Add, ours}};
}

bool changedUnderUs(const RouteOp& op, int err) {
  // Add: a default route appeared since we looked (EEXIST with multipath off, or the
  // very same nexthop). Change / Delete: the route, or that nexthop, is gone, or the
  // route turned multipath (RTM_CHANGE and a plain RTM_DELETE refuse groups with ESRCH).
  return op.kind == RouteOp::Kind::Add ? err == EEXIST : err == ESRCH;
}

Result<void> replaceDefaultRoute(DefaultRouteTable& table, const IpAddress& gateway,
                                 const std::string& what) {
  for (unsigned round = 0; round < kDefaultRouteRounds; ++round) {
    auto now = table.lookup();
    if (!now) return std::move(now).withContext(what).error();
    auto plan = planDefaultRoute(*now, gateway);
    if (!plan) return std::move(plan).withContext(what).error();
    if (plan->empty()) return success();
    for (const RouteOp& op : *plan) {
      auto r = table.apply(op);
      if (r) continue;
      if (changedUnderUs(op, r.error().code)) break;  // look again
      const std::string& detail = r.error().context;
      return Error{r.error().code,
                   what + ": " + describe(op) + (detail.empty() ? "" : ": " + detail)};
    }
  }
  return Error{EAGAIN, what + ": the default route did not settle after " +
                           std::to_string(kDefaultRouteRounds) +
                           " attempts (is another program changing it?)"};
}

}  // namespace vnetd::platform::fbsd
