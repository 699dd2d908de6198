// NetStack over interface ioctls and a routing socket. One instance per network stack:
// the host's, or a jail's vnet, depending on where its sockets were created (stack.h).
#include <sys/param.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_bridgevar.h>
#include <net/if_dl.h>
#include <net/if_types.h>
#include <net/if_vlan_var.h>
#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet6/in6_var.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <set>

#include "platform/freebsd/bridge_request.h"
#include "platform/freebsd/ifreq.h"
#include "platform/freebsd/lltable_decode.h"
#include "platform/freebsd/nd6_flags.h"
#include "platform/freebsd/pair_steps.h"
#include "platform/freebsd/route_socket.h"
#include "platform/freebsd/stack.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/router_socket.h"

namespace vnetd::platform {

namespace fbsd {
namespace {

static_assert(sizeof(struct ifbreq) == kIfbreqSize, "bridge_request.h ifbreq image size");
static_assert(sizeof(struct ifdrv) == kIfdrvSize, "bridge_request.h ifdrv image size");
static_assert(sizeof(struct ifbifconf) == kIfbifconfSize, "bridge_request.h ifbifconf size");
static_assert(BRDGADD == kBrdgAdd && BRDGDEL == kBrdgDel && BRDGGIFFLGS == kBrdgGifflgs &&
                  BRDGSIFFLGS == kBrdgSifflgs && BRDGGIFS == kBrdgGifs,
              "bridge_request.h command numbers");
static_assert(IFBIF_PRIVATE == kIfbifPrivate && IFBIF_SPAN == kIfbifSpan,
              "bridge_request.h member flags");
// SIOCAIFADDR is declared with struct ifaliasreq; in_control() reads it as in_aliasreq.
static_assert(sizeof(struct in_aliasreq) == sizeof(struct ifaliasreq), "SIOCAIFADDR argument size");

// Cloned interfaces are members of an interface group named after their cloner
// (if_clone_addif), and keep it across renames and vnet moves (if_clone_restoregroup).
// For a renamed epair (IFT_ETHER like a NIC) that group is the only cheap way to know it
// is a pair: there is no driver-name query.
constexpr const char* kPairGroup = "epair";
// Members can come and go between the size probe and the fill of a list ioctl.
constexpr int kListAttempts = 4;
constexpr size_t kInitialDescription = 256;
// ND6_INFINITE_LIFETIME of <netinet6/nd6.h>, which does not compile as C++ (it names a
// struct that in6_var.h declares nested, visible at file scope only in C).
constexpr uint32_t kInfiniteLifetime = 0xffffffff;

std::string nameOf(const IfEntry& e) { return std::string(e.name, strnlen(e.name, IFNAMSIZ)); }

IpAddress addressOf(const IfEntry& e) {
  IpAddress a;
  a.family = e.family == AF_INET ? IpFamily::V4 : IpFamily::V6;
  std::memcpy(a.bytes.data(), e.address, a.length());
  return a;
}

// Prefix → netmask bytes (network order).
void maskBytes(uint8_t prefix, size_t length, uint8_t* out) {
  for (size_t i = 0; i < length; ++i) {
    unsigned bits = prefix >= (i + 1) * 8 ? 8 : (prefix > i * 8 ? prefix - i * 8 : 0);
    out[i] = static_cast<uint8_t>(bits == 0 ? 0 : (0xff << (8 - bits)) & 0xff);
  }
}

// "no interface" is ENXIO from ifioctl (ifunit_ref failed); the platform-neutral
// contract (and the Linux backend) say ENODEV.
Error noInterface(const Error& e) {
  if (e.code == ENXIO) return Error{ENODEV, e.context};
  return e;
}

class FreeBsdNetStack final : public NetStack {
 public:
  FreeBsdNetStack(StackSockets sockets, InterfaceReader reader, NeighbourReader neighbours,
                  RouterSolicitor solicitor, std::string where)
      : s_(std::move(sockets)),
        reader_(std::move(reader)),
        neighbours_(std::move(neighbours)),
        solicitor_(std::move(solicitor)),
        where_(std::move(where)) {}

  Result<std::vector<LinkInfo>> links() override {
    auto entries = reader_();
    if (!entries) return entries.error();
    return buildLinks(*entries, nullptr);
  }

  Result<std::optional<LinkInfo>> link(const std::string& name) override {
    // Most lookups are for names that do not exist yet (prestart) or any more
    // (poststop): one ioctl answers those without listing the stack.
    auto index = indexOf(name);
    if (!index) {
      if (index.error().code == ENODEV) return std::optional<LinkInfo>();
      return index.error();
    }
    auto entries = reader_();
    if (!entries) return entries.error();
    auto found = buildLinks(*entries, &name);
    if (!found) return found.error();
    if (found->empty()) return std::optional<LinkInfo>();  // gone in between
    return std::optional<LinkInfo>(std::move(found->front()));
  }

  Result<void> createPair(const PairSpec& spec) override {
    if (spec.peer_in_jail && !spec.peer_in_jail->own_stack) return noOwnVnet(*spec.peer_in_jail);
    // The order (marks before renames, cleanup at every step) is pair_steps.h's.
    Primitives kernel(*this, "create pair " + spec.host_name + "/" + spec.jail_name);
    return createPairInSteps(kernel, spec);
  }

  Result<void> createBridge(const std::string& name, std::optional<uint32_t> mtu) override {
    auto created = cloneCreate("bridge", nullptr, "create bridge " + name);
    if (!created) return created.error();
    auto finish = [&]() -> Result<void> {
      VNETD_TRY(rename(*created, name));
      // Set while the bridge has no members; the first member would otherwise impose its own.
      if (mtu) VNETD_TRY(setMtu(name, *mtu));
      return success();
    };
    auto r = finish();
    if (!r) {
      // The rename may or may not have happened.
      if (!destroyLink(*created)) (void)destroyLink(name);
      return r;
    }
    return success();
  }

  Result<void> createVlan(const std::string& name, const std::string& parent,
                          uint16_t tag) override {
    const std::string what =
        "create vlan " + name + " (tag " + std::to_string(tag) + " on " + parent + ")";
    struct vlanreq vlr;
    std::memset(&vlr, 0, sizeof vlr);
    auto copied = copyIfName(vlr.vlr_parent, parent);
    if (!copied) return std::move(copied).withContext(what).error();
    vlr.vlr_tag = tag;
    // vlan_clone_create() takes vlr_proto as given (no default for 0): say 802.1Q.
    vlr.vlr_proto = ETHERTYPE_VLAN;
    auto created = cloneCreate("vlan", &vlr, what);
    if (!created) {
      const Error& e = created.error();
      if (e.code == ENXIO)
        return Error{ENODEV, what + ": parent interface " + parent + " does not exist" + in()};
      if (e.code == EEXIST)
        return Error{EEXIST,
                     what + ": " + parent + " already has a vlan with tag " + std::to_string(tag)};
      if (e.code == EPROTONOSUPPORT)
        return Error{e.code, what + ": " + parent + " cannot carry vlans"};
      if (e.code == EINVAL)
        return Error{e.code,
                     what + ": refused (tags are 1..4094; is if_vlan loaded? kldload if_vlan)"};
      return e;
    }
    auto renamed = rename(*created, name);
    if (!renamed) {
      (void)destroyLink(*created);
      return renamed;
    }
    return success();
  }

  Result<void> destroyLink(const std::string& name) override {
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    auto r = ioctlOrError(s_.local.get(), SIOCIFDESTROY, &*ifr, "destroy " + name + in());
    if (!r && r.error().code == EINVAL)
      return Error{EINVAL,
                   "destroy " + name + in() +
                       ": not a cloned interface (only epair, bridge, vlan, ... can be destroyed)"};
    if (!r) return noInterface(r.error());
    return success();
  }

  Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                               bool private_member) override {
    const std::string what = "add " + member + " to bridge " + bridge + in();
    IfbreqImage req = encodeIfbreq(member);
    auto r = drvspec(bridge, kBrdgAdd, req.data(), req.size(), false, what);
    if (!r) {
      switch (r.error().code) {
        case EEXIST: break;  // already a member of this bridge: the hooks must be idempotent
        case EBUSY:
          return Error{EBUSY,
                       what + ": " + member + " is a member of another bridge (or a span port)"};
        case ENOENT: return Error{ENODEV, what + ": no interface " + member};
        case EINVAL:
          return Error{
              EINVAL,
              what +
                  ": refused; FreeBSD 15 does not bridge interfaces that have IP addresses "
                  "(remove them, or set net.link.bridge.member_ifaddrs=1), and some interface "
                  "types cannot be bridged"};
        default: return r;
      }
    }
    if (private_member) VNETD_TRY(setPrivate(bridge, member, true));
    return success();
  }

  Result<void> moveToJail(const std::string& name, const JailInfo& jail) override {
    const std::string what = "move " + name + " into jail " + jail.name;
    auto r = vnetIoctl(SIOCSIFVNET, name, jail, what);
    if (r) return r;
    switch (r.error().code) {
      case EEXIST:
        // The kernel says EEXIST both for "the jail shares this vnet" and for "the name
        // is taken inside"; own_stack was checked above, so it is the latter unless the
        // jail changed under us.
        return Error{EEXIST, what + ": an interface named " + name +
                                 " already exists inside the jail (or jail " + jail.name +
                                 " has no own vnet: add `vnet;` to its jail.conf)"};
      case ENXIO: {
        // ENXIO: the interface is not here, or the jail is not a running child jail.
        if (auto idx = indexOf(name); !idx && idx.error().code == ENODEV)
          return Error{ENODEV, what + ": no interface " + name + in()};
        return Error{ENXIO, what + ": jail " + jail.name + " (jid " + std::to_string(jail.id) +
                                ") is not running"};
      }
      case EBUSY:
        return Error{EBUSY, what + ": the network stack is shutting down (jail stopping?)"};
      case EPERM:
        return Error{EPERM, what + ": not permitted (vnetd must run as root on the host)"};
      default: return r;
    }
  }

  Result<void> reclaimFromJail(const std::string& name, const JailInfo& jail) override {
    const std::string what = "take " + name + " back from jail " + jail.name;
    // `ifconfig NAME -vnet JAIL` (sbin/ifconfig/ifconfig.c setifrvnet): SIOCSIFRVNET with
    // the jid in ifr_jid, issued in the parent's vnet. sys/net/if.c if_vmove_reclaim
    // finds the child prison by jid and the interface by name *inside* its vnet (ENXIO
    // when either is missing), then moves it here under the same name.
    auto r = vnetIoctl(SIOCSIFRVNET, name, jail, what);
    if (r) return r;
    switch (r.error().code) {
      case ENXIO:
        return Error{ENODEV, what + ": no interface " + name + " in the jail (or the jail is gone)"};
      case EEXIST:
        // if_vmove_reclaim: the interface already is in this (the caller's) vnet.
        return Error{EEXIST, what + ": it is not in the jail but here" + in()};
      case EBUSY:
        return Error{EBUSY, what + ": the jail's network stack is shutting down"};
      case EPERM:
        return Error{EPERM, what + ": not permitted (vnetd must run as root on the host)"};
      default: return r;
    }
  }

  Result<void> rename(const std::string& from, const std::string& to) override {
    if (from == to) return success();
    const std::string what = "rename " + from + " to " + to + in();
    auto ifr = makeIfreq(from);
    if (!ifr) return ifr.error();
    char new_name[IFNAMSIZ];
    auto copied = copyIfName(new_name, to);
    if (!copied) return std::move(copied).withContext(what).error();
    ifr->ifr_data = new_name;  // copyinstr'd by the kernel
    auto r = ioctlOrError(s_.local.get(), SIOCSIFNAME, &*ifr, what);
    if (!r && r.error().code == EEXIST)
      return Error{EEXIST, what + ": an interface named " + to + " already exists"};
    if (!r) return noInterface(r.error());
    return success();
  }

  Result<void> setMtu(const std::string& name, uint32_t mtu) override {
    const std::string what = "set mtu " + std::to_string(mtu) + " on " + name + in();
    if (mtu > INT_MAX) return Error{EINVAL, what + ": out of range"};
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    ifr->ifr_mtu = static_cast<int>(mtu);
    auto r = ioctlOrError(s_.local.get(), SIOCSIFMTU, &*ifr, what);
    if (!r && r.error().code == EOPNOTSUPP)
      return Error{EOPNOTSUPP,
                   what +
                       ": it is a bridge member, and FreeBSD keeps members at the bridge's MTU "
                       "(set the MTU on the bridge, or before the interface joins it)"};
    if (!r) return noInterface(r.error());
    return success();
  }

  Result<void> setMac(const std::string& name, const MacAddress& mac) override {
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    ifr->ifr_addr.sa_len = 6;
    ifr->ifr_addr.sa_family = AF_LINK;
    std::memcpy(ifr->ifr_addr.sa_data, mac.bytes.data(), 6);
    auto r = ioctlOrError(s_.local.get(), SIOCSIFLLADDR, &*ifr,
                          "set mac " + mac.toString() + " on " + name + in());
    if (!r) return noInterface(r.error());
    return success();
  }

  Result<void> setDescription(const std::string& name, const std::string& text) override {
    const std::string what = "set description on " + name + in();
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    // The length counts the NUL; 0 clears the description.
    ifr->ifr_buffer.length = text.empty() ? 0 : text.size() + 1;
    ifr->ifr_buffer.buffer = text.empty() ? nullptr : const_cast<char*>(text.c_str());
    auto r = ioctlOrError(s_.local.get(), SIOCSIFDESCR, &*ifr, what);
    if (!r && r.error().code == ENAMETOOLONG)
      return Error{ENAMETOOLONG, what + ": longer than net.ifdescr_maxlen"};
    if (!r) return noInterface(r.error());
    return success();
  }

  Result<void> setUp(const std::string& name, bool up) override {
    const std::string what = std::string(up ? "bring up " : "bring down ") + name + in();
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    auto got = ioctlOrError(s_.local.get(), SIOCGIFFLAGS, &*ifr, what);
    if (!got) return noInterface(got.error());
    // Read-modify-write: the flags word is split over two shorts.
    int flags = (ifr->ifr_flags & 0xffff) | (ifr->ifr_flagshigh << 16);
    int wanted = up ? (flags | IFF_UP) : (flags & ~IFF_UP);
    if (wanted == flags) return success();
    ifr->ifr_flags = static_cast<short>(static_cast<uint16_t>(wanted & 0xffff));
    ifr->ifr_flagshigh =
        static_cast<short>(static_cast<uint16_t>((static_cast<unsigned>(wanted) >> 16) & 0xffff));
    auto set = ioctlOrError(s_.local.get(), SIOCSIFFLAGS, &*ifr, what);
    if (!set) return noInterface(set.error());
    return success();
  }

  Result<std::vector<AddressInfo>> addresses(uint32_t link_index) override {
    auto entries = reader_();
    if (!entries) return entries.error();
    return addressesOf(*entries, link_index);
  }

  Result<void> addAddress(const std::string& name, const Cidr& cidr) override {
    const std::string what = "add address " + cidr.toString() + " to " + name + in();
    // SIOCAIFADDR on an address that is already there deletes and re-adds it (routes
    // included): look first, so that a repeated hook leaves a working jail alone.
    auto entries = reader_();
    if (!entries) return entries.error();
    for (const IfEntry& e : *entries)
      if ((e.family == AF_INET || e.family == AF_INET6) && nameOf(e) == name &&
          addressOf(e) == cidr.address && e.prefix == cidr.prefix)
        return success();

    if (cidr.address.family == IpFamily::V4) {
      if (!s_.inet) return Error{EAFNOSUPPORT, what + ": this network stack has no IPv4"};
      struct in_aliasreq req;
      std::memset(&req, 0, sizeof req);
      VNETD_TRY(copyIfName(req.ifra_name, name));
      auto fill = [](struct sockaddr_in& sin, const uint8_t* bytes) {
        sin.sin_len = sizeof sin;
        sin.sin_family = AF_INET;
        std::memcpy(&sin.sin_addr, bytes, 4);
      };
      uint8_t mask[4];
      maskBytes(cidr.prefix, 4, mask);
      fill(req.ifra_addr, cidr.address.bytes.data());
      fill(req.ifra_mask, mask);
      if (cidr.prefix <= 30) {
        uint8_t broadcast[4];
        for (int i = 0; i < 4; ++i)
          broadcast[i] = static_cast<uint8_t>(cidr.address.bytes[i] | ~mask[i]);
        fill(req.ifra_broadaddr, broadcast);
      }
      auto r = ioctlOrError(s_.inet.get(), SIOCAIFADDR, &req, what);
      if (!r && r.error().code != EEXIST) return noInterface(r.error());
      return success();
    }

    if (!s_.inet6) return Error{EAFNOSUPPORT, what + ": this network stack has no IPv6"};
    struct in6_aliasreq req;
    std::memset(&req, 0, sizeof req);
    VNETD_TRY(copyIfName(req.ifra_name, name));
    req.ifra_addr.sin6_len = sizeof(struct sockaddr_in6);
    req.ifra_addr.sin6_family = AF_INET6;
    std::memcpy(&req.ifra_addr.sin6_addr, cidr.address.bytes.data(), 16);
    req.ifra_prefixmask.sin6_len = sizeof(struct sockaddr_in6);
    req.ifra_prefixmask.sin6_family = AF_INET6;
    maskBytes(cidr.prefix, 16, reinterpret_cast<uint8_t*>(&req.ifra_prefixmask.sin6_addr));
    // Static addresses: vnetd checks uniqueness itself (config validation). The kernel
    // ignores this flag for DAD (sys/netinet6/in6.c in6_update_ifa_internal); what keeps
    // the address from going TENTATIVE is the interface's ND6_IFF_NO_DAD, set by
    // enableIpv6() before vnetd adds IPv6 addresses.
    req.ifra_flags = IN6_IFF_NODAD;
    req.ifra_lifetime.ia6t_vltime = kInfiniteLifetime;
    req.ifra_lifetime.ia6t_pltime = kInfiniteLifetime;
    auto r = ioctlOrError(s_.inet6.get(), SIOCAIFADDR_IN6, &req, what);
    if (!r && r.error().code != EEXIST) return noInterface(r.error());
    return success();
  }

  // The ARP and NDP caches `arp -an` / `ndp -an` show, as a sysctl dump read in this
  // stack's vnet (lltable_read.h: the host's by the daemon, a jail's by a child attached
  // to it), decoded by lltable_decode.h, which also says what the kernel writes and why
  // unresolved entries and the interfaces' own addresses are left out. The kernel has no
  // per-interface filter for this dump (sys/net/if_llatbl.c lltable_sysctl_dumparp walks
  // every table of the family): the link is picked here.
  Result<std::vector<NeighbourInfo>> neighbours(uint32_t link_index) override {
    auto dump = neighbours_();
    if (!dump) return dump.error();  // the reader names the stack
    auto entries = decodeLltableDump(*dump);
    if (!entries) return Error{entries.error().code, entries.error().context + in()};
    return neighboursInUse(*entries, link_index);
  }

  Result<std::vector<RouteInfo>> defaultRoutes() override {
    std::vector<RouteInfo> out;
    for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
      if (family == IpFamily::V6 && !s_.inet6) continue;
      auto route = getDefaultRoute(s_.route.get(), family, where_);
      if (!route) return route.error();
      if (*route) out.push_back(**route);
    }
    return out;
  }

  Result<void> setDefaultRoute(const IpAddress& gateway) override {
    return fbsd::setDefaultRoute(s_.route.get(), gateway, where_);
  }

  Result<void> enableIpv6(const std::string& name) override {
    // `ifconfig NAME inet6 -ifdisabled no_dad`. IFDISABLED comes from the jail's rc
    // (libexec/rc/network.subr ifconfig_up: `inet6 ifdisabled` on every interface but
    // lo0 unless ipv6_activate_all_interfaces="YES") or, in newer trees, from the kernel
    // when the interface arrives in a vnet (sys/netinet6/nd6.c nd6_ifattach). NO_DAD:
    // vnetd assigns statically and checks uniqueness itself, and the per-address
    // IN6_IFF_NODAD is not honoured (sys/netinet6/in6.c in6_update_ifa_internal marks a
    // new address TENTATIVE whenever in6if_do_dad(), which only the interface's
    // ND6_IFF_NO_DAD turns off) — without it every address waits out DAD first.
    return changeNd6Flags(name, vnetd_nd6_iff_no_dad, vnetd_nd6_iff_ifdisabled, "enable IPv6 on " + name + in());
  }

  Result<bool> ipv6Enabled(const std::string& name) override {
    auto flags = nd6Flags(name, "read the IPv6 flags of " + name + in());
    if (!flags) return flags.error();
    return (*flags & vnetd_nd6_iff_ifdisabled) == 0;
  }

  // address6 = "slaac" (issue 19): `ifconfig NAME inet6 -ifdisabled accept_rtadv
  // auto_linklocal -no_radr` in one SIOCSIFINFO_IN6 (sys/netinet6/nd6.c nd6_ioctl: the
  // IFDISABLED 1->0 transition brings IPv6 up on an up link, an AUTO_LINKLOCAL 0->1
  // transition runs in6_ifattach, which forms the link-local address from the MAC).
  // sys/netinet6/nd6_rtr.c nd6_ra_input processes an RA only with ND6_IFF_ACCEPT_RTADV on
  // the receiving interface (hop limit 255, link-local source), takes its default router
  // unless ND6_IFF_NO_RADR (or the jail forwards IPv6 without net.inet6.ip6.rfc6204w3),
  // and prelist_update forms an address for prefixes with the A flag. The kernel sends no
  // router solicitation itself (rtsol(8)/rtsold(8) do, from userland): vnetd sends one
  // once the link is up (solicitRouters), so that any router on the segment answers at
  // once instead of at its next periodic RA.
  Result<void> enableAutoconf(const std::string& name) override {
    return changeNd6Flags(name, vnetd_nd6_iff_accept_rtadv | vnetd_nd6_iff_auto_linklocal,
                          vnetd_nd6_iff_ifdisabled | vnetd_nd6_iff_no_radr,
                          "enable IPv6 autoconfiguration on " + name + in());
  }

  // The router solicitation rtsol(8) would send (issue 19), sent by vnetd because the
  // kernel sends none: sys/netinet6/nd6_rtr.c has only nd6_rs_input (which ignores RSs on
  // a host that does not forward; its comment: router solicitation/advertisement is left
  // to userland), and neither in6_ifattach.c nor nd6.c sends one when a link comes up.
  // What rtsol sends, and vnetd with it (usr.sbin/rtsold/rtsol.c sendpacket, rtsold.c
  // make_packet): a raw ICMPv6 socket, type 133 code 0 with the interface's link-layer
  // address option, to ff02::2 scoped to the interface (sin6_scope_id, IPV6_PKTINFO
  // ifindex), hop limit 255. rtsol leaves the source to the kernel; vnetd names the
  // link-local address (the one the kernel would pick for ff02::2, the same scope) so that
  // the option is never sent from anything else.
  //
  // Run inside the jail (RouterSolicitor: a child attached to it), because a socket
  // belongs to the vnet it is created in. A jail's root may open the raw socket without
  // allow.raw_sockets: sys/kern/kern_jail.c prison_priv_check grants PRIV_NETINET_RAW (and
  // the other network privileges of its VIMAGE switch) to any prison with PR_VNET before
  // it reaches the allow.raw_sockets check, and sys/netinet6/raw_ip6.c rip6_attach asks
  // for exactly that privilege.
  //
  // The source must be usable: in6_selectsrc (sys/netinet6/in6_src.c, through rip6_output)
  // refuses an IPV6_PKTINFO source that is IN6_IFF_NOTREADY (tentative or duplicated) with
  // EADDRNOTAVAIL, and when choosing one itself skips such addresses — a raw socket cannot
  // send from :: either. Right after AUTO_LINKLOCAL the link-local address would be
  // TENTATIVE for the duration of DAD; it is not here because enableIpv6 (which created and
  // poststart call on slaac interfaces too, before enableAutoconf) sets ND6_IFF_NO_DAD, and
  // in6_update_ifa_internal marks a new address TENTATIVE only when in6if_do_dad(), which is
  // 0 with ND6_IFF_NO_DAD (sys/netinet6/in6.c). The SLAAC address formed later skips DAD
  // as well, like vnetd's static ones; vnetd's MACs are stable and unique per interface.
  Result<void> solicitRouters(const std::string& name) override {
    const std::string what = "send a router solicitation on " + name + in();
    if (!s_.inet6) return Error{EAFNOSUPPORT, what + ": this network stack has no IPv6"};
    return solicitor_(name);  // its errors name the interface (and the jail: runInJail)
  }

  // A bridge that sends RAs (issue 19) needs a link-local source address, and FreeBSD
  // gives if_bridge(4) none by default: sys/netinet6/nd6.c nd6_ifattach leaves
  // ND6_IFF_AUTO_LINKLOCAL off for IFT_BRIDGE whatever net.inet6.ip6.auto_linklocal says.
  // Its 0->1 transition in nd6_ioctl runs in6_ifattach, which forms fe80:: from the MAC
  // (`ifconfig bridge0 inet6 auto_linklocal -ifdisabled`). ACCEPT_RTADV stays off (also
  // nd6_ifattach's bridge default): the host must not configure itself from jails' RAs.
  Result<void> enableLinkLocal(const std::string& name) override {
    return changeNd6Flags(name, vnetd_nd6_iff_auto_linklocal, vnetd_nd6_iff_ifdisabled,
                          "enable the IPv6 link-local address of " + name + in());
  }

  Result<AutoconfState> autoconfState(const std::string& name) override {
    auto got = nd6Flags(name, "read the IPv6 flags of " + name + in());
    if (!got) return got.error();
    const uint32_t flags = *got;
    // FreeBSD has no separate per-interface autoconf switch: prefixes with the A flag of
    // accepted RAs form addresses (nd6_rtr.c prelist_update).
    AutoconfState out;
    out.accepts_ra = (flags & vnetd_nd6_iff_accept_rtadv) != 0 && (flags & vnetd_nd6_iff_ifdisabled) == 0;
    out.autoconf = out.accepts_ra;
    return out;
  }

  Result<void> loopbackUp() override {
    VNETD_TRY(setUp("lo0", true));
    // Bringing lo0 up gives it ::1 (in6_ifattach) where IPv6 exists; 127.0.0.1 is
    // always the administrator's (rc's) job, and in a fresh vnet nobody has done it yet.
    VNETD_TRY(addAddress("lo0", Cidr{IpAddress::v4(0x7f000001), 8}));
    if (s_.inet6) {
      IpAddress one;
      one.family = IpFamily::V6;
      one.bytes[15] = 1;
      VNETD_TRY(addAddress("lo0", Cidr{one, 128}));
    }
    return success();
  }

 private:
  std::string in() const { return where_.empty() ? std::string() : " in " + where_; }

  // `ifconfig NAME inet6 <set> -<clear>`: one SIOCSIFINFO_IN6 (nd6_flags.c). `what` names
  // the step in errors.
  Result<void> changeNd6Flags(const std::string& name, uint32_t set, uint32_t clear, const std::string& what) {
    if (!s_.inet6) return Error{EAFNOSUPPORT, what + ": this network stack has no IPv6"};
    char check[IFNAMSIZ];
    VNETD_TRY(copyIfName(check, name));
    if (vnetd_nd6_change_flags(s_.inet6.get(), name.c_str(), set, clear) != 0) {
      if (errno == ENXIO) return Error{ENODEV, what + ": no interface " + name};
      return errnoError(what);
    }
    return success();
  }
  // The interface's ND6 flags (SIOCGIFINFO_IN6).
  Result<uint32_t> nd6Flags(const std::string& name, const std::string& what) {
    if (!s_.inet6) return Error{EAFNOSUPPORT, what + ": this network stack has no IPv6"};
    char check[IFNAMSIZ];
    VNETD_TRY(copyIfName(check, name));
    uint32_t flags = 0;
    if (vnetd_nd6_get_flags(s_.inet6.get(), name.c_str(), &flags) != 0) {
      if (errno == ENXIO) return Error{ENODEV, what + ": no interface " + name};
      return errnoError(what);
    }
    return flags;
  }

  // SIOCSIFVNET / SIOCSIFRVNET: interface `name`, the jail by jid (ifr_jid).
  Result<void> vnetIoctl(unsigned long request, const std::string& name, const JailInfo& jail,
                         const std::string& what) {
    if (!jail.own_stack) return noOwnVnet(jail);
    if (jail.id <= 0 || jail.id > INT_MAX)
      return plainError(what + ": invalid jid " + std::to_string(jail.id));
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    ifr->ifr_jid = static_cast<int>(jail.id);
    return ioctlOrError(s_.local.get(), request, &*ifr, what);
  }

  Error noOwnVnet(const JailInfo& jail) const {
    return Error{EINVAL, "jail " + jail.name + " has no own vnet (add `vnet;` to its jail.conf)"};
  }

  // pair_steps.h's primitives, as this stack's ioctls.
  class Primitives final : public PairPrimitives {
   public:
    Primitives(FreeBsdNetStack& stack, std::string what)
        : stack_(stack), what_(std::move(what)) {}
    Result<std::string> clonePair() override { return stack_.cloneCreate("epair", nullptr, what_); }
    Result<void> setDescription(const std::string& name, const std::string& text) override {
      return stack_.setDescription(name, text);
    }
    Result<void> setMac(const std::string& name, const MacAddress& mac) override {
      return stack_.setMac(name, mac);
    }
    Result<void> setMtu(const std::string& name, uint32_t mtu) override {
      return stack_.setMtu(name, mtu);
    }
    Result<void> rename(const std::string& from, const std::string& to) override {
      return stack_.rename(from, to);
    }
    Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                                 bool private_member) override {
      return stack_.addBridgeMember(bridge, member, private_member);
    }
    Result<void> moveToJail(const std::string& name, const JailInfo& jail) override {
      return stack_.moveToJail(name, jail);
    }
    Result<void> setUp(const std::string& name) override { return stack_.setUp(name, true); }
    Result<void> destroy(const std::string& name) override { return stack_.destroyLink(name); }

   private:
    FreeBsdNetStack& stack_;
    std::string what_;
  };

  Result<uint32_t> indexOf(const std::string& name) {
    auto ifr = makeIfreq(name);
    if (!ifr) return ifr.error();
    auto r = ioctlOrError(s_.local.get(), SIOCGIFINDEX, &*ifr, "look up interface " + name + in());
    if (!r) return noInterface(r.error());
    return static_cast<uint32_t>(static_cast<uint16_t>(ifr->ifr_index));
  }

  Result<std::string> cloneCreate(const char* cloner, void* params, const std::string& what) {
    auto ifr = makeIfreq(cloner);
    if (!ifr) return ifr.error();
    ifr->ifr_data = static_cast<caddr_t>(params);
    auto r = ioctlOrError(s_.local.get(), SIOCIFCREATE2, &*ifr, what + in());
    if (!r) {
      if (r.error().code == EINVAL && params == nullptr)
        return Error{EINVAL,
                     what + in() + ": no " + cloner + " cloner (kldload if_" + cloner + ")"};
      return r.error();
    }
    return ifNameOf(ifr->ifr_name);
  }

  // SIOCSDRVSPEC / SIOCGDRVSPEC towards if_bridge. `len` must be the exact argument size.
  Result<void> drvspec(const std::string& bridge, unsigned long cmd, void* arg, size_t len,
                       bool get, const std::string& what) {
    char check[IFNAMSIZ];
    VNETD_TRY(copyIfName(check, bridge));
    IfdrvImage image = encodeIfdrv(bridge, cmd, len, arg);
    struct ifdrv ifd;
    std::memcpy(&ifd, image.data(), sizeof ifd);
    auto r = ioctlOrError(s_.local.get(), get ? SIOCGDRVSPEC : SIOCSDRVSPEC, &ifd, what);
    if (!r && r.error().code == ENXIO) return Error{ENODEV, what + ": no bridge " + bridge};
    return r;
  }

  // BRDGSIFFLGS replaces all member flags: read, change PRIVATE, write back.
  Result<void> setPrivate(const std::string& bridge, const std::string& member, bool on) {
    const std::string what =
        std::string(on ? "make " : "unmake ") + member + " a private member of " + bridge + in();
    IfbreqImage req = encodeIfbreq(member);
    VNETD_TRY(drvspec(bridge, kBrdgGifflgs, req.data(), req.size(), true, what));
    uint32_t flags = ifbreqFlags(req);
    uint32_t wanted = withPrivate(flags, on);
    if (wanted == flags) return success();
    IfbreqImage set = encodeIfbreq(member, wanted);
    return drvspec(bridge, kBrdgSifflgs, set.data(), set.size(), false, what);
  }

  // Names of a bridge's members (span ports excluded).
  Result<std::vector<std::string>> bridgeMembers(const std::string& bridge) {
    const std::string what = "list members of bridge " + bridge + in();
    struct ifbifconf bifc;
    std::memset(&bifc, 0, sizeof bifc);
    VNETD_TRY(
        drvspec(bridge, kBrdgGifs, &bifc, sizeof bifc, true, what));  // ifbic_len 0: size probe
    size_t capacity = bifc.ifbic_len / sizeof(struct ifbreq) + 4;
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
      std::vector<struct ifbreq> reqs(capacity);
      std::memset(reqs.data(), 0, reqs.size() * sizeof(struct ifbreq));
      bifc.ifbic_len = static_cast<uint32_t>(reqs.size() * sizeof(struct ifbreq));
      bifc.ifbic_req = reqs.data();
      VNETD_TRY(drvspec(bridge, kBrdgGifs, &bifc, sizeof bifc, true, what));
      size_t count = bifc.ifbic_len / sizeof(struct ifbreq);
      if (count >= capacity) {  // filled to the brim: there may be more
        capacity *= 2;
        continue;
      }
      std::vector<std::string> out;
      for (size_t i = 0; i < count; ++i)
        if ((reqs[i].ifbr_ifsflags & IFBIF_SPAN) == 0)
          out.push_back(ifNameOf(reqs[i].ifbr_ifsname));
      return out;
    }
    return Error{EAGAIN, what + ": membership kept changing"};
  }

  // Members of an interface group; empty when the group does not exist.
  Result<std::set<std::string>> groupMembers(const char* group) {
    const std::string what = std::string("list interface group ") + group + in();
    struct ifgroupreq ifgr;
    std::memset(&ifgr, 0, sizeof ifgr);
    std::strncpy(ifgr.ifgr_name, group, IFNAMSIZ - 1);
    auto probe = ioctlOrError(s_.local.get(), SIOCGIFGMEMB, &ifgr, what);
    if (!probe) {
      if (probe.error().code == ENOENT) return std::set<std::string>();
      return probe.error();
    }
    size_t capacity = ifgr.ifgr_len / sizeof(struct ifg_req) + 4;
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
      // The kernel does not say how many it wrote: zeroed entries mark the end.
      std::vector<struct ifg_req> reqs(capacity);
      std::memset(reqs.data(), 0, reqs.size() * sizeof(struct ifg_req));
      ifgr.ifgr_len = static_cast<u_int>(reqs.size() * sizeof(struct ifg_req));
      ifgr.ifgr_groups = reqs.data();
      auto r = ioctlOrError(s_.local.get(), SIOCGIFGMEMB, &ifgr, what);
      if (!r) {
        if (r.error().code == ENOENT) return std::set<std::string>();  // last member left
        if (r.error().code == EINVAL) {                                // more members than room
          capacity *= 2;
          continue;
        }
        return r.error();
      }
      std::set<std::string> out;
      for (const auto& req : reqs) {
        if (req.ifgrq_member[0] == '\0') break;
        out.insert(ifNameOf(req.ifgrq_member));
      }
      return out;
    }
    return Error{EAGAIN, what + ": membership kept changing"};
  }

  // The interface's description; "" when it has none or vanished meanwhile.
  Result<std::string> description(const std::string& name) {
    std::vector<char> buf(kInitialDescription);
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
      auto ifr = makeIfreq(name);
      if (!ifr) return ifr.error();
      ifr->ifr_buffer.length = buf.size();
      ifr->ifr_buffer.buffer = buf.data();
      auto r =
          ioctlOrError(s_.local.get(), SIOCGIFDESCR, &*ifr, "read description of " + name + in());
      if (!r) {
        if (r.error().code == ENOMSG || r.error().code == ENXIO) return std::string();
        return r.error();
      }
      if (ifr->ifr_buffer.buffer == nullptr) {  // too small: the kernel says how much it needs
        buf.resize(std::max(ifr->ifr_buffer.length, buf.size() * 2));
        continue;
      }
      size_t len = std::min(buf.size(), ifr->ifr_buffer.length);
      return std::string(buf.data(), strnlen(buf.data(), len));
    }
    return Error{EAGAIN, "read description of " + name + in() + ": it kept growing"};
  }

  // LinkInfos from one snapshot (all links, or only `only`), with kind, description and
  // bridge membership filled in by a few ioctls.
  Result<std::vector<LinkInfo>> buildLinks(const std::vector<IfEntry>& entries,
                                           const std::string* only) {
    std::vector<LinkInfo> out;
    std::map<std::string, size_t> position;
    std::vector<std::pair<std::string, uint32_t>> bridges;
    for (const IfEntry& e : entries) {
      if (e.family != AF_LINK) continue;
      std::string name = nameOf(e);
      uint8_t type = e.has_data ? e.data.ifi_type : 0;
      if (type == IFT_BRIDGE) bridges.emplace_back(name, e.index);
      if (only && name != *only) continue;
      if (position.count(name)) continue;  // one AF_LINK entry per interface; be defensive
      LinkInfo l;
      l.index = e.index;
      l.name = name;
      if (e.mac_len == 6) std::memcpy(l.mac.bytes.data(), e.mac, 6);
      l.admin_up = (e.flags & IFF_UP) != 0;
      switch (type) {
        case IFT_BRIDGE: l.kind = LinkKind::Bridge; break;
        case IFT_L2VLAN: l.kind = LinkKind::Vlan; break;
        case IFT_LOOP: l.kind = LinkKind::Loopback; break;
        default: l.kind = LinkKind::Other; break;
      }
      if (e.has_data) {
        const struct if_data& d = e.data;
        l.mtu = d.ifi_mtu;
        // Drivers without link detection (lo0) leave the state unknown; then RUNNING is
        // the best answer there is.
        l.running = d.ifi_link_state == LINK_STATE_UP ||
                    (d.ifi_link_state == LINK_STATE_UNKNOWN && (e.flags & IFF_RUNNING) != 0);
        l.counters.rx_bytes = d.ifi_ibytes;
        l.counters.rx_packets = d.ifi_ipackets;
        l.counters.rx_errors = d.ifi_ierrors;
        l.counters.rx_dropped = d.ifi_iqdrops;
        l.counters.tx_bytes = d.ifi_obytes;
        l.counters.tx_packets = d.ifi_opackets;
        l.counters.tx_errors = d.ifi_oerrors;
        l.counters.tx_dropped = d.ifi_oqdrops;
      } else {
        l.running = (e.flags & IFF_RUNNING) != 0;
      }
      position[name] = out.size();
      out.push_back(std::move(l));
    }
    if (out.empty()) return out;

    auto pairs = groupMembers(kPairGroup);
    if (!pairs) return pairs.error();
    for (LinkInfo& l : out)
      if (l.kind == LinkKind::Other && pairs->count(l.name)) l.kind = LinkKind::Pair;

    for (LinkInfo& l : out) {
      auto d = description(l.name);
      if (!d) return d.error();
      l.description = std::move(*d);
    }

    for (const auto& [bridge, index] : bridges) {
      auto members = bridgeMembers(bridge);
      if (!members) {
        if (members.error().code == ENODEV) continue;  // destroyed since the snapshot
        return members.error();
      }
      for (const std::string& m : *members)
        if (auto it = position.find(m); it != position.end()) out[it->second].master_index = index;
    }
    return out;
  }

  std::vector<AddressInfo> addressesOf(const std::vector<IfEntry>& entries, uint32_t link_index) {
    std::map<std::string, uint32_t> index_of;
    for (const IfEntry& e : entries)
      if (e.family == AF_LINK) index_of.emplace(nameOf(e), e.index);
    std::vector<AddressInfo> out;
    for (const IfEntry& e : entries) {
      if (e.family != AF_INET && e.family != AF_INET6) continue;
      auto it = index_of.find(nameOf(e));
      if (it == index_of.end()) continue;
      if (link_index != 0 && it->second != link_index) continue;
      out.push_back(AddressInfo{it->second, Cidr{addressOf(e), e.prefix}});
    }
    return out;
  }

  StackSockets s_;
  InterfaceReader reader_;
  NeighbourReader neighbours_;
  RouterSolicitor solicitor_;
  std::string where_;
};

}  // namespace

Result<StackSockets> openStackSockets() {
  StackSockets s;
  s.local.reset(::socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.local) return errnoError("create interface ioctl socket (AF_LOCAL)");
  s.route.reset(::socket(PF_ROUTE, SOCK_RAW | SOCK_CLOEXEC, AF_UNSPEC));
  if (!s.route) return errnoError("create routing socket");
  // Address families compiled out of the kernel are not an error until they are used.
  s.inet.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.inet && errno != EAFNOSUPPORT && errno != EPROTONOSUPPORT)
    return errnoError("create AF_INET socket");
  s.inet6.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.inet6 && errno != EAFNOSUPPORT && errno != EPROTONOSUPPORT)
    return errnoError("create AF_INET6 socket");
  return s;
}

Result<void> solicitRoutersHere(const std::string& ifname) {
  auto entries = readInterfaces();
  if (!entries) return entries.error();
  for (const IfEntry& e : *entries) {
    if (e.family != AF_LINK || nameOf(e) != ifname) continue;
    if (e.mac_len != 6)
      return Error{EOPNOTSUPP, "send a router solicitation on " + ifname + ": not an Ethernet interface"};
    MacAddress mac;
    std::memcpy(mac.bytes.data(), e.mac, 6);
    return sendRouterSolicitation(ifname, mac);
  }
  return Error{ENODEV, "send a router solicitation on " + ifname + ": no such interface"};
}

std::unique_ptr<NetStack> makeNetStack(StackSockets sockets, InterfaceReader reader,
                                       NeighbourReader neighbours, RouterSolicitor solicitor,
                                       std::string where) {
  return std::unique_ptr<NetStack>(new FreeBsdNetStack(std::move(sockets), std::move(reader),
                                                       std::move(neighbours), std::move(solicitor),
                                                       std::move(where)));
}

}  // namespace fbsd

Result<std::unique_ptr<NetStack>> openHostStack() {
  auto sockets = fbsd::openStackSockets();
  if (!sockets) return sockets.error();
  return fbsd::makeNetStack(std::move(*sockets), fbsd::readInterfaces, fbsd::readNeighbourDump,
                            fbsd::solicitRoutersHere, "");
}

}  // namespace vnetd::platform
