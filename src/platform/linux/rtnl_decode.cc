#include "platform/linux/rtnl_decode.h"

#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>

#include <cstring>

namespace vnetd::platform::lnx {
namespace {

// Reads a POD from unaligned bytes.
template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

// Iterates the rtattrs in [begin, end) — each length checked — calling fn(type, payload).
// Returns false on a malformed attribute (the caller reports which message).
template <typename Fn>
bool forEachAttr(std::span<const std::byte> attrs, Fn&& fn) {
  size_t off = 0;
  while (off + sizeof(rtattr) <= attrs.size()) {
    auto hdr = load<rtattr>(attrs.data() + off);
    if (hdr.rta_len < sizeof(rtattr) || off + hdr.rta_len > attrs.size()) return false;
    fn(static_cast<uint16_t>(hdr.rta_type & NLA_TYPE_MASK),
       attrs.subspan(off + sizeof(rtattr), hdr.rta_len - sizeof(rtattr)));
    off += align4(hdr.rta_len);
  }
  // Trailing bytes shorter than an attribute header are padding at most.
  return true;
}

std::string attrString(std::span<const std::byte> p) {
  const char* s = reinterpret_cast<const char*>(p.data());
  return std::string(s, strnlen(s, p.size()));
}

template <typename T>
bool attrValue(std::span<const std::byte> p, T& out) {
  if (p.size() < sizeof(T)) return false;
  out = load<T>(p.data());
  return true;
}

Result<std::span<const std::byte>> body(std::span<const std::byte> msg, size_t fixed, const char* what) {
  if (msg.size() < sizeof(nlmsghdr)) return Error{EBADMSG, std::string(what) + ": shorter than a netlink header"};
  auto h = load<nlmsghdr>(msg.data());
  if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > msg.size())
    return Error{EBADMSG, std::string(what) + ": nlmsg_len " + std::to_string(h.nlmsg_len) +
                              " does not match the " + std::to_string(msg.size()) + "-byte buffer"};
  if (h.nlmsg_len < NLMSG_HDRLEN + fixed)
    return Error{EBADMSG, std::string(what) + ": truncated (" + std::to_string(h.nlmsg_len) + " bytes)"};
  return msg.subspan(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
}

bool addressFromBytes(uint8_t family, std::span<const std::byte> p, IpAddress& out) {
  if (family == AF_INET && p.size() >= 4) {
    out.family = IpFamily::V4;
    std::memcpy(out.bytes.data(), p.data(), 4);
    return true;
  }
  if (family == AF_INET6 && p.size() >= 16) {
    out.family = IpFamily::V6;
    std::memcpy(out.bytes.data(), p.data(), 16);
    return true;
  }
  return false;
}

// rtnl_link_stats64 grows across kernel versions: take the prefix we know, zeros beyond
// what a shorter (older) one carries.
LinkCounters countersFrom(std::span<const std::byte> p) {
  rtnl_link_stats64 s{};
  std::memcpy(&s, p.data(), std::min(p.size(), sizeof s));
  return {s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped};
}

}  // namespace

uint16_t messageType(std::span<const std::byte> msg) {
  if (msg.size() < sizeof(nlmsghdr)) return 0;
  return load<nlmsghdr>(msg.data()).nlmsg_type;
}

Result<void> forEachMessage(std::span<const std::byte> buf,
                            const std::function<void(std::span<const std::byte>)>& fn) {
  size_t off = 0;
  while (off < buf.size()) {
    if (buf.size() - off < sizeof(nlmsghdr))
      return Error{EBADMSG, "netlink: " + std::to_string(buf.size() - off) + " trailing bytes"};
    auto h = load<nlmsghdr>(buf.data() + off);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size() - off)
      return Error{EBADMSG, "netlink: message length " + std::to_string(h.nlmsg_len) + " exceeds the " +
                                std::to_string(buf.size() - off) + " bytes received"};
    fn(buf.subspan(off, h.nlmsg_len));
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return success();
}

Result<LinkMessage> decodeLinkMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(ifinfomsg), "RTM_NEWLINK");
  if (!b) return b.error();
  uint16_t type = messageType(msg);
  if (type != RTM_NEWLINK && type != RTM_DELLINK)
    return Error{EBADMSG, "not a link message (type " + std::to_string(type) + ")"};
  auto ifi = load<ifinfomsg>(b->data());
  LinkMessage m;
  m.deleted = type == RTM_DELLINK;
  m.info.index = static_cast<uint32_t>(ifi.ifi_index);
  m.info.admin_up = (ifi.ifi_flags & IFF_UP) != 0;
  m.info.running = (ifi.ifi_flags & IFF_RUNNING) != 0;
  if (ifi.ifi_type == ARPHRD_LOOPBACK) m.info.kind = LinkKind::Loopback;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(ifinfomsg))), [&](uint16_t t, auto p) {
    switch (t) {
      case IFLA_IFNAME: m.info.name = attrString(p); break;
      case IFLA_MTU: attrValue(p, m.info.mtu); break;
      case IFLA_MASTER: attrValue(p, m.info.master_index); break;
      case IFLA_IFALIAS: m.info.description = attrString(p); break;
      case IFLA_ADDRESS:
        if (p.size() == 6) std::memcpy(m.info.mac.bytes.data(), p.data(), 6);
        break;
      case IFLA_STATS64: m.info.counters = countersFrom(p); break;
      case IFLA_LINKINFO:
        forEachAttr(p, [&](uint16_t it, auto ip) {
          if (it == IFLA_INFO_KIND) m.kind = attrString(ip);
        });
        break;
      default: break;
    }
  });
  if (!ok) return Error{EBADMSG, "RTM_NEWLINK for index " + std::to_string(ifi.ifi_index) + ": malformed attribute"};
  if (m.kind == "veth") m.info.kind = LinkKind::Pair;
  else if (m.kind == "bridge") m.info.kind = LinkKind::Bridge;
  else if (m.kind == "vlan") m.info.kind = LinkKind::Vlan;
  return m;
}

Result<AddrMessage> decodeAddrMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(ifaddrmsg), "RTM_NEWADDR");
  if (!b) return b.error();
  uint16_t type = messageType(msg);
  if (type != RTM_NEWADDR && type != RTM_DELADDR)
    return Error{EBADMSG, "not an address message (type " + std::to_string(type) + ")"};
  auto ifa = load<ifaddrmsg>(b->data());
  AddrMessage m;
  m.deleted = type == RTM_DELADDR;
  m.address.link_index = ifa.ifa_index;
  uint8_t max_prefix = ifa.ifa_family == AF_INET ? 32 : 128;
  if ((ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) || ifa.ifa_prefixlen > max_prefix)
    return Error{EBADMSG, "RTM_NEWADDR: family " + std::to_string(ifa.ifa_family) + " prefix " +
                              std::to_string(ifa.ifa_prefixlen) + " not supported"};
  m.address.cidr.prefix = ifa.ifa_prefixlen;
  bool have_local = false, have_address = false;
  IpAddress local, address;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(ifaddrmsg))), [&](uint16_t t, auto p) {
    if (t == IFA_LOCAL) have_local = addressFromBytes(ifa.ifa_family, p, local);
    if (t == IFA_ADDRESS) have_address = addressFromBytes(ifa.ifa_family, p, address);
  });
  if (!ok) return Error{EBADMSG, "RTM_NEWADDR: malformed attribute"};
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
  // links and equal to IFA_LOCAL otherwise. IPv6 sends only IFA_ADDRESS.
  if (have_local) m.address.cidr.address = local;
  else if (have_address) m.address.cidr.address = address;
  else return Error{EBADMSG, "RTM_NEWADDR: no address attribute"};
  return m;
}

Result<NeighbourMessage> decodeNeighbourMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(ndmsg), "RTM_NEWNEIGH");
  if (!b) return b.error();
  uint16_t type = messageType(msg);
  if (type != RTM_NEWNEIGH && type != RTM_DELNEIGH)
    return Error{EBADMSG, "not a neighbour message (type " + std::to_string(type) + ")"};
  auto ndm = load<ndmsg>(b->data());
  if (ndm.ndm_family != AF_INET && ndm.ndm_family != AF_INET6)
    return Error{EBADMSG, "RTM_NEWNEIGH: family " + std::to_string(ndm.ndm_family) + " not supported"};
  if (ndm.ndm_ifindex < 0)
    return Error{EBADMSG, "RTM_NEWNEIGH: negative interface index " + std::to_string(ndm.ndm_ifindex)};
  NeighbourMessage m;
  m.deleted = type == RTM_DELNEIGH;
  m.neighbour.link_index = static_cast<uint32_t>(ndm.ndm_ifindex);
  m.state = ndm.ndm_state;
  m.flags = ndm.ndm_flags;
  bool have_dst = false;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(ndmsg))), [&](uint16_t t, auto p) {
    if (t == NDA_DST) have_dst = addressFromBytes(ndm.ndm_family, p, m.neighbour.address);
    if (t == NDA_LLADDR && p.size() == 6) {
      MacAddress mac;
      std::memcpy(mac.bytes.data(), p.data(), 6);
      m.neighbour.mac = mac;
    }
  });
  if (!ok) return Error{EBADMSG, "RTM_NEWNEIGH: malformed attribute"};
  if (!have_dst) return Error{EBADMSG, "RTM_NEWNEIGH: no destination address"};
  return m;
}

bool neighbourInUse(const NeighbourMessage& m) {
  constexpr uint16_t kAnswered = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
  return !m.deleted && (m.state & kAnswered) != 0;
}

Result<RouteMessage> decodeRouteMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(rtmsg), "RTM_NEWROUTE");
  if (!b) return b.error();
  uint16_t type = messageType(msg);
  if (type != RTM_NEWROUTE && type != RTM_DELROUTE)
    return Error{EBADMSG, "not a route message (type " + std::to_string(type) + ")"};
  auto rtm = load<rtmsg>(b->data());
  if ((rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6) ||
      rtm.rtm_dst_len > (rtm.rtm_family == AF_INET ? 32 : 128))
    return Error{EBADMSG, "RTM_NEWROUTE: family " + std::to_string(rtm.rtm_family) + " not supported"};
  RouteMessage m;
  m.deleted = type == RTM_DELROUTE;
  m.table = rtm.rtm_table;
  m.type = rtm.rtm_type;
  m.route.destination.address.family = rtm.rtm_family == AF_INET ? IpFamily::V4 : IpFamily::V6;
  m.route.destination.prefix = rtm.rtm_dst_len;
  uint32_t table32 = 0;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(rtmsg))), [&](uint16_t t, auto p) {
    IpAddress a;
    switch (t) {
      case RTA_DST:
        if (addressFromBytes(rtm.rtm_family, p, a)) m.route.destination.address = a;
        break;
      case RTA_GATEWAY:
        if (addressFromBytes(rtm.rtm_family, p, a)) m.route.gateway = a;
        break;
      case RTA_OIF: attrValue(p, m.route.out_index); break;
      case RTA_TABLE:
        if (attrValue(p, table32) && table32 < 256) m.table = static_cast<uint8_t>(table32);
        break;
      default: break;
    }
  });
  if (!ok) return Error{EBADMSG, "RTM_NEWROUTE: malformed attribute"};
  return m;
}

Result<StatsMessage> decodeStatsMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(if_stats_msg), "RTM_NEWSTATS");
  if (!b) return b.error();
  if (messageType(msg) != RTM_NEWSTATS)
    return Error{EBADMSG, "not a stats message (type " + std::to_string(messageType(msg)) + ")"};
  auto ifsm = load<if_stats_msg>(b->data());
  StatsMessage m;
  m.index = ifsm.ifindex;
  bool found = false;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(if_stats_msg))), [&](uint16_t t, auto p) {
    if (t != IFLA_STATS_LINK_64) return;
    m.counters = countersFrom(p);
    found = true;
  });
  if (!ok) return Error{EBADMSG, "RTM_NEWSTATS for index " + std::to_string(m.index) + ": malformed attribute"};
  if (!found) return Error{EBADMSG, "RTM_NEWSTATS for index " + std::to_string(m.index) + ": no IFLA_STATS_LINK_64"};
  return m;
}

Result<PacketSocketMessage> decodePacketDiagMessage(std::span<const std::byte> msg) {
  auto b = body(msg, sizeof(packet_diag_msg), "SOCK_DIAG_BY_FAMILY");
  if (!b) return b.error();
  if (messageType(msg) != SOCK_DIAG_BY_FAMILY)
    return Error{EBADMSG, "not a sock_diag message (type " + std::to_string(messageType(msg)) + ")"};
  auto pdm = load<packet_diag_msg>(b->data());
  if (pdm.pdiag_family != AF_PACKET)
    return Error{EBADMSG, "sock_diag reply for family " + std::to_string(pdm.pdiag_family) + ", not AF_PACKET"};
  PacketSocketMessage m;
  m.inode = pdm.pdiag_ino;
  bool short_ring = false;
  bool ok = forEachAttr(b->subspan(NLMSG_ALIGN(sizeof(packet_diag_msg))), [&](uint16_t t, auto p) {
    if (t != PACKET_DIAG_RX_RING) return;
    // net/packet/diag.c pdiag_put_ring: pdr_block_size = pg_vec_pages << PAGE_SHIFT,
    // pdr_block_nr = pg_vec_len — the ring's memory is exactly their product.
    packet_diag_ring ring{};
    if (!attrValue(p, ring)) {
      short_ring = true;
      return;
    }
    m.rx_ring_bytes = uint64_t{ring.pdr_block_size} * ring.pdr_block_nr;
  });
  if (!ok || short_ring)
    return Error{EBADMSG, "sock_diag reply for packet socket " + std::to_string(m.inode) + ": malformed attribute"};
  return m;
}

}  // namespace vnetd::platform::lnx
