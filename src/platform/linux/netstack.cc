// NetStack over rtnetlink (libmnl). One instance per network stack: the host's, or a
// jail's (namespace), depending on where its netlink socket was created.
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <linux/if.h>
#include <fcntl.h>
#include <cstdlib>
#include <string_view>
#include <unistd.h>

#include <deque>

#include "platform/linux/link_table.h"
#include "platform/linux/netlink.h"
#include "platform/linux/netns.h"
#include "platform/linux/rtnl_decode.h"
#include "platform/netif.h"

namespace vnetd::platform {

namespace lnx {
namespace {

constexpr uint16_t kCreate = NLM_F_CREATE | NLM_F_EXCL;
// Room for the link notifications that pile up between two polls (a jail start sends a
// few per interface); an overflow costs one full dump, nothing else.
constexpr int kNotificationBuffer = 4 << 20;

ifinfomsg* linkHeader(MessageBuilder& m, int index = 0) {
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return ifi;
}

int familyOf(const IpAddress& a) { return a.family == IpFamily::V4 ? AF_INET : AF_INET6; }

class LinuxNetStack final : public NetStack {
 public:
  LinuxNetStack(NetlinkSocket sock, UniqueFd ns) : sock_(std::move(sock)), ns_(std::move(ns)) {}

  Result<std::vector<LinkInfo>> links() override {
    MessageBuilder m(RTM_GETLINK, 0);
    linkHeader(m);
    // Counters come with every link in the same dump (IFLA_STATS64): one kernel walk.
    std::vector<LinkInfo> out;
    VNETD_TRY(dumpDecoded(m, "list interfaces", RTM_NEWLINK, decodeLinkMessage,
                          [&](LinkMessage link) { out.push_back(std::move(link.info)); }));
    return out;
  }

  Result<std::vector<LinkInfo>> pollLinks() override {
    if (!notifications_) {
      // Subscribe before the first full dump: a change in between arrives as a
      // notification and is applied after it (each carries the link's whole state).
      auto sock = NetlinkSocket::open(NETLINK_ROUTE);
      if (!sock) return sock.error();
      VNETD_TRY(sock->joinGroup(RTNLGRP_LINK));
      VNETD_TRY(sock->dropBridgePortNotifications());  // LinkTable::apply ignores them
      sock->setReceiveBuffer(kNotificationBuffer);
      notifications_ = std::move(*sock);
      table_.requestResync();
    }
    bool overflow = false;
    VNETD_TRY(readPendingDatagrams(notifications_->fd(), "read link notifications", overflow,
                                   [&](std::span<const std::byte> d) { table_.apply(d); }));
    if (overflow) table_.requestResync();
    if (!table_.needsResync()) {
      auto counters = linkCounters();
      if (!counters) return counters.error();
      if (auto merged = table_.withCounters(*counters)) return std::move(*merged);
    }
    auto all = links();
    if (!all) return all.error();
    table_.reset(*all);
    return all;
  }

  Result<std::vector<LinkInfo>> currentLinks() override {
    if (!notifications_) return links();  // not following: a one-shot caller dumps
    bool overflow = false;
    VNETD_TRY(readPendingDatagrams(notifications_->fd(), "read link notifications", overflow,
                                   [&](std::span<const std::byte> d) { table_.apply(d); }));
    if (overflow) table_.requestResync();
    // This stack's own changes are in the table already: the kernel queues a change's
    // notification (rtnl_notify) before it acks the request that made it.
    if (!table_.needsResync()) return table_.links();
    auto all = links();
    if (!all) return all.error();
    table_.reset(*all);
    return all;
  }

  Result<std::optional<LinkInfo>> currentLink(const std::string& name) override {
    // Following the link notifications (the daemon's stacks): answered from the table, no
    // round trip (each query takes the RTNL lock). It is as current as a query: every
    // change acknowledged before this call, by this process or any other, queued its
    // notification before its ack (rtnl_notify in the request's own processing,
    // net/core/rtnetlink.c), and the drain below reads them all. Two exceptions, hence
    // "no counters": they are those of the link's last notification, and a query first
    // runs the kernel's pending carrier work for the link (rtnl_getlink ->
    // linkwatch_sync_dev) where the table sees a carrier change when its notification
    // comes — no hook reads either.
    if (notifications_) {
      bool overflow = false;
      VNETD_TRY(readPendingDatagrams(notifications_->fd(), "read link notifications", overflow,
                                     [&](std::span<const std::byte> d) { table_.apply(d); }));
      if (overflow) table_.requestResync();
      if (!table_.needsResync()) return table_.find(name);
    }
    return link(name);
  }

  Result<std::optional<LinkInfo>> link(const std::string& name) override {
    MessageBuilder m(RTM_GETLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    auto reply = sock_.query(m, "look up interface " + name);
    if (!reply) {
      if (reply.error().code == ENODEV) return std::optional<LinkInfo>();
      return reply.error();
    }
    auto link = decodeLinkMessage(*reply);
    if (!link) return link.error();
    return std::optional<LinkInfo>(std::move(link->info));
  }

  Result<void> createPair(const PairSpec& spec) override {
    uint32_t bridge_index = spec.bridge_index;
    if (!spec.bridge.empty() && !bridge_index) {
      auto idx = indexOf(spec.bridge);
      if (!idx) return std::move(idx).withContext("create pair " + spec.host_name).error();
      bridge_index = *idx;
    }
    UniqueFd ns;
    if (spec.peer_in_jail) {
      auto fd = openNamespace(*spec.peer_in_jail);
      if (!fd) return fd.error();
      ns = std::move(*fd);
    }
    // One message creates both ends: host side already enslaved to the bridge (but still
    // down), jail side created directly in the jail's namespace when it exists.
    MessageBuilder m(RTM_NEWLINK, kCreate);
    linkHeader(m);
    m.putString(IFLA_IFNAME, spec.host_name);
    m.putBytes(IFLA_ADDRESS, spec.host_mac.bytes.data(), 6);
    if (spec.mtu) m.putU32(IFLA_MTU, *spec.mtu);
    if (bridge_index) m.putU32(IFLA_MASTER, bridge_index);
    nlattr* info = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "veth");
    nlattr* data = m.nestStart(IFLA_INFO_DATA);
    nlattr* peer = m.nestStart(VETH_INFO_PEER);
    if (auto* pi = m.putRaw<ifinfomsg>()) pi->ifi_family = AF_UNSPEC;
    m.putString(IFLA_IFNAME, spec.jail_name);
    m.putBytes(IFLA_ADDRESS, spec.jail_mac.bytes.data(), 6);
    if (spec.mtu) m.putU32(IFLA_MTU, *spec.mtu);
    if (ns) m.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(ns.get()));
    m.nestEnd(peer);
    m.nestEnd(data);
    m.nestEnd(info);
    VNETD_TRY(sock_.request(m, "create pair " + spec.host_name + "/" + spec.jail_name));

    // From here on a failure must not leave half a pair behind.
    auto finish = [&]() -> Result<void> {
      if (!spec.description.empty() && !ns) VNETD_TRY(setDescription(spec.jail_name, spec.description));
      // The host side's remaining steps in one request, after the creation (never sent
      // along with it: had the creation failed on a name taken, a request by name would
      // change the other interface). The alias cannot come with the creation itself:
      // rtnl_create_link takes no IFLA_IFALIAS; only do_setlink does.
      return finishHostSide(spec.host_name, spec.description, spec.private_member && bridge_index);
    };
    auto r = finish();
    if (!r) {
      (void)destroyLink(spec.host_name);  // either end destroys both
      return r;
    }
    return success();
  }

  Result<void> createBridge(const std::string& name, std::optional<uint32_t> mtu) override {
    MessageBuilder m(RTM_NEWLINK, kCreate);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    nlattr* info = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "bridge");
    m.nestEnd(info);
    VNETD_TRY(sock_.request(m, "create bridge " + name));
    // Set the MTU through the device (not at creation) so the bridge keeps it as chosen
    // by the administrator instead of following its smallest member.
    if (mtu) {
      auto r = setMtu(name, *mtu);
      if (!r) {
        (void)destroyLink(name);
        return r;
      }
    }
    return success();
  }

  Result<void> createVlan(const std::string& name, const std::string& parent, uint16_t tag) override {
    auto parent_index = indexOf(parent);
    if (!parent_index) return std::move(parent_index).withContext("create vlan " + name).error();
    MessageBuilder m(RTM_NEWLINK, kCreate);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    m.putU32(IFLA_LINK, *parent_index);
    nlattr* info = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_KIND, "vlan");
    nlattr* data = m.nestStart(IFLA_INFO_DATA);
    uint16_t id = tag;
    m.putBytes(IFLA_VLAN_ID, &id, sizeof id);
    uint16_t proto = htons(0x8100);
    m.putBytes(IFLA_VLAN_PROTOCOL, &proto, sizeof proto);
    m.nestEnd(data);
    m.nestEnd(info);
    return sock_.request(m, "create vlan " + name + " (tag " + std::to_string(tag) + " on " + parent + ")");
  }

  Result<void> destroyLink(const std::string& name) override {
    MessageBuilder m(RTM_DELLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    return sock_.request(m, "destroy " + name);
  }

  Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                               bool private_member) override {
    auto idx = indexOf(bridge);
    if (!idx) return idx.error();
    VNETD_TRY(setLinkU32(member, IFLA_MASTER, *idx, "add " + member + " to bridge " + bridge));
    if (private_member) VNETD_TRY(setIsolated(member, true));
    return success();
  }

  Result<void> moveToJail(const std::string& name, const JailInfo& jail) override {
    auto ns = openNamespace(jail);
    if (!ns) return ns.error();
    return setLinkU32(name, IFLA_NET_NS_FD, static_cast<uint32_t>(ns->get()),
                      "move " + name + " into jail " + jail.name);
  }

  Result<void> reclaimFromJail(const std::string& name, const JailInfo& jail) override {
    const std::string what = "take " + name + " back from jail " + jail.name;
    auto jail_ns = openNamespace(jail);
    if (!jail_ns) return std::move(jail_ns).withContext(what).error();
    auto fd = createSocketInNamespace(jail_ns->get(), AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (!fd) return std::move(fd).withContext(what).error();
    auto inside = NetlinkSocket::adopt(std::move(*fd));
    if (!inside) return inside.error();
    // The destination is this stack's namespace: a jail stack's own, or the caller's.
    UniqueFd own;
    int here = ns_.get();
    if (!ns_) {
      own.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!own) return errnoError(what + ": open /proc/self/ns/net");
      here = own.get();
    }
    // Looked up by name inside the namespace (ENODEV when it is not there); the kernel
    // refuses with EEXIST when this stack already has a link of that name.
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    m.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(here));
    return inside->request(m, what);
  }

  Result<void> rename(const std::string& from, const std::string& to) override {
    auto idx = indexOf(from);
    if (!idx) return idx.error();
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m, static_cast<int>(*idx));
    m.putString(IFLA_IFNAME, to);
    return sock_.request(m, "rename " + from + " to " + to);
  }

  Result<void> setMtu(const std::string& name, uint32_t mtu) override {
    return setLinkU32(name, IFLA_MTU, mtu, "set mtu " + std::to_string(mtu) + " on " + name);
  }

  Result<void> setMac(const std::string& name, const MacAddress& mac) override {
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    m.putBytes(IFLA_ADDRESS, mac.bytes.data(), 6);
    return sock_.request(m, "set mac " + mac.toString() + " on " + name);
  }

  Result<void> setDescription(const std::string& name, const std::string& text) override {
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    m.putString(IFLA_IFALIAS, text);
    return sock_.request(m, "set description on " + name);
  }

  Result<void> describeAndBringUp(const std::string& name, const std::string& text) override {
    MessageBuilder m(RTM_NEWLINK, 0);
    return sock_.request(describeAndUpMessage(m, name, text), "describe and bring up " + name);
  }

  Result<void> setUp(const std::string& name, bool up) override {
    MessageBuilder m(RTM_NEWLINK, 0);
    return sock_.request(upMessage(m, name, up), std::string(up ? "bring up " : "bring down ") + name);
  }

  // The steps of `created` as one batch: the messages the single calls send, in their
  // order, in one sendmsg (NetlinkSocket::requestBatch). Measured on the bench's jails:
  // four round trips of ~0.08 ms each become one.
  Result<void> configureJailSide(const JailSideSetup& setup) override {
    std::deque<MessageBuilder> messages;  // never moved: each points into its own buffer
    std::vector<NetlinkSocket::Batched> batch;
    for (const JailSideInterface& i : setup.interfaces) {
      uint32_t index = i.index;
      if (!index && !i.addresses.empty()) {
        auto idx = indexOf(i.name);
        if (!idx) return idx.error();
        index = *idx;
      }
      for (const Cidr& c : i.addresses)
        batch.push_back({&addressMessage(messages.emplace_back(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE), index, c),
                         "add address " + c.toString() + " to " + i.name});
      batch.push_back({&describeAndUpMessage(messages.emplace_back(RTM_NEWLINK, 0), i.name, i.description),
                       "describe and bring up " + i.name});
    }
    batch.push_back({&upMessage(messages.emplace_back(RTM_NEWLINK, 0), "lo", true), "bring up lo"});
    for (const IpAddress& gateway : setup.default_routes)
      batch.push_back({&defaultRouteMessage(messages.emplace_back(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE), gateway),
                       "set default route via " + gateway.toString()});
    return sock_.requestBatch(batch);
  }

  Result<std::vector<AddressInfo>> addresses(uint32_t link_index) override {
    MessageBuilder m(RTM_GETADDR, 0);
    auto* ifa = m.putHeader<ifaddrmsg>();
    ifa->ifa_family = AF_UNSPEC;
    // With NETLINK_GET_STRICT_CHK (set on every socket) the kernel filters by index, so
    // a host with thousands of interfaces does not dump all their addresses.
    ifa->ifa_index = link_index;
    std::vector<AddressInfo> out;
    VNETD_TRY(dumpDecoded(m, "list addresses", RTM_NEWADDR, decodeAddrMessage, [&](const AddrMessage& a) {
      // Kernels without strict checking ignore the index filter: filter here as well.
      if (link_index == 0 || a.address.link_index == link_index) out.push_back(a.address);
    }));
    return out;
  }

  Result<void> addAddress(const std::string& name, const Cidr& cidr) override {
    auto idx = indexOf(name);
    if (!idx) return idx.error();
    return addAddressAt(*idx, name, cidr);
  }

  Result<void> addAddressAt(uint32_t index, const std::string& name, const Cidr& cidr) override {
    if (index == 0) return addAddress(name, cidr);
    // NLM_F_REPLACE makes a repeated add succeed: the hooks must be idempotent.
    MessageBuilder m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
    return sock_.request(addressMessage(m, index, cidr), "add address " + cidr.toString() + " to " + name);
  }

  Result<std::vector<NeighbourInfo>> neighbours(uint32_t link_index) override {
    std::vector<NeighbourInfo> out;
    // One dump for both families: neigh_dump_info (net/core/neighbour.c, registered for
    // PF_UNSPEC) walks every neighbour table whose family matches, and AF_UNSPEC matches
    // ARP's and NDP's alike — what `ip neigh show` asks for.
    {
      MessageBuilder m(RTM_GETNEIGH, 0);
      auto* ndm = m.putHeader<ndmsg>();
      ndm->ndm_family = AF_UNSPEC;
      // A strict dump request keeps pads, state and type zero and filters by the NDA_IFINDEX
      // attribute, not by ndm_ifindex (net/core/neighbour.c neigh_valid_dump_req).
      if (link_index != 0) m.putU32(NDA_IFINDEX, link_index);
      // Only ARP's and NDP's tables exist to match; any other family is skipped, not an error.
      auto ip_family = [](std::span<const std::byte> msg) -> Result<NeighbourMessage> {
        if (msg.size() >= NLMSG_HDRLEN + sizeof(ndmsg)) {
          uint8_t family = static_cast<uint8_t>(msg[NLMSG_HDRLEN]);
          if (family != AF_INET && family != AF_INET6) return NeighbourMessage{};
        }
        return decodeNeighbourMessage(msg);
      };
      VNETD_TRY(dumpDecoded(m, "list neighbours", RTM_NEWNEIGH, ip_family,
                            [&](const NeighbourMessage& n) {
                              if (n.neighbour.link_index == 0) return;  // skipped above
                              // Kernels without strict checking ignore the filter: filter here too.
                              if (link_index != 0 && n.neighbour.link_index != link_index) return;
                              if (neighbourInUse(n)) out.push_back(n.neighbour);
                            }));
    }
    return out;
  }

  Result<std::vector<RouteInfo>> defaultRoutes() override {
    std::vector<RouteInfo> out;
    for (int family : {AF_INET, AF_INET6}) {
      MessageBuilder m(RTM_GETROUTE, 0);
      auto* rtm = m.putHeader<rtmsg>();
      rtm->rtm_family = static_cast<uint8_t>(family);
      auto r = sock_.dump(m, "list routes", [&](std::span<const std::byte> msg) {
        if (messageType(msg) != RTM_NEWROUTE) return;
        auto route = decodeRouteMessage(msg);
        if (route && route->table == RT_TABLE_MAIN && route->route.destination.prefix == 0 &&
            route->type == RTN_UNICAST)
          out.push_back(route->route);
      });
      if (!r) return r.error();
    }
    return out;
  }

  Result<void> setDefaultRoute(const IpAddress& gateway) override {
    MessageBuilder m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
    return sock_.request(defaultRouteMessage(m, gateway), "set default route via " + gateway.toString());
  }

  Result<void> loopbackUp() override { return setUp("lo", true); }

  Result<void> enableIpv6(const std::string& name) override {
    const std::string what = "enable IPv6 on " + name;
    auto f = openIpv6Switch(name, O_WRONLY, what);
    if (!f) return f.error();
    if (::write(f->get(), "0\n", 2) != 2) return errnoError(what);
    return success();
  }

  // address6 = "slaac" (issue 19). The per-link sysctls of the stack's namespace:
  // accept_ra = 2 accepts RAs even if the jail turns forwarding on later (1 would then
  // silently stop: include/net/ipv6.h ipv6_accept_ra), autoconf = 1 forms addresses from
  // prefixes with the A flag (net/ipv6/addrconf.c addrconf_prefix_rcv). These two are
  // sysctls only: netlink sets no per-link IPv6 configuration but the address generation
  // mode and the token (net/ipv6/addrconf.c inet6_af_policy). The interface identifier is
  // the MAC's EUI-64 (IN6_ADDR_GEN_MODE_EUI64, by netlink: inet6_set_link_af) — the
  // default, but a stable_secret or another addr_gen_mode default in the jail would
  // otherwise change it, and vnetd promises addresses from the stable MAC.
  Result<void> enableAutoconf(const std::string& name) override {
    const std::string what = "enable IPv6 autoconfiguration on " + name;
    VNETD_TRY(writeIpv6Conf(name, "accept_ra", "2\n", what));
    VNETD_TRY(writeIpv6Conf(name, "autoconf", "1\n", what));
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    nlattr* spec = m.nestStart(IFLA_AF_SPEC);
    nlattr* inet6 = m.nestStart(AF_INET6);
    m.putU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_EUI64);
    m.nestEnd(inet6);
    m.nestEnd(spec);
    return sock_.request(m, what + " (addr_gen_mode eui64)");
  }

  // The kernel solicits routers itself: net/ipv6/addrconf.c addrconf_dad_completed sends
  // the first RS (ndisc_send_rs, from the then non-tentative link-local address) when the
  // link accepts RAs (ipv6_accept_ra: accept_ra, which enableAutoconf set) and
  // rtr_solicits != 0; addrconf_rs_timer repeats it until an RA arrives.
  Result<void> solicitRouters(const std::string&) override { return success(); }

  // Linux forms a link's link-local address by itself once it has carrier (a bridge:
  // once a port is up; net/ipv6/addrconf.c addrconf_notify NETDEV_CHANGE), after DAD.
  Result<void> enableLinkLocal(const std::string&) override { return success(); }

  Result<AutoconfState> autoconfState(const std::string& name) override {
    const std::string what = "read IPv6 autoconfiguration of " + name;
    auto accept_ra = readIpv6Conf(name, "accept_ra", what);
    if (!accept_ra) return accept_ra.error();
    auto autoconf = readIpv6Conf(name, "autoconf", what);
    if (!autoconf) return autoconf.error();
    auto forwarding = readIpv6Conf(name, "forwarding", what);
    if (!forwarding) return forwarding.error();
    // include/net/ipv6.h ipv6_accept_ra: 1 only while the link does not forward.
    AutoconfState out;
    out.accepts_ra = *accept_ra == 2 || (*accept_ra == 1 && *forwarding == 0);
    out.autoconf = *autoconf != 0;
    return out;
  }

  Result<bool> ipv6Enabled(const std::string& name) override {
    const std::string what = "read whether IPv6 is on for " + name;
    auto f = openIpv6Switch(name, O_RDONLY, what);
    if (!f) return f.error();
    char c = 0;
    if (::read(f->get(), &c, 1) != 1) return errnoError(what);
    return c == '0';
  }

 private:
  // The messages of the single calls above, also batched by configureJailSide. Each fills
  // a builder made with the type and flags named in its comment and returns it.
  // RTM_NEWLINK, 0: the alias, then IFF_UP (do_setlink applies them in that order).
  static MessageBuilder& describeAndUpMessage(MessageBuilder& m, const std::string& name, const std::string& text) {
    auto* ifi = linkHeader(m);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = IFF_UP;
    m.putString(IFLA_IFNAME, name);
    m.putString(IFLA_IFALIAS, text);
    return m;
  }
  // RTM_NEWLINK, 0.
  static MessageBuilder& upMessage(MessageBuilder& m, const std::string& name, bool up) {
    auto* ifi = linkHeader(m);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
    m.putString(IFLA_IFNAME, name);
    return m;
  }
  // RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE.
  static MessageBuilder& addressMessage(MessageBuilder& m, uint32_t index, const Cidr& cidr) {
    auto* ifa = m.putHeader<ifaddrmsg>();
    ifa->ifa_family = static_cast<uint8_t>(familyOf(cidr.address));
    ifa->ifa_prefixlen = cidr.prefix;
    ifa->ifa_index = index;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    m.putBytes(IFA_LOCAL, cidr.address.bytes.data(), cidr.address.length());
    m.putBytes(IFA_ADDRESS, cidr.address.bytes.data(), cidr.address.length());
    if (cidr.address.family == IpFamily::V6) {
      // vnetd assigns statically and checks uniqueness itself (config validation); DAD
      // would only keep the address "tentative" for a second after the jail starts.
      m.putU32(IFA_FLAGS, IFA_F_NODAD);
    }
    return m;
  }
  // RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE.
  static MessageBuilder& defaultRouteMessage(MessageBuilder& m, const IpAddress& gateway) {
    auto* rtm = m.putHeader<rtmsg>();
    rtm->rtm_family = static_cast<uint8_t>(familyOf(gateway));
    rtm->rtm_dst_len = 0;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    m.putBytes(RTA_GATEWAY, gateway.bytes.data(), gateway.length());
    return m;
  }

  Result<uint32_t> indexOf(const std::string& name) {
    auto l = link(name);
    if (!l) return l.error();
    if (!*l) return Error{ENODEV, "no interface " + name};
    return (*l)->index;
  }

  Result<void> setLinkU32(const std::string& name, uint16_t attr, uint32_t value, const std::string& what) {
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    m.putU32(attr, value);
    return sock_.request(m, what);
  }

  // net.ipv6.conf.<name>.disable_ipv6 of this stack's namespace.
  Result<UniqueFd> openIpv6Switch(const std::string& name, int flags, const std::string& what) {
    return openIpv6Conf(name, "disable_ipv6", flags, what);
  }

  Result<void> writeIpv6Conf(const std::string& name, const char* key, std::string_view value,
                             const std::string& what) {
    auto f = openIpv6Conf(name, key, O_WRONLY, what);
    if (!f) return f.error();
    if (::write(f->get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
      return errnoError(what + ": write net.ipv6.conf." + name + "." + key);
    return success();
  }

  Result<int> readIpv6Conf(const std::string& name, const char* key, const std::string& what) {
    auto f = openIpv6Conf(name, key, O_RDONLY, what);
    if (!f) return f.error();
    char buf[16] = {};
    ssize_t n = ::read(f->get(), buf, sizeof buf - 1);
    if (n <= 0) return errnoError(what + ": read net.ipv6.conf." + name + "." + key);
    return std::atoi(buf);
  }

  // net.ipv6.conf.<name>.<key> of this stack's namespace; `key` is one of ours.
  Result<UniqueFd> openIpv6Conf(const std::string& name, const char* key, int flags, const std::string& what) {
    // A name from the state or config, validated; it never contains '/' or "..".
    if (!isValidInterfaceName(name)) return plainError(what + ": " + interfaceNameProblem(name));
    const std::string path = "/proc/sys/net/ipv6/conf/" + name + "/" + key;
    auto f = ns_ ? openInNamespace(ns_.get(), path, flags) : [&]() -> Result<UniqueFd> {
      UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
      if (!fd) return errnoError("open " + path);
      return fd;
    }();
    if (f) return f;
    if (f.error().code != ENOENT) return std::move(f).withContext(what);
    auto l = link(name);
    if (!l) return l.error();
    if (!*l) return Error{ENODEV, what + ": no interface " + name};
    return Error{EAFNOSUPPORT, what + ": this kernel has no IPv6 (ipv6.disable=1?)"};
  }

  // The last steps of a new pair's host side in one RTM_NEWLINK: isolated (for a private
  // member), its description, up. For an existing link rtnl_newlink hands the slave data
  // to the bridge (slave_changelink) before do_setlink sets the alias and, last, the
  // flags: the port is isolated before it comes up, as when these were three requests.
  Result<void> finishHostSide(const std::string& name, const std::string& description, bool isolated) {
    MessageBuilder m(RTM_NEWLINK, 0);
    auto* ifi = linkHeader(m);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = IFF_UP;
    m.putString(IFLA_IFNAME, name);
    if (!description.empty()) m.putString(IFLA_IFALIAS, description);
    if (isolated) {
      nlattr* info = m.nestStart(IFLA_LINKINFO);
      m.putString(IFLA_INFO_SLAVE_KIND, "bridge");
      nlattr* data = m.nestStart(IFLA_INFO_SLAVE_DATA);
      m.putU8(IFLA_BRPORT_ISOLATED, 1);
      m.nestEnd(data);
      m.nestEnd(info);
    }
    std::string what = "bring up " + name;
    if (!description.empty()) what += " with its description";
    if (isolated) what += " as a private bridge member";
    return sock_.request(m, what);
  }

  // Linux's counterpart of if_bridge's IFBIF_PRIVATE: isolated ports cannot reach each
  // other, only non-isolated ports (uplinks) and the bridge itself.
  Result<void> setIsolated(const std::string& name, bool on) {
    MessageBuilder m(RTM_NEWLINK, 0);
    linkHeader(m);
    m.putString(IFLA_IFNAME, name);
    nlattr* info = m.nestStart(IFLA_LINKINFO);
    m.putString(IFLA_INFO_SLAVE_KIND, "bridge");
    nlattr* data = m.nestStart(IFLA_INFO_SLAVE_DATA);
    m.putU8(IFLA_BRPORT_ISOLATED, on ? 1 : 0);
    m.nestEnd(data);
    m.nestEnd(info);
    return sock_.request(m, "make " + name + " a private bridge member");
  }

  // Every link's counters and nothing else (RTM_GETSTATS, IFLA_STATS_LINK_64 only).
  Result<std::vector<StatsMessage>> linkCounters() {
    MessageBuilder m(RTM_GETSTATS, 0);
    auto* ifsm = m.putHeader<if_stats_msg>();
    ifsm->family = AF_UNSPEC;
    ifsm->filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64);
    std::vector<StatsMessage> out;
    VNETD_TRY(dumpDecoded(m, "read interface counters", RTM_NEWSTATS, decodeStatsMessage,
                          [&](const StatsMessage& stats) { out.push_back(stats); }));
    return out;
  }

  // Dumps, decoding every reply of `type` and handing it to `keep`. A reply that does not
  // decode fails the whole dump (with the last such error): a list missing an entry must
  // not pass for a complete one.
  template <typename Decode, typename Keep>
  Result<void> dumpDecoded(MessageBuilder& m, const std::string& what, uint16_t type, Decode decode, Keep keep) {
    Error decode_error;
    VNETD_TRY(sock_.dump(m, what, [&](std::span<const std::byte> msg) {
      if (messageType(msg) != type) return;
      auto decoded = decode(msg);
      if (decoded) keep(std::move(*decoded));
      else decode_error = decoded.error();
    }));
    if (!decode_error.context.empty()) return decode_error;
    return success();
  }

  NetlinkSocket sock_;
  UniqueFd ns_;  // the namespace sock_ lives in; empty: the process's own
  // pollLinks(): the notification socket (opened at the first call) and the table it keeps.
  std::optional<NetlinkSocket> notifications_;
  LinkTable table_;
};

}  // namespace

Result<std::unique_ptr<NetStack>> makeNetStack(NetlinkSocket socket, UniqueFd ns) {
  return std::unique_ptr<NetStack>(new LinuxNetStack(std::move(socket), std::move(ns)));
}

}  // namespace lnx

Result<std::unique_ptr<NetStack>> openHostStack() {
  auto sock = lnx::NetlinkSocket::open(NETLINK_ROUTE);
  if (!sock) return sock.error();
  return lnx::makeNetStack(std::move(*sock), UniqueFd());
}

}  // namespace vnetd::platform
