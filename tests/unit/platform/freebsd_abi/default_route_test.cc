// The FreeBSD default-route logic (default_route.h): request images and RTM_GET replies
// as byte images laid out field by field per the FreeBSD amd64 ABI (the offsets that
// abi_checks.cc pins to <net/route.h>), the plan, and the look-act loop against a model
// of the FreeBSD 14/15 routing table built from the kernel sources cited in
// default_route.h (sys/net/route/route_ctl.c, nhgrp_ctl.c, sys/net/rtsock.c).
#include "platform/freebsd/default_route.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "platform/freebsd/rtsock_decode.h"

namespace vnetd::platform::fbsd {
namespace {

using Bytes = RouteBytes;

template <typename T>
void put(Bytes& b, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), b.size());
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

template <typename T>
T get(const Bytes& b, size_t offset) {
  T v{};
  EXPECT_LE(offset + sizeof(T), b.size());
  if (offset + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + offset, sizeof(T));
  return v;
}

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// sockaddr_in: 16 bytes, sin_family at 1, sin_addr at 4.
Bytes sin4(std::array<uint8_t, 4> addr, uint8_t sa_len = 16) {
  Bytes b(16);
  b[0] = std::byte{sa_len};
  b[1] = std::byte{2};
  std::memcpy(b.data() + 4, addr.data(), 4);
  b.resize(sa_len);
  return b;
}

// sockaddr_in6: 28 bytes, sin6_addr at 8, sin6_scope_id at 24.
Bytes sin6(const IpAddress& a, uint32_t scope_id = 0) {
  Bytes b(28);
  b[0] = std::byte{28};
  b[1] = std::byte{28};
  std::memcpy(b.data() + 8, a.bytes.data(), 16);
  std::memcpy(b.data() + 24, &scope_id, 4);
  return b;
}

// The short sockaddr_dl the kernel keeps as an interface route's gateway
// (nhop_ctl.c fill_sdl_from_ifp: sockaddr_dl_short, 16 bytes): index at 2, type at 4.
Bytes sdlShort(uint16_t index) {
  Bytes b(16);
  b[0] = std::byte{16};
  b[1] = std::byte{18};  // AF_LINK
  std::memcpy(b.data() + 2, &index, 2);
  b[4] = std::byte{6};  // IFT_ETHER
  return b;
}

constexpr int kRtfDone = 0x40;

// An RTM_GET reply as rtsock.c route_output → update_rtm_from_rc writes it: struct
// rt_msghdr (152 bytes), then DST, GATEWAY, NETMASK in RTA order, each SA_SIZE-padded.
struct Reply {
  int32_t pid = 4242;
  int32_t seq = 7;
  uint8_t type = kRtmGet;
  uint8_t version = kRtmVersion;
  int32_t error = 0;
  int32_t flags = kRtfUp | kRtfGateway | kRtfDone | kRtfStatic;
  uint16_t index = 3;
  uint64_t weight = 1;
  std::vector<std::pair<int, Bytes>> sockaddrs;

  Bytes bytes() const {
    Bytes b(kRtMsghdrSize);
    int addrs = 0;
    for (const auto& [bit, sa] : sockaddrs) {
      addrs |= bit;
      size_t at = b.size();
      b.resize(at + saSize(sa.empty() ? 0 : std::to_integer<uint8_t>(sa[0])));
      if (!sa.empty()) std::memcpy(b.data() + at, sa.data(), sa.size());  // an empty sockaddr has no data()
    }
    put<uint16_t>(b, 0, static_cast<uint16_t>(b.size()));  // rtm_msglen
    put<uint8_t>(b, 2, version);
    put<uint8_t>(b, 3, type);
    put<uint16_t>(b, 4, index);    // rtm_index
    put<int32_t>(b, 8, flags);     // rtm_flags
    put<int32_t>(b, 12, addrs);    // rtm_addrs
    put<int32_t>(b, 16, pid);      // rtm_pid
    put<int32_t>(b, 20, seq);      // rtm_seq
    put<int32_t>(b, 24, error);    // rtm_errno
    put<uint64_t>(b, 40 + 80, weight);  // rtm_rmx (at 40) . rmx_weight (11th u_long)
    return b;
  }
};

Reply defaultV4Via(std::array<uint8_t, 4> gw, uint64_t weight = 1) {
  Reply r;
  r.weight = weight;
  r.sockaddrs = {{kRtaDst, sin4({0, 0, 0, 0})}, {kRtaGateway, sin4(gw)},
                 {kRtaNetmask, sin4({0, 0, 0, 0})}};
  return r;
}

RouteReply decode(const Bytes& b, IpFamily family = IpFamily::V4) {
  return decodeDefaultRouteReply(b, family, 4242, 7);
}

// --- requests

TEST(DefaultRouteRequest, AddV4WithGateway) {
  Bytes m = encodeDefaultRouteRequest(kRtmAdd, IpFamily::V4, 99, sockaddrOf(ip("198.18.0.1")));
  ASSERT_EQ(m.size(), kRtMsghdrSize + 3 * 16);
  EXPECT_EQ(get<uint16_t>(m, 0), m.size());   // rtm_msglen
  EXPECT_EQ(get<uint8_t>(m, 2), 5);           // RTM_VERSION
  EXPECT_EQ(get<uint8_t>(m, 3), 1);           // RTM_ADD
  EXPECT_EQ(get<int32_t>(m, 8), 0x1 | 0x2 | 0x800);  // RTF_UP | RTF_GATEWAY | RTF_STATIC
  EXPECT_EQ(get<int32_t>(m, 12), 0x1 | 0x2 | 0x4);   // RTA_DST | RTA_GATEWAY | RTA_NETMASK
  EXPECT_EQ(get<int32_t>(m, 20), 99);                // rtm_seq
  const Bytes dst(m.begin() + 152, m.begin() + 168);
  const Bytes gw(m.begin() + 168, m.begin() + 184);
  const Bytes mask(m.begin() + 184, m.begin() + 200);
  EXPECT_EQ(dst, sin4({0, 0, 0, 0}));
  EXPECT_EQ(gw, sin4({198, 18, 0, 1}));
  EXPECT_EQ(mask, sin4({0, 0, 0, 0}));
}

TEST(DefaultRouteRequest, GetV6WithoutGateway) {
  Bytes m = encodeDefaultRouteRequest(kRtmGet, IpFamily::V6, 5);
  // sockaddr_in6 is 28 bytes, padded to 32 (SA_SIZE).
  ASSERT_EQ(m.size(), kRtMsghdrSize + 2 * 32);
  EXPECT_EQ(get<uint8_t>(m, 3), 4);                // RTM_GET
  EXPECT_EQ(get<int32_t>(m, 8), 0x1 | 0x800);      // no RTF_GATEWAY
  EXPECT_EQ(get<int32_t>(m, 12), 0x1 | 0x4);       // DST | NETMASK: exact-prefix lookup
  IpAddress any;
  any.family = IpFamily::V6;
  EXPECT_EQ(Bytes(m.begin() + 152, m.begin() + 180), sin6(any));
  EXPECT_EQ(Bytes(m.begin() + 184, m.begin() + 212), sin6(any));
  EXPECT_EQ(m[180], std::byte{0}) << "padding is zero";
}

TEST(DefaultRouteRequest, DeleteCarriesTheKernelsOwnGatewaySockaddr) {
  // A nexthop to remove is named by the sockaddr RTM_GET returned (scope id included),
  // so the kernel's match_nhop_gw sees what it wrote.
  Bytes kernel_gw = sin6(ip("fe80::1"), 4);
  Bytes m = encodeDefaultRouteRequest(kRtmDelete, IpFamily::V6, 1, kernel_gw);
  EXPECT_EQ(get<uint8_t>(m, 3), 2);  // RTM_DELETE
  EXPECT_EQ(get<int32_t>(m, 12), 0x7);
  EXPECT_EQ(Bytes(m.begin() + 184, m.begin() + 212), kernel_gw);
  EXPECT_EQ(m.size(), kRtMsghdrSize + 3 * 32);
}

// --- replies

TEST(DefaultRouteReply, SinglePathV4) {
  RouteReply r = decode(defaultV4Via({198, 18, 0, 1}).bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_EQ(r.route.gateway, ip("198.18.0.1"));
  EXPECT_EQ(r.route.gateway_sockaddr, sin4({198, 18, 0, 1}));
  EXPECT_EQ(r.route.out_index, 3);
  EXPECT_EQ(r.route.weight, 1u);
  EXPECT_FALSE(r.route.multipath());
  EXPECT_TRUE(r.route.plainGateway());
}

TEST(DefaultRouteReply, WeightZeroIsAMultipathRoute) {
  RouteReply r = decode(defaultV4Via({198, 18, 0, 9}, 0).bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_TRUE(r.route.multipath());
  EXPECT_EQ(r.route.gateway, ip("198.18.0.9")) << "the group's first nexthop";
  // Weights are u_long: a high bit set is still not zero.
  RouteReply big = decode(defaultV4Via({198, 18, 0, 9}, uint64_t{1} << 40).bytes());
  ASSERT_EQ(big.kind, RouteReply::Kind::Found);
  EXPECT_FALSE(big.route.multipath());
}

TEST(DefaultRouteReply, V6LinkLocalGatewayKeepsItsSockaddr) {
  Reply rep;
  IpAddress any;
  any.family = IpFamily::V6;
  // Embedded scope in bytes 2-3 (KAME), and the scope id: the address drops the former;
  // the raw sockaddr keeps both for a later RTM_DELETE.
  IpAddress embedded = ip("fe80::5");
  embedded.bytes[3] = 4;
  Bytes gw = sin6(embedded, 4);
  rep.sockaddrs = {{kRtaDst, sin6(any)}, {kRtaGateway, gw}, {kRtaNetmask, sin6(any)}};
  RouteReply r = decode(rep.bytes(), IpFamily::V6);
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_EQ(r.route.gateway, ip("fe80::5"));
  EXPECT_EQ(r.route.gateway_sockaddr, gw);
}

TEST(DefaultRouteReply, InterfaceRouteHasNoGatewayAddress) {
  Reply rep;
  rep.flags = kRtfUp | kRtfDone | kRtfStatic;  // no RTF_GATEWAY
  rep.sockaddrs = {{kRtaDst, sin4({0, 0, 0, 0})}, {kRtaGateway, sdlShort(5)},
                   {kRtaNetmask, sin4({0, 0, 0, 0})}};
  RouteReply r = decode(rep.bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_FALSE(r.route.gateway);
  EXPECT_EQ(r.route.gateway_sockaddr, sdlShort(5));
  EXPECT_FALSE(r.route.plainGateway());
}

TEST(DefaultRouteReply, V4RouteViaV6NexthopHasNoV4Gateway) {
  // RFC 5549 (route_ctl.c: net.route.ipv6_nexthop): an IPv4 route via an IPv6 address.
  Reply rep = defaultV4Via({0, 0, 0, 0});
  Bytes gw = sin6(ip("2001:db8::1"));
  rep.sockaddrs[1].second = gw;
  RouteReply r = decode(rep.bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_FALSE(r.route.gateway);
  EXPECT_EQ(r.route.gateway_sockaddr, gw);
  EXPECT_TRUE(r.route.plainGateway());
}

TEST(DefaultRouteReply, TrimmedAndMissingSockaddrs) {
  Reply rep = defaultV4Via({198, 18, 0, 1});
  rep.sockaddrs[2].second = Bytes{};  // sa_len 0 netmask: 8 bytes of zeros
  RouteReply r = decode(rep.bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_EQ(r.route.gateway, ip("198.18.0.1"));
  rep.sockaddrs.erase(rep.sockaddrs.begin() + 1);  // no RTA_GATEWAY at all
  r = decode(rep.bytes());
  ASSERT_EQ(r.kind, RouteReply::Kind::Found);
  EXPECT_FALSE(r.route.gateway);
  EXPECT_TRUE(r.route.gateway_sockaddr.empty());
}

TEST(DefaultRouteReply, OtherMessagesAreNotOurs) {
  Reply base = defaultV4Via({198, 18, 0, 1});
  auto kind = [](Reply r) { return decode(r.bytes()).kind; };
  Reply r = base;
  r.pid = 1;
  EXPECT_EQ(kind(r), RouteReply::Kind::NotOurs);
  r = base;
  r.seq = 8;
  EXPECT_EQ(kind(r), RouteReply::Kind::NotOurs);
  r = base;
  r.type = kRtmAdd;  // the echo of someone's (or our own) RTM_ADD
  EXPECT_EQ(kind(r), RouteReply::Kind::NotOurs);
  r = base;
  r.version = 4;
  EXPECT_EQ(kind(r), RouteReply::Kind::NotOurs);
  Bytes short_msg = base.bytes();
  short_msg.resize(kRtMsghdrSize - 1);
  EXPECT_EQ(decode(short_msg).kind, RouteReply::Kind::NotOurs);
}

TEST(DefaultRouteReply, KernelErrors) {
  Reply r = defaultV4Via({198, 18, 0, 1});
  r.error = ESRCH;
  EXPECT_EQ(decode(r.bytes()).kind, RouteReply::Kind::NoRoute);
  r.error = EPERM;
  RouteReply failed = decode(r.bytes());
  EXPECT_EQ(failed.kind, RouteReply::Kind::Failed);
  EXPECT_EQ(failed.error, EPERM);
}

TEST(DefaultRouteReply, SockaddrsPastTheEndAreMalformed) {
  Bytes b = defaultV4Via({198, 18, 0, 1}).bytes();
  // Cut inside the gateway sockaddr (a short recv), then lie about a sockaddr's length.
  Bytes cut(b.begin(), b.begin() + 152 + 16 + 8);
  EXPECT_EQ(decode(cut).kind, RouteReply::Kind::Malformed);
  Bytes lying = b;
  lying[152 + 16] = std::byte{200};  // gateway sa_len beyond the message
  EXPECT_EQ(decode(lying).kind, RouteReply::Kind::Malformed);
  Bytes short_len = b;
  put<uint16_t>(short_len, 0, 152 + 16 + 4);  // rtm_msglen shorter than the sockaddrs
  EXPECT_EQ(decode(short_len).kind, RouteReply::Kind::Malformed);
  // rtm_msglen, not the buffer, bounds the message: it ends inside the netmask here.
  Bytes msglen_cuts_last = b;
  put<uint16_t>(msglen_cuts_last, 0, 152 + 16 + 16 + 8);
  EXPECT_EQ(decode(msglen_cuts_last).kind, RouteReply::Kind::Malformed);
}

TEST(DefaultRouteReply, AnotherPrefixIsNotTheDefaultRoute) {
  Reply r = defaultV4Via({198, 18, 0, 1});
  r.sockaddrs[0].second = sin4({198, 18, 0, 0});
  r.sockaddrs[2].second = sin4({255, 255, 0, 0});
  EXPECT_EQ(decode(r.bytes()).kind, RouteReply::Kind::NoRoute);
}

// --- the plan

DefaultRoute single(const char* gw, int extra_flags = 0) {
  DefaultRoute r;
  r.gateway = ip(gw);
  r.gateway_sockaddr = sockaddrOf(ip(gw));
  r.flags = kRtfUp | kRtfGateway | kRtfStatic | extra_flags;
  r.weight = 1;
  return r;
}

using Kind = RouteOp::Kind;

TEST(DefaultRoutePlan, EachStartingPoint) {
  const IpAddress ours = ip("198.18.0.1");
  const Bytes ours_sa = sockaddrOf(ours);
  auto plan = [&](const std::optional<DefaultRoute>& now) {
    auto p = planDefaultRoute(now, ours);
    EXPECT_TRUE(p) << p.error().message();
    return p ? *p : std::vector<RouteOp>{};
  };
  EXPECT_EQ(plan(std::nullopt), (std::vector<RouteOp>{{Kind::Add, ours_sa}}));
  EXPECT_EQ(plan(single("198.18.0.1")), (std::vector<RouteOp>{}));
  EXPECT_EQ(plan(single("198.18.0.254")), (std::vector<RouteOp>{{Kind::Change, ours_sa}}));
  // Our gateway, but a blackhole / reject route: RTM_CHANGE would keep the flag.
  EXPECT_EQ(plan(single("198.18.0.1", kRtfBlackhole)),
            (std::vector<RouteOp>{{Kind::Delete, {}}, {Kind::Add, ours_sa}}));
  EXPECT_EQ(plan(single("198.18.0.1", kRtfReject)),
            (std::vector<RouteOp>{{Kind::Delete, {}}, {Kind::Add, ours_sa}}));
  DefaultRoute iface;
  iface.gateway_sockaddr = sdlShort(2);
  iface.flags = kRtfUp | kRtfStatic;
  iface.weight = 1;
  EXPECT_EQ(plan(iface), (std::vector<RouteOp>{{Kind::Delete, {}}, {Kind::Add, ours_sa}}));
  // Multipath: remove the nexthop RTM_GET named, ours or not.
  DefaultRoute group = single("198.18.0.254");
  group.weight = 0;
  EXPECT_EQ(plan(group), (std::vector<RouteOp>{{Kind::Delete, sockaddrOf(ip("198.18.0.254"))}}));
  group = single("198.18.0.1");
  group.weight = 0;
  EXPECT_EQ(plan(group), (std::vector<RouteOp>{{Kind::Delete, ours_sa}}));
}

TEST(DefaultRoutePlan, MultipathWithoutAGatewayIsAnError) {
  DefaultRoute group;
  group.flags = kRtfUp | kRtfGateway;
  group.weight = 0;
  auto p = planDefaultRoute(group, ip("2001:db8::1"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("route delete -inet6 default"), std::string::npos)
      << p.error().message();
}

TEST(DefaultRoutePlan, WhichErrorsMeanLookAgain) {
  EXPECT_TRUE(changedUnderUs({Kind::Add, {}}, EEXIST));
  EXPECT_FALSE(changedUnderUs({Kind::Add, {}}, ESRCH));
  EXPECT_FALSE(changedUnderUs({Kind::Add, {}}, ENETUNREACH));
  EXPECT_TRUE(changedUnderUs({Kind::Change, {}}, ESRCH));
  EXPECT_FALSE(changedUnderUs({Kind::Change, {}}, EEXIST));
  EXPECT_TRUE(changedUnderUs({Kind::Delete, {}}, ESRCH));
  EXPECT_FALSE(changedUnderUs({Kind::Delete, {}}, EADDRINUSE));  // a pinned route
}

// --- a model of the FreeBSD 14/15 routing table's default route, per the sources cited
// in default_route.h. Lookups go through the real reply decoder.

struct Nexthop {
  std::optional<IpAddress> gw;  // nullopt: interface route
  uint32_t idx = 0;             // nexthop index: groups are sorted by it
  uint32_t weight = 1;
  bool blackhole = false;
  bool stale_interface = false;  // RTM_CHANGE of an interface route keeps its interface
};

class ModelRib final : public DefaultRouteTable {
 public:
  explicit ModelRib(IpFamily family = IpFamily::V4) : family_(family) {}

  bool multipath_enabled = true;  // net.route.multipath
  bool groups_report_weight_zero = true;  // false: a kernel that does not do what we read
  std::optional<int> fail_next_write;     // e.g. ENETUNREACH: gateway not reachable
  std::function<void(ModelRib&)> before_write;  // someone else changes the table first
  std::vector<Nexthop> route;  // empty: no default; two or more: a nexthop group
  std::vector<RouteOp> writes;
  unsigned lookups = 0;
  unsigned moments_without_default = 0;

  void addNexthop(const char* gw) {
    Nexthop n;
    n.gw = ip(gw);
    n.idx = indexOf(*n.gw);
    route.push_back(n);
    sortGroup();
  }

  Result<std::optional<DefaultRoute>> lookup() override {
    ++lookups;
    if (route.empty()) return std::optional<DefaultRoute>();
    // rtsock.c select_nhop: the first nexthop of a group; rt_weight 0 for a group.
    const Nexthop& n = route.front();
    const bool group = route.size() > 1;
    Reply rep;
    rep.flags = kRtfUp | kRtfDone | kRtfStatic | (n.gw ? kRtfGateway : 0) |
                (n.blackhole ? kRtfBlackhole : 0);
    rep.weight = group && groups_report_weight_zero ? 0 : n.weight;
    IpAddress any;
    any.family = family_;
    rep.sockaddrs = {{kRtaDst, sockaddrOf(any)},
                     {kRtaGateway, n.gw ? sockaddrOf(*n.gw) : sdlShort(2)},
                     {kRtaNetmask, sockaddrOf(any)}};
    RouteReply r = decodeDefaultRouteReply(rep.bytes(), family_, rep.pid, rep.seq);
    EXPECT_EQ(r.kind, RouteReply::Kind::Found);
    return std::optional<DefaultRoute>(r.route);
  }

  Result<void> apply(const RouteOp& op) override {
    if (before_write) std::exchange(before_write, nullptr)(*this);
    writes.push_back(op);
    const bool had_default = !route.empty();
    auto r = write(op);
    if (had_default && route.empty()) ++moments_without_default;
    return r;
  }

  // Exactly one plain nexthop via `gw` on the right interface.
  bool isExactly(const char* gw) const {
    return route.size() == 1 && route[0].gw == ip(gw) && !route[0].blackhole &&
           !route[0].stale_interface;
  }

 private:
  Result<void> write(const RouteOp& op) {
    if (fail_next_write) return Error{*std::exchange(fail_next_write, std::nullopt), ""};
    std::optional<IpAddress> gw = addressOf(op.gateway);
    switch (op.kind) {
      case Kind::Add: {
        EXPECT_TRUE(gw) << "RTM_ADD without a gateway is EINVAL (route_output)";
        if (route.empty()) {
          route.push_back(Nexthop{gw, indexOf(*gw)});
          return success();
        }
        // route_ctl.c add_route_byinfo → RTM_F_APPEND; add_route_flags appends when
        // multipath is on and both sides have gateways; the same nexthop is EEXIST.
        bool can_append = multipath_enabled &&
                          std::all_of(route.begin(), route.end(),
                                      [](const Nexthop& n) { return n.gw && !n.blackhole; });
        if (!can_append) return Error{EEXIST, ""};
        for (const Nexthop& n : route)
          if (n.gw == gw) return Error{EEXIST, ""};
        if (route.size() >= kMaxMultipathWidth) return Error{E2BIG, ""};
        route.push_back(Nexthop{gw, indexOf(*gw)});
        sortGroup();
        return success();
      }
      case Kind::Change: {
        if (route.empty()) return Error{ESRCH, ""};
        if (route.size() > 1) {
          // change_mpath_route: the nexthop whose gateway is the request's, else ESRCH.
          for (const Nexthop& n : route)
            if (n.gw == gw) return success();
          return Error{ESRCH, ""};
        }
        // change_nhop + nhop_create_from_nhop: flags kept; the interface is looked up
        // again only if the old nexthop had a gateway.
        Nexthop n = route[0];
        n.stale_interface = n.stale_interface || !n.gw;
        n.gw = gw;
        n.idx = n.blackhole || n.stale_interface ? next_idx_++ : indexOf(*gw);
        route[0] = n;
        return success();
      }
      case Kind::Delete: {
        if (route.empty()) return Error{ESRCH, ""};
        if (op.gateway.empty()) {
          // rt_delete_conditional: no filter → a group is ESRCH, a single route goes.
          if (route.size() > 1) return Error{ESRCH, ""};
          route.clear();
          return success();
        }
        // match_gw_one: the first nexthop with that gateway.
        for (size_t i = 0; i < route.size(); ++i) {
          if (route[i].gw == gw) {
            route.erase(route.begin() + static_cast<std::ptrdiff_t>(i));
            return success();
          }
        }
        return Error{ESRCH, ""};
      }
    }
    return Error{EINVAL, ""};
  }

  std::optional<IpAddress> addressOf(const Bytes& sa) const {
    if (sa.size() < 2) return std::nullopt;
    IpAddress a;
    a.family = std::to_integer<uint8_t>(sa[1]) == kAfInet ? IpFamily::V4 : IpFamily::V6;
    size_t at = a.family == IpFamily::V4 ? 4 : 8;
    if (sa.size() < at + a.length()) return std::nullopt;
    std::memcpy(a.bytes.data(), sa.data() + at, a.length());
    return a;
  }

  // Equal nexthops are shared objects with one index (nhop_ctl.c find_nhop).
  uint32_t indexOf(const IpAddress& gw) {
    auto [it, added] = index_.emplace(gw, next_idx_);
    if (added) ++next_idx_;
    return it->second;
  }

  void sortGroup() {
    std::sort(route.begin(), route.end(),
              [](const Nexthop& a, const Nexthop& b) { return a.idx < b.idx; });
  }

  IpFamily family_;
  std::map<IpAddress, uint32_t> index_;
  uint32_t next_idx_ = 1;
};

const IpAddress kOurs = ip("198.18.0.1");
const char* const kOursText = "198.18.0.1";

TEST(DefaultRouteModel, PlainAddAppendsOnFreeBsd14) {
  // What vnetd did first (RTM_ADD, RTM_CHANGE only on EEXIST), against the model: the
  // add succeeds and the old gateway stays as a second nexthop.
  ModelRib rib;
  rib.addNexthop("198.18.0.254");
  ASSERT_TRUE(rib.apply({Kind::Add, sockaddrOf(kOurs)}));
  EXPECT_EQ(rib.route.size(), 2u) << "the model must append, as route_ctl.c does";
  ModelRib off;
  off.multipath_enabled = false;
  off.addNexthop("198.18.0.254");
  auto r = off.apply({Kind::Add, sockaddrOf(kOurs)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EEXIST);
}

TEST(DefaultRouteModel, NoRouteIsAdded) {
  ModelRib rib;
  ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
  EXPECT_TRUE(rib.isExactly(kOursText));
  EXPECT_EQ(rib.writes, (std::vector<RouteOp>{{Kind::Add, sockaddrOf(kOurs)}}));
}

TEST(DefaultRouteModel, OursAlreadyIsLeftAlone) {
  ModelRib rib;
  rib.addNexthop(kOursText);
  ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
  EXPECT_TRUE(rib.isExactly(kOursText));
  EXPECT_TRUE(rib.writes.empty());
  EXPECT_EQ(rib.lookups, 1u);
}

TEST(DefaultRouteModel, AnotherGatewayIsChangedInPlace) {
  for (bool multipath : {true, false}) {
    ModelRib rib;
    rib.multipath_enabled = multipath;
    rib.addNexthop("198.18.0.254");
    ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
    EXPECT_TRUE(rib.isExactly(kOursText));
    EXPECT_EQ(rib.writes, (std::vector<RouteOp>{{Kind::Change, sockaddrOf(kOurs)}}));
    EXPECT_EQ(rib.moments_without_default, 0u);
  }
}

TEST(DefaultRouteModel, MultipathLeftByTheOldCodeIsTakenApart) {
  // Every position of our gateway in the group (groups are sorted by nexthop index), and
  // groups without it; never a moment without a default route.
  const char* others[] = {"198.18.0.250", "198.18.0.251", "198.18.0.252"};
  for (int ours_at = -1; ours_at <= 3; ++ours_at) {
    ModelRib rib;
    for (int i = 0; i <= 3; ++i) {
      if (i == ours_at) rib.addNexthop(kOursText);
      if (i < 3) rib.addNexthop(others[i]);
    }
    ASSERT_EQ(rib.route.size(), ours_at < 0 ? 3u : 4u);
    auto r = replaceDefaultRoute(rib, kOurs, "test");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(rib.isExactly(kOursText)) << "ours at " << ours_at;
    EXPECT_EQ(rib.moments_without_default, 0u);
    EXPECT_LE(rib.writes.size(), 4u) << "one write per nexthop at most";
  }
}

TEST(DefaultRouteModel, WidestGroupConverges) {
  ModelRib rib;
  for (unsigned i = 0; i < kMaxMultipathWidth; ++i) {
    IpAddress gw = ip("198.18.1.0");
    gw.bytes[3] = static_cast<uint8_t>(i + 1);
    rib.addNexthop(gw.toString().c_str());
  }
  ASSERT_EQ(rib.route.size(), kMaxMultipathWidth);
  auto r = replaceDefaultRoute(rib, kOurs, "test");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(rib.isExactly(kOursText));
  EXPECT_EQ(rib.moments_without_default, 0u);
}

TEST(DefaultRouteModel, NonGatewayRoutesAreReplacedNotChanged) {
  ModelRib iface;
  iface.route.push_back(Nexthop{std::nullopt, 90});
  ASSERT_TRUE(replaceDefaultRoute(iface, kOurs, "test"));
  EXPECT_TRUE(iface.isExactly(kOursText)) << "RTM_CHANGE would keep the old interface";

  ModelRib blackhole;
  blackhole.addNexthop(kOursText);
  blackhole.route[0].blackhole = true;
  ASSERT_TRUE(replaceDefaultRoute(blackhole, kOurs, "test"));
  EXPECT_TRUE(blackhole.isExactly(kOursText)) << "RTM_CHANGE would keep RTF_BLACKHOLE";
}

TEST(DefaultRouteModel, OthersChangingTheRouteInBetween) {
  {  // deleted between our look and our RTM_CHANGE: ESRCH, look again, add
    ModelRib rib;
    rib.addNexthop("198.18.0.254");
    rib.before_write = [](ModelRib& m) { m.route.clear(); };
    ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
    EXPECT_TRUE(rib.isExactly(kOursText));
  }
  {  // added between our look and our RTM_ADD, multipath off: EEXIST, look again, change
    ModelRib rib;
    rib.multipath_enabled = false;
    rib.before_write = [](ModelRib& m) { m.addNexthop("198.18.0.254"); };
    ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
    EXPECT_TRUE(rib.isExactly(kOursText));
  }
  {  // added in between with multipath on: our add appends; the next rounds clean up
    ModelRib rib;
    rib.before_write = [](ModelRib& m) { m.addNexthop("198.18.0.254"); };
    ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
    EXPECT_TRUE(rib.isExactly(kOursText));
  }
  {  // turned multipath between our look and our RTM_CHANGE: ESRCH, look again
    ModelRib rib;
    rib.addNexthop("198.18.0.254");
    rib.before_write = [](ModelRib& m) { m.addNexthop("198.18.0.253"); };
    ASSERT_TRUE(replaceDefaultRoute(rib, kOurs, "test"));
    EXPECT_TRUE(rib.isExactly(kOursText));
  }
}

TEST(DefaultRouteModel, KernelErrorsAreReportedAndChangeNothing) {
  ModelRib rib;
  rib.addNexthop("198.18.0.254");
  rib.fail_next_write = ENETUNREACH;
  auto r = replaceDefaultRoute(rib, kOurs, "set default route via 198.18.0.1 in jail web");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENETUNREACH);
  EXPECT_EQ(r.error().context,
            "set default route via 198.18.0.1 in jail web: change the default route's gateway");
  EXPECT_TRUE(rib.isExactly("198.18.0.254"));

  ModelRib group;
  group.addNexthop("198.18.0.254");
  group.addNexthop("198.18.0.253");
  group.fail_next_write = EPERM;
  r = replaceDefaultRoute(group, kOurs, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().context, "x: remove nexthop 198.18.0.254 from the multipath default route");
}

TEST(DefaultRouteModel, AKernelThatHidesGroupsFailsLoudly) {
  // If groups did not report weight 0, the loop must end with an error, not spin or
  // claim success.
  ModelRib rib;
  rib.groups_report_weight_zero = false;
  rib.addNexthop("198.18.0.254");
  rib.addNexthop("198.18.0.253");
  auto r = replaceDefaultRoute(rib, kOurs, "test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EAGAIN);
  EXPECT_NE(r.error().context.find("did not settle"), std::string::npos);
  EXPECT_EQ(rib.lookups, kDefaultRouteRounds);
}

TEST(DefaultRouteModel, Ipv6) {
  ModelRib rib(IpFamily::V6);
  rib.addNexthop("2001:db8::fe");
  rib.addNexthop("2001:db8::fd");
  ASSERT_TRUE(replaceDefaultRoute(rib, ip("2001:db8::1"), "test"));
  EXPECT_TRUE(rib.isExactly("2001:db8::1"));
}

}  // namespace
}  // namespace vnetd::platform::fbsd
