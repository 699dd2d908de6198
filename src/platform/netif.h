// Network-stack operations: links, bridges, addresses and routes in ONE network stack
// (the host's, or a jail's own vnet / network namespace).
//
// Platform-neutral vocabulary: a "pair" is an epair(4) on FreeBSD and a veth pair on
// Linux; a "bridge" is if_bridge(4) / a Linux bridge. Names passed in have already been
// validated (naming.h); implementations still never interpret them as anything but
// interface names (no shell, no paths).
//
// Threading: a NetStack is used by one thread at a time (the hook's main thread, or the
// daemon loop). It owns its kernel handles (netlink / ioctl sockets) via RAII.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/naming.h"
#include "core/result.h"

namespace vnetd::platform {

struct JailInfo;

enum class LinkKind : uint8_t { Other, Pair, Bridge, Vlan, Loopback };
const char* linkKindName(LinkKind kind);

// Kernel counters, from the interface's own point of view (rx = received by it).
struct LinkCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

struct LinkInfo {
  uint32_t index = 0;
  std::string name;
  LinkKind kind = LinkKind::Other;
  MacAddress mac;
  uint32_t mtu = 0;
  bool admin_up = false;       // IFF_UP
  bool running = false;        // carrier / link state up
  uint32_t master_index = 0;   // bridge this link is a member of (0 = none)
  std::string description;     // FreeBSD ifdescr, Linux ifalias
  LinkCounters counters;
};

struct AddressInfo {
  uint32_t link_index = 0;
  Cidr cidr;
};

// One entry of the stack's neighbour cache (IPv4 ARP, IPv6 NDP) on a link: an address
// that something on that link answered for, or that was set by hand.
struct NeighbourInfo {
  uint32_t link_index = 0;
  IpAddress address;
  std::optional<MacAddress> mac;  // absent on entries without a link-layer address (NOARP)
};

struct RouteInfo {
  Cidr destination;                  // 0.0.0.0/0 or ::/0 for a default route
  std::optional<IpAddress> gateway;
  uint32_t out_index = 0;
};

// Everything needed to create one jail interface pair in a single step where the kernel
// allows it (Linux: one RTM_NEWLINK; FreeBSD: SIOCIFCREATE2 + renames + BRDGADD + ...).
struct PairSpec {
  std::string host_name;          // e0a_web: stays on the host, becomes a bridge member
  std::string jail_name;          // e0b_web (or the configured jail-side name)
  MacAddress host_mac;
  MacAddress jail_mac;
  std::optional<uint32_t> mtu;    // set on both sides before joining the bridge
  std::string description;        // "vnetd:<jail>:<index>", on both sides
  std::string bridge;             // bridge to join (host side); "" = none
  // The bridge's index when the caller has just read it (Linux names the master by index:
  // one lookup less on the hook path); 0 = look it up by name. FreeBSD names it by name.
  uint32_t bridge_index = 0;
  bool private_member = false;    // FreeBSD IFBIF_PRIVATE / Linux bridge port "isolated"
  // When set, the jail side is placed directly into this jail's stack (the jail must
  // exist); otherwise it stays on the host until moveToJail.
  const JailInfo* peer_in_jail = nullptr;
};

class NetStack {
 public:
  virtual ~NetStack() = default;

  // All links of this stack with their kernel counters, in one kernel dump.
  virtual Result<std::vector<LinkInfo>> links() = 0;
  // The same as links(), for callers that ask periodically (every /metrics scrape, every
  // status rate sample). Where the full dump is what costs, an implementation keeps the
  // link table current from the kernel's change notifications and dumps only the counters
  // (Linux: see platform/linux/link_table.h); the counters are always read now.
  virtual Result<std::vector<LinkInfo>> pollLinks() { return links(); }
  // All links, for callers that want no counters (names, MACs, membership, descriptions).
  // A stack that keeps its link table current from the kernel's notifications (Linux,
  // once pollLinks() has run on it: a daemon's) answers from that table without a dump;
  // otherwise (or when notifications were lost) the same as links().
  virtual Result<std::vector<LinkInfo>> currentLinks() { return links(); }
  // One link by name; nullopt when it does not exist (not an error).
  virtual Result<std::optional<LinkInfo>> link(const std::string& name) = 0;
  // The same for callers that want no counters (existence, MAC, kind, membership: the
  // hooks). A stack following the kernel's notifications (as for currentLinks()) answers
  // from its table without a round trip; otherwise the same as link().
  virtual Result<std::optional<LinkInfo>> currentLink(const std::string& name) { return link(name); }

  // Creates the pair per `spec`: MACs, MTU, description; the host side joins the bridge
  // BEFORE it is brought up (FreeBSD 15 refuses members that have addresses), then both
  // sides are brought up. On failure nothing of the pair is left behind.
  virtual Result<void> createPair(const PairSpec& spec) = 0;
  // Creates a bridge (down); mtu applies before any member joins.
  virtual Result<void> createBridge(const std::string& name, std::optional<uint32_t> mtu) = 0;
  // Creates vlan `name` with `tag` on `parent` (802.1Q).
  virtual Result<void> createVlan(const std::string& name, const std::string& parent, uint16_t tag) = 0;
  // Destroys a link; for a pair, either side destroys both.
  virtual Result<void> destroyLink(const std::string& name) = 0;

  virtual Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                                       bool private_member) = 0;

  // Moves a link of this stack into `jail`'s stack; name and MAC are kept. The link
  // arrives there down and without addresses (both OSes behave this way).
  virtual Result<void> moveToJail(const std::string& name, const JailInfo& jail) = 0;
  // The reverse: takes the link called `name` inside `jail`'s stack back into this stack
  // (FreeBSD: SIOCSIFRVNET, `ifconfig NAME -vnet JAIL`, issued from the parent's stack;
  // Linux: moved from inside the namespace to this stack's namespace). The name is looked
  // up inside the jail: ENODEV when no such link is there. The caller makes sure this
  // stack has no link of that name: FreeBSD does not check (if_vmove_reclaim) and would
  // make a second one; Linux refuses with EEXIST.
  virtual Result<void> reclaimFromJail(const std::string& name, const JailInfo& jail) = 0;

  virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
  virtual Result<void> setMtu(const std::string& name, uint32_t mtu) = 0;
  virtual Result<void> setMac(const std::string& name, const MacAddress& mac) = 0;
  virtual Result<void> setDescription(const std::string& name, const std::string& text) = 0;
  virtual Result<void> setUp(const std::string& name, bool up) = 0;
  // setDescription, then setUp(true): where the kernel takes both in one request (Linux:
  // one RTM_NEWLINK; do_setlink applies the alias before the flags) it is one round trip,
  // and a failure names both ("describe and bring up NAME").
  virtual Result<void> describeAndBringUp(const std::string& name, const std::string& text) {
    VNETD_TRY(setDescription(name, text));
    return setUp(name, true);
  }

  // What `created` does to a jail's stack once its interfaces carry their final names:
  // per interface its addresses, then its description and up; then the loopback up; then
  // the default routes (at most one per family). configureJailSide does exactly those
  // calls in that order; where the kernel takes them as one batch (Linux: one sendmsg of
  // rtnetlink messages, answered in order) it is one round trip instead of one per step.
  struct JailSideInterface {
    std::string name;
    uint32_t index = 0;  // the link's index when the caller has just read it; 0 = unknown
    std::vector<Cidr> addresses;
    std::string description;
  };
  struct JailSideSetup {
    std::vector<JailSideInterface> interfaces;
    std::vector<IpAddress> default_routes;
  };
  virtual Result<void> configureJailSide(const JailSideSetup& setup) {
    for (const JailSideInterface& i : setup.interfaces) {
      for (const Cidr& c : i.addresses) VNETD_TRY(addAddressAt(i.index, i.name, c));
      VNETD_TRY(describeAndBringUp(i.name, i.description));
    }
    VNETD_TRY(loopbackUp());
    for (const IpAddress& gateway : setup.default_routes) VNETD_TRY(setDefaultRoute(gateway));
    return success();
  }

  // Addresses of one link (link_index != 0; filtered in the kernel where it can) or of all.
  virtual Result<std::vector<AddressInfo>> addresses(uint32_t link_index = 0) = 0;
  // Adds an address; already present → success (idempotent).
  virtual Result<void> addAddress(const std::string& name, const Cidr& cidr) = 0;
  // The same for a link whose index the caller has just read (Linux addresses a link by
  // index only: this saves the lookup by name); `name` is for messages and for stacks
  // that address by name.
  virtual Result<void> addAddressAt(uint32_t index, const std::string& name, const Cidr& cidr) {
    (void)index;
    return addAddress(name, cidr);
  }
  // The neighbour (ARP/NDP) entries of one link (link_index != 0) or of all links, only
  // those some host answered for or that were set by hand: entries still resolving, or
  // whose resolution failed, say nothing about an address being in use and are left out.
  // "auto" address allocation treats every address listed as taken.
  virtual Result<std::vector<NeighbourInfo>> neighbours(uint32_t link_index = 0) = 0;
  virtual Result<std::vector<RouteInfo>> defaultRoutes() = 0;
  // Installs (or replaces) the default route of `gateway`'s family.
  virtual Result<void> setDefaultRoute(const IpAddress& gateway) = 0;
  // Brings up the loopback interface (lo0 / lo) with its usual addresses.
  virtual Result<void> loopbackUp() = 0;
  // Lets the link carry IPv6 again when something switched it off (FreeBSD: clears
  // ND6_IFF_IFDISABLED, which a jail's own rc sets on every interface but lo0 unless
  // ipv6_activate_all_interfaces="YES"; Linux: net.ipv6.conf.<link>.disable_ipv6 = 0).
  // Already enabled → success. Addresses that the switch-off removed (Linux) are not
  // restored: the caller adds them again.
  virtual Result<void> enableIpv6(const std::string& name) = 0;
  // Whether IPv6 is on for the link (the opposite of what enableIpv6 clears). ENODEV for
  // no such link, EAFNOSUPPORT where the stack has no IPv6.
  virtual Result<bool> ipv6Enabled(const std::string& name) = 0;

  // --- IPv6 autoconfiguration (address6 = "slaac", issue 19) ---
  // Makes the link accept router advertisements and form addresses from their prefixes,
  // with interface identifiers from its MAC (EUI-64): Linux accept_ra, autoconf and
  // addr_gen_mode eui64; FreeBSD ND6_IFF_ACCEPT_RTADV and ND6_IFF_AUTO_LINKLOCAL with
  // ND6_IFF_IFDISABLED cleared. Call it before the link comes up: the kernel forms the
  // link-local address (and Linux sends its router solicitations) when it does. Already
  // so → success. Does not enable IPv6 itself where enableIpv6 is separate (Linux).
  virtual Result<void> enableAutoconf(const std::string& name) {
    return Error{EOPNOTSUPP, "enable IPv6 autoconfiguration on " + name + ": not supported by this stack"};
  }
  // Sends one router solicitation out of the link (RFC 4861 6.3.7), so that a router on
  // the segment — any router, not only vnetd's — answers with an RA at once instead of at
  // its next periodic one. Call it after enableAutoconf and after the link is up (it goes
  // out from the link's link-local address, which exists only then). FreeBSD's kernel
  // sends none itself (rtsol(8)/rtsold(8) do, from userland): vnetd sends it from inside
  // the stack (platform/router_socket.h sendRouterSolicitation). Linux's kernel does send
  // them when an accept_ra link's link-local address completes DAD: there it is a no-op.
  virtual Result<void> solicitRouters(const std::string& name) {
    return Error{EOPNOTSUPP, "send a router solicitation on " + name + ": not supported by this stack"};
  }
  // The link forms an IPv6 link-local address (a router's RAs must come from one): the
  // bridges with router_advertisements. FreeBSD: ND6_IFF_AUTO_LINKLOCAL (nd6_ifattach
  // clears it on if_bridge(4) by default) and -IFDISABLED; Linux forms it by itself once
  // the link has carrier, so there it is a no-op. Not ACCEPT_RTADV: the host must not take
  // RAs the jails might send. Already so → success.
  virtual Result<void> enableLinkLocal(const std::string& name) {
    (void)name;
    return success();
  }
  struct AutoconfState {
    bool accepts_ra = false;  // router advertisements are processed on the link
    bool autoconf = false;    // addresses are formed from their prefixes
  };
  // What enableAutoconf set, as the kernel has it now (for doctor). ENODEV for no such link.
  virtual Result<AutoconfState> autoconfState(const std::string& name) {
    return Error{EOPNOTSUPP, "read IPv6 autoconfiguration of " + name + ": not supported by this stack"};
  }
};

// The host's own stack.
Result<std::unique_ptr<NetStack>> openHostStack();

}  // namespace vnetd::platform
