// TCP / UDP socket-list decoding against byte images laid out field by field per the
// FreeBSD amd64 ABI (14 and 15; offsets pinned to the real headers in abi_checks.cc), as
// sys/netinet/tcp_subr.c tcp_pcblist / sys/netinet/udp_usrreq.c udp_pcblist write them:
//   struct xinpgen  64 bytes: xig_len u64 @0, xig_count u32 @8, xig_gen u64 @16,
//                             xig_sogen u64 @24 — once before the records, once after
//   struct xinpcb  400 bytes: xi_len u64 @0, xi_socket @8 (240 bytes),
//                             inp_inc @248 (in_conninfo: ie_fport @+4, ie_lport @+6, both
//                             network order; local address @+24, IPv4 in its last 4 bytes),
//                             inp_vflag u8 @392 (INP_IPV4 1, INP_IPV6 2)
//   struct xtcpcb  744 bytes: xt_len u64 @0, xt_inp (xinpcb) @8, t_state i32 @568
//                             (TCPS_LISTEN 1, TCPS_SYN_RECEIVED 3, TCPS_ESTABLISHED 4)
#include "platform/freebsd/pcblist_decode.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
void put(Bytes& b, size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), b.size());
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

void putNet16(Bytes& b, size_t offset, uint16_t value) {
  b.at(offset) = std::byte(value >> 8);
  b.at(offset + 1) = std::byte(value & 0xff);
}

constexpr int32_t kSynReceived = 3, kEstablished = 4, kTimeWait = 10;

struct Sock {
  uint8_t vflag = 0x1;  // INP_IPV4
  std::array<uint8_t, 16> laddr{};  // IPv4: first 4 bytes
  uint16_t lport = 0;
  uint16_t fport = 0;
};

Sock v4(std::array<uint8_t, 4> a, uint16_t lport, uint16_t fport = 0) {
  Sock s;
  std::memcpy(s.laddr.data(), a.data(), 4);
  s.lport = lport;
  s.fport = fport;
  return s;
}

constexpr std::array<uint8_t, 16> kV6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                      0,    0,    0,    0,    0, 0, 0, 0x01};

Sock v6(uint16_t lport, uint16_t fport = 0) {
  Sock s;
  s.vflag = 0x2;  // INP_IPV6
  s.laddr = kV6;
  s.lport = lport;
  s.fport = fport;
  return s;
}

// in_pcbtoxinpcb: xi_len = sizeof, xi_socket (not read), inp_inc copied whole, inp_vflag.
void putXinpcb(Bytes& b, size_t at, const Sock& s) {
  put<uint64_t>(b, at, 400);
  put<uint64_t>(b, at + 8, 240);  // xi_socket.xso_len: not ours to interpret
  const size_t inc = at + 248;
  putNet16(b, inc + 4, s.fport);
  putNet16(b, inc + 6, s.lport);
  if (s.vflag & 0x1) {
    std::memcpy(b.data() + inc + 24 + 12, s.laddr.data(), 4);  // in_addr_4in6.ia46_addr4
  } else {
    std::memcpy(b.data() + inc + 24, s.laddr.data(), 16);
  }
  put<uint8_t>(b, at + 392, s.vflag);
  put<uint8_t>(b, at + 394, 6);  // inp_ip_p: not ours to interpret
}

// tcp_inptoxtp: xt_len = sizeof(struct xtcpcb) (or longer: a newer kernel), t_state.
Bytes xtcpcb(const Sock& s, int32_t state, size_t length = 744) {
  Bytes b(length);
  put<uint64_t>(b, 0, length);
  putXinpcb(b, 8, s);
  std::memcpy(b.data() + 408, "freebsd", 7);  // xt_stack
  put<int32_t>(b, 568, state);
  return b;
}

Bytes xinpcb(const Sock& s, size_t length = 400) {
  Bytes b(length);
  putXinpcb(b, 0, s);
  put<uint64_t>(b, 0, length);
  return b;
}

Bytes xinpgen(uint64_t gen, uint32_t count) {
  Bytes b(64);
  put<uint64_t>(b, 0, 64);
  put<uint32_t>(b, 8, count);
  put<uint64_t>(b, 16, gen);
  put<uint64_t>(b, 24, gen + 100);  // xig_sogen
  return b;
}

// head + records + tail, as the two sysctl handlers write them.
Bytes list(std::initializer_list<Bytes> records, uint64_t gen = 7, uint64_t tail_gen = 7) {
  Bytes out = xinpgen(gen, static_cast<uint32_t>(records.size()));
  for (const auto& r : records) out.insert(out.end(), r.begin(), r.end());
  Bytes tail = xinpgen(tail_gen, static_cast<uint32_t>(records.size()));
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::vector<BoundPort> tcpPorts(const Bytes& b) {
  auto r = decodePcbList(b, PcbProto::Tcp);
  EXPECT_TRUE(r) << r.error().context;
  if (!r) return {};
  return boundPorts(r->sockets, PcbProto::Tcp);
}

std::vector<BoundPort> udpPorts(const Bytes& b) {
  auto r = decodePcbList(b, PcbProto::Udp);
  EXPECT_TRUE(r) << r.error().context;
  if (!r) return {};
  return boundPorts(r->sockets, PcbProto::Udp);
}

void expectOneLineError(const Bytes& b, PcbProto proto, const std::string& part) {
  auto r = decodePcbList(b, proto);
  ASSERT_FALSE(r) << "decoded " << r->sockets.size() << " sockets from bad input";
  EXPECT_EQ(r.error().code, EBADMSG);
  EXPECT_NE(r.error().context.find(part), std::string::npos) << r.error().context;
  EXPECT_NE(r.error().context.find(proto == PcbProto::Tcp ? "net.inet.tcp.pcblist"
                                                          : "net.inet.udp.pcblist"),
            std::string::npos)
      << r.error().context;
  EXPECT_EQ(r.error().context.find('\n'), std::string::npos) << r.error().context;
}

TEST(PcblistDecode, EmptyListIsHeadAndTailOnly) {
  auto r = decodePcbList(list({}), PcbProto::Tcp);
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_TRUE(r->sockets.empty());
  EXPECT_TRUE(r->consistent);
}

TEST(PcblistDecode, ListeningTcpIpv4Socket) {
  auto r = decodePcbList(list({xtcpcb(v4({198, 18, 0, 5}, 8080), 1)}), PcbProto::Tcp);
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->sockets.size(), 1u);
  const PcbSocket& s = r->sockets.front();
  EXPECT_EQ(s.local_port, 8080);  // network order in the record: 0x1f 0x90
  EXPECT_EQ(s.foreign_port, 0);
  EXPECT_EQ(s.local.toString(), "198.18.0.5");
  EXPECT_EQ(s.tcp_state, 1);
  EXPECT_EQ(boundPorts(r->sockets, PcbProto::Tcp),
            (std::vector<BoundPort>{{ExposeProto::Tcp, 8080}}));
}

TEST(PcblistDecode, ListeningTcpIpv6Socket) {
  auto r = decodePcbList(list({xtcpcb(v6(443), 1)}), PcbProto::Tcp);
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->sockets.size(), 1u);
  EXPECT_EQ(r->sockets.front().local.toString(), "2001:db8::1");
  EXPECT_EQ(r->sockets.front().vflag, kInpIpv6);
  EXPECT_EQ(boundPorts(r->sockets, PcbProto::Tcp),
            (std::vector<BoundPort>{{ExposeProto::Tcp, 443}}));
}

TEST(PcblistDecode, DualStackSocketShowsItsIpv4Side) {
  // A wildcard IPv6 socket without IPV6_V6ONLY also has INP_IPV4 (sockstat then prints
  // the IPv4 form); the port is the same either way.
  Sock s = v6(22);
  s.vflag = 0x1 | 0x2;
  s.laddr = {};
  auto r = decodePcbList(list({xtcpcb(s, 1)}), PcbProto::Tcp);
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_EQ(r->sockets.front().local.toString(), "0.0.0.0");
  EXPECT_EQ(tcpPorts(list({xtcpcb(s, 1)})), (std::vector<BoundPort>{{ExposeProto::Tcp, 22}}));
}

TEST(PcblistDecode, OnlyListeningTcpSocketsCount) {
  // A connection accepted on the listener (same local port), an embryonic one from the
  // syncache, one in TIME_WAIT and an outgoing one: none is a listener.
  const Bytes b = list({
      xtcpcb(v4({198, 18, 0, 5}, 5432, 40000), kEstablished),
      xtcpcb(v4({198, 18, 0, 5}, 5432, 40001), kSynReceived),
      xtcpcb(v4({198, 18, 0, 5}, 5432, 40002), kTimeWait),
      xtcpcb(v4({198, 18, 0, 5}, 51000, 443), kEstablished),
  });
  auto r = decodePcbList(b, PcbProto::Tcp);
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_EQ(r->sockets.size(), 4u);
  EXPECT_TRUE(boundPorts(r->sockets, PcbProto::Tcp).empty());
  // With the listener itself in the list, exactly it counts.
  EXPECT_EQ(tcpPorts(list({xtcpcb(v4({198, 18, 0, 5}, 5432, 40000), kEstablished),
                           xtcpcb(v4({0, 0, 0, 0}, 5432), 1)})),
            (std::vector<BoundPort>{{ExposeProto::Tcp, 5432}}));
}

TEST(PcblistDecode, BoundUdpSocketsCountUnboundAndConnectedOnesDoNot) {
  const Bytes b = list({
      xinpcb(v4({0, 0, 0, 0}, 53)),           // bound: a server
      xinpcb(v4({0, 0, 0, 0}, 0)),            // socket(2) only: no port yet
      xinpcb(v4({198, 18, 0, 5}, 41000, 53)),  // connected: a client's
      xinpcb(v6(5353)),                       // bound IPv6
  });
  auto r = decodePcbList(b, PcbProto::Udp);
  ASSERT_TRUE(r) << r.error().context;
  ASSERT_EQ(r->sockets.size(), 4u);
  EXPECT_FALSE(r->sockets.front().tcp_state);
  EXPECT_EQ(r->sockets[1].local_port, 0);
  EXPECT_EQ(boundPorts(r->sockets, PcbProto::Udp),
            (std::vector<BoundPort>{{ExposeProto::Udp, 53}, {ExposeProto::Udp, 5353}}));
}

TEST(PcblistDecode, LongerRecordsOfANewerKernelAreWalkedByTheirLength) {
  // xt_len / xi_len larger than today's struct: fields appended at the end; the next
  // record starts where the length says, not at sizeof.
  EXPECT_EQ(tcpPorts(list({xtcpcb(v4({0, 0, 0, 0}, 80), 1, 744 + 64),
                           xtcpcb(v4({0, 0, 0, 0}, 443), 1)})),
            (std::vector<BoundPort>{{ExposeProto::Tcp, 80}, {ExposeProto::Tcp, 443}}));
  EXPECT_EQ(udpPorts(list({xinpcb(v4({0, 0, 0, 0}, 53), 400 + 40), xinpcb(v6(123))})),
            (std::vector<BoundPort>{{ExposeProto::Udp, 53}, {ExposeProto::Udp, 123}}));
}

TEST(PcblistDecode, ALongerXinpgenIsSkippedByItsLength) {
  Bytes head = xinpgen(7, 1);
  head.resize(96);
  put<uint64_t>(head, 0, 96);
  Bytes b = head;
  const Bytes rec = xtcpcb(v4({0, 0, 0, 0}, 25), 1);
  b.insert(b.end(), rec.begin(), rec.end());
  b.insert(b.end(), head.begin(), head.end());
  EXPECT_EQ(tcpPorts(b), (std::vector<BoundPort>{{ExposeProto::Tcp, 25}}));
}

TEST(PcblistDecode, DifferentHeadAndTailGenerationsAreReported) {
  auto r = decodePcbList(list({xinpcb(v4({0, 0, 0, 0}, 53))}, 7, 9), PcbProto::Udp);
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_FALSE(r->consistent);
  EXPECT_EQ(r->sockets.size(), 1u);
}

TEST(PcblistDecode, TruncatedListsAreRefused) {
  const Bytes whole = list({xtcpcb(v4({0, 0, 0, 0}, 80), 1)});
  // Without its tail, cut inside the record, cut inside the head.
  expectOneLineError(Bytes(whole.begin(), whole.end() - 64), PcbProto::Tcp,
                     "the closing xinpgen has length");
  expectOneLineError(Bytes(whole.begin(), whole.begin() + 64 + 300), PcbProto::Tcp, "at byte");
  expectOneLineError(Bytes(whole.begin(), whole.begin() + 40), PcbProto::Tcp,
                     "shorter than its xinpgen header");
  expectOneLineError({}, PcbProto::Udp, "0 bytes");
}

TEST(PcblistDecode, BadLengthsAreRefused) {
  // A record length of 0 (would loop), shorter than the struct, past the tail.
  for (uint64_t len : {uint64_t{0}, uint64_t{399}, uint64_t{10000}, ~uint64_t{0}}) {
    Bytes b = list({xinpcb(v4({0, 0, 0, 0}, 53))});
    put<uint64_t>(b, 64, len);
    expectOneLineError(b, PcbProto::Udp, "record length " + std::to_string(len));
  }
  // A UDP-sized record in a TCP list.
  expectOneLineError(list({xinpcb(v4({0, 0, 0, 0}, 53))}), PcbProto::Tcp,
                     "shorter than a struct xtcpcb (744)");
  // Bytes between the last record and the tail that are no record.
  Bytes b = list({xinpcb(v4({0, 0, 0, 0}, 53)), Bytes(4)});
  expectOneLineError(b, PcbProto::Udp, "stray bytes");
}

TEST(PcblistDecode, ATcpRecordWithAnUnknownXinpcbSizeIsRefused) {
  // t_state follows the embedded xinpcb: if that grew, the state would be misread.
  Bytes rec = xtcpcb(v4({0, 0, 0, 0}, 80), 1);
  put<uint64_t>(rec, 8, 408);
  expectOneLineError(list({rec}), PcbProto::Tcp, "embedded xinpcb length 408");
}

TEST(PcblistDecode, GarbageIsRefused) {
  Bytes zeros(1024);
  expectOneLineError(zeros, PcbProto::Tcp, "xinpgen length 0");
  Bytes text;
  for (char c : std::string(200, 'x')) text.push_back(std::byte(c));
  expectOneLineError(text, PcbProto::Udp, "not a PCB list");
  // A head whose length is right but no matching tail.
  Bytes b = xinpgen(1, 0);
  b.resize(64 + 64 + 400, std::byte{0x5a});
  expectOneLineError(b, PcbProto::Udp, "the closing xinpgen has length");
  // Records that tile exactly, but what closes the list is no xinpgen.
  Bytes c = list({xinpcb(v4({0, 0, 0, 0}, 53))});
  put<uint64_t>(c, c.size() - 64, 400);
  expectOneLineError(c, PcbProto::Udp, "the closing xinpgen has length 400, expected 64");
}

}  // namespace
}  // namespace vnetd::platform::fbsd
