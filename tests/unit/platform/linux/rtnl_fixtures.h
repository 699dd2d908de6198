// Byte-exact rtnetlink messages for decoder tests, built field by field (no libmnl) so
// the tests check the decoder against the kernel ABI, not against our own builder.
#pragma once

#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace vnetd::testing {

class NlMsg {
 public:
  NlMsg(uint16_t type, const void* fixed, size_t fixed_len) {
    bytes_.resize(NLMSG_HDRLEN);
    append(fixed, fixed_len);
    pad();
    header()->nlmsg_type = type;
  }
  NlMsg& attr(uint16_t type, const void* data, size_t len) {
    rtattr a{static_cast<unsigned short>(RTA_LENGTH(len)), type};
    append(&a, sizeof a);
    append(data, len);
    pad();
    return *this;
  }
  NlMsg& str(uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
  NlMsg& u32(uint16_t type, uint32_t v) { return attr(type, &v, sizeof v); }
  // Nest: attrs built in `inner` (its bytes after its own header) wrapped in `type`.
  NlMsg& nest(uint16_t type, const std::vector<std::byte>& inner_attrs) {
    return attr(type, inner_attrs.data(), inner_attrs.size());
  }
  std::vector<std::byte> bytes() {
    header()->nlmsg_len = static_cast<uint32_t>(bytes_.size());
    return bytes_;
  }

 private:
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(bytes_.data()); }
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void pad() { bytes_.resize(NLMSG_ALIGN(bytes_.size())); }
  std::vector<std::byte> bytes_;
};

inline std::vector<std::byte> linkMsg(uint16_t type, int index, const std::string& name, unsigned flags,
                                      const std::string& kind = "veth") {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  // IFLA_LINKINFO { IFLA_INFO_KIND kind }
  std::vector<std::byte> info;
  {
    rtattr a{static_cast<unsigned short>(RTA_LENGTH(kind.size() + 1)), IFLA_INFO_KIND};
    const auto* p = reinterpret_cast<const std::byte*>(&a);
    info.insert(info.end(), p, p + sizeof a);
    const auto* s = reinterpret_cast<const std::byte*>(kind.c_str());
    info.insert(info.end(), s, s + kind.size() + 1);
    info.resize(RTA_ALIGN(info.size()));
  }
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(index)};
  rtnl_link_stats64 stats{};
  stats.rx_bytes = 1000 + index;
  stats.tx_packets = 7;
  return NlMsg(type, &ifi, sizeof ifi)
      .str(IFLA_IFNAME, name)
      .u32(IFLA_MTU, 1500)
      .attr(IFLA_ADDRESS, mac, 6)
      .attr(IFLA_STATS64, &stats, sizeof stats)
      .nest(IFLA_LINKINFO, info)
      .bytes();
}

inline std::vector<std::byte> addrMsg(uint16_t type, int index, uint8_t family, const void* addr, uint8_t prefix) {
  ifaddrmsg ifa{};
  ifa.ifa_family = family;
  ifa.ifa_prefixlen = prefix;
  ifa.ifa_index = static_cast<uint32_t>(index);
  size_t len = family == AF_INET ? 4 : 16;
  NlMsg m(type, &ifa, sizeof ifa);
  m.attr(IFA_ADDRESS, addr, len);
  if (family == AF_INET) m.attr(IFA_LOCAL, addr, len);
  return m.bytes();
}

// One neighbour-cache entry as an RTM_GETNEIGH dump returns it (net/core/neighbour.c
// neigh_fill_info: ndmsg, NDA_DST, NDA_LLADDR when the entry has one).
inline std::vector<std::byte> neighMsg(uint16_t type, int index, uint8_t family, const void* dst, uint16_t state,
                                       const uint8_t* mac = nullptr) {
  ndmsg ndm{};
  ndm.ndm_family = family;
  ndm.ndm_ifindex = index;
  ndm.ndm_state = state;
  NlMsg m(type, &ndm, sizeof ndm);
  // An IPv4 destination is 4 bytes; IPv6 16; anything else (AF_BRIDGE fdb entries in the
  // tests) is given an IPv4-sized one — never more than the caller's buffer holds.
  m.attr(NDA_DST, dst, family == AF_INET6 ? 16 : 4);
  if (mac) m.attr(NDA_LLADDR, mac, 6);
  return m.bytes();
}

// One RTM_NEWSTATS reply carrying IFLA_STATS_LINK_64 (rx_bytes = 5000 + index,
// tx_packets = 9, rx_dropped = 3), optionally with the older/shorter struct a kernel may send.
inline std::vector<std::byte> statsMsg(int index, size_t stats_len = sizeof(rtnl_link_stats64)) {
  if_stats_msg ifsm{};
  ifsm.family = AF_UNSPEC;
  ifsm.ifindex = static_cast<uint32_t>(index);
  ifsm.filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64);
  rtnl_link_stats64 stats{};
  stats.rx_bytes = 5000 + static_cast<uint64_t>(index);
  stats.tx_packets = 9;
  stats.rx_dropped = 3;
  return NlMsg(RTM_NEWSTATS, &ifsm, sizeof ifsm).attr(IFLA_STATS_LINK_64, &stats, stats_len).bytes();
}

// A sock_diag reply for one packet socket as net/packet/diag.c sk_diag_fill lays it out
// with PACKET_SHOW_INFO | PACKET_SHOW_RING_CFG: packet_diag_msg, PACKET_DIAG_INFO,
// PACKET_DIAG_UID, then PACKET_DIAG_RX_RING when the socket has a ring (block_nr > 0).
inline std::vector<std::byte> packetDiagMsg(uint32_t inode, uint32_t block_size, uint32_t block_nr) {
  packet_diag_msg pdm{};
  pdm.pdiag_family = AF_PACKET;
  pdm.pdiag_type = SOCK_RAW;
  pdm.pdiag_num = 0x0300;  // ETH_P_ALL, host order
  pdm.pdiag_ino = inode;
  packet_diag_info info{};
  info.pdi_index = 7;
  info.pdi_version = 2;  // TPACKET_V3
  NlMsg m(SOCK_DIAG_BY_FAMILY, &pdm, sizeof pdm);
  m.attr(PACKET_DIAG_INFO, &info, sizeof info).u32(PACKET_DIAG_UID, 0);
  if (block_nr > 0) {
    packet_diag_ring ring{};
    ring.pdr_block_size = block_size;
    ring.pdr_block_nr = block_nr;
    ring.pdr_frame_size = block_size;
    ring.pdr_frame_nr = block_nr;
    ring.pdr_retire_tmo = 100;
    m.attr(PACKET_DIAG_RX_RING, &ring, sizeof ring);
  }
  return m.bytes();
}

}  // namespace vnetd::testing
