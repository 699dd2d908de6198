// The sampled capture's kernel filters (collectors/sample_filter.h).
//
// The header-hash flavour (FreeBSD's) runs here in libpcap's BPF interpreter bpf_filter()
// — the same semantics as FreeBSD's sys/net/bpf_filter.c bpf_filter() for its opcodes
// (read there: an out-of-frame BPF_LD|BPF_W|BPF_ABS returns 0; BPF_LEN is the wire length;
// BPF_JGE is unsigned; BPF_ST/BPF_LD|BPF_MEM use the 16 scratch words) — over synthetic
// streams whose header fields move in lock-step the way real senders move them: ping
// request/reply pairs, a TCP bulk transfer and its ACKs, UDP with a counter (connected, and
// unconnected with IP id 0), TCP over IPv6, and all of them interleaved.
//
// The statistics, per stream kind and N, over R flows of K frames each (fixed seeds: the
// result is deterministic; a hash that behaves like independent draws fails a given
// check with probability ~6e-7 at 5 sd, so a pass is stable and a failure is a real bias):
//   - the estimate over all R x K frames is within 5 binomial sd of the truth;
//   - the dispersion of the R per-flow counts: sum of z^2 is within R ± 5 sqrt(2R) (its
//     chi-square mean and sd). Runs of equal decisions make it too large, an arithmetic
//     progression stepping through the threshold (what a near-linear hash does with
//     lock-step counters) too small;
//   - consecutive frames: the number of (selected, selected) neighbours is within 5 sd of
//     pairs / N^2 (ping's request and reply are neighbours).
// Mutations that fail these (see the report of issue 17): the first version's
// add-shift finalizer (h += h >> 16; ...) instead of the xor-shifts: TCP/UDP neighbour
// z -46..-79, dispersion 44 (UDP counter) and 8886 (unconnected UDP counter at 1 in 64,
// estimate x0.967).
#include "collectors/sample_filter.h"

#include <gtest/gtest.h>
#include <pcap.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace vnetd::collectors {
namespace {

// A frame as the filter sees it: its first bytes (all the program reads: 94) and its wire
// length. Payload beyond kHead bytes is constant per flow and enters the checksums as a
// precomputed sum, which keeps the generators fast.
constexpr size_t kHead = 128;
struct Frame {
  std::vector<uint8_t> b;
  uint32_t wire = 0;
  uint8_t& operator[](size_t i) { return b[i]; }
  size_t size() const { return wire; }
};

bool same(const bpf_insn& a, const bpf_insn& b) {
  return a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k;
}
std::string show(const bpf_insn& i) {
  return "{0x" + std::to_string(i.code) + ", " + std::to_string(i.jt) + ", " + std::to_string(i.jf) + ", " +
         std::to_string(i.k) + "}";
}

u_int run(const std::vector<bpf_insn>& p, const Frame& frame) {
  return bpf_filter(p.data(), frame.b.data(), frame.wire, static_cast<u_int>(frame.b.size()));
}
u_int run(const std::vector<bpf_insn>& p, const std::vector<uint8_t>& bytes) {
  return bpf_filter(p.data(), bytes.data(), static_cast<u_int>(bytes.size()), static_cast<u_int>(bytes.size()));
}

template <typename F>
void put16(F& f, size_t at, uint32_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
template <typename F>
void put32(F& f, size_t at, uint32_t v) {
  put16(f, at, v >> 16);
  put16(f, at + 2, v & 0xffff);
}
uint32_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
// The 16-bit one's-complement sum of f.b[from, min(to, head)) added to `sum`, folded; the
// bytes past the head are the flow's constant payload, whose sum `tail` the caller knows.
uint32_t onesSum(const Frame& f, size_t from, size_t to, uint32_t sum = 0, uint32_t tail = 0) {
  size_t end = std::min(to, f.b.size());
  for (size_t k = from; k + 1 < end; k += 2) sum += uint32_t{f.b[k]} << 8 | f.b[k + 1];
  if ((end - from) & 1) sum += uint32_t{f.b[end - 1]} << 8;
  return fold(sum + tail);
}
// The one's-complement sum of bytes [from, to) of a frame whose byte j is pattern(j) (from
// even, as every head length is).
template <typename Pattern>
uint32_t patternSum(size_t from, size_t to, Pattern pattern) {
  uint32_t sum = 0;
  for (size_t k = from; k < to; k += 2) sum += uint32_t{pattern(k)} << 8 | (k + 1 < to ? pattern(k + 1) : 0u);
  return fold(sum);
}

template <typename F>
void ether(F& f, uint32_t src, uint32_t dst, uint16_t type) {
  for (int i = 0; i < 6; ++i) {
    f[i] = static_cast<uint8_t>(dst >> (i % 4 * 8));
    f[6 + i] = static_cast<uint8_t>(src >> (i % 4 * 8));
  }
  f[0] = f[6] = 0x02;
  put16(f, 12, type);
}

// Ethernet + IPv4 (198.18.x.y addresses) with a correct header checksum, `l4` bytes after.
Frame ipv4(uint8_t proto, size_t l4, uint16_t id, bool df, uint32_t src, uint32_t dst) {
  Frame f{std::vector<uint8_t>(std::min<size_t>(14 + 20 + l4, kHead), 0), static_cast<uint32_t>(14 + 20 + l4)};
  ether(f, src, dst, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<uint32_t>(20 + l4));
  put16(f, 18, id);
  put16(f, 20, df ? 0x4000 : 0);
  f[22] = 64;
  f[23] = proto;
  put32(f, 26, src);
  put32(f, 30, dst);
  put16(f, 24, ~onesSum(f, 14, 34) & 0xffff);
  return f;
}
// The TCP/UDP checksum at `at` over the IPv4 pseudo header and the segment (`tail`: the
// sum of the bytes past the head).
void l4Checksum4(Frame& f, size_t at, uint32_t tail) {
  uint32_t pseudo = onesSum(f, 26, 34) + f[23] + static_cast<uint32_t>(f.size() - 34);
  put16(f, at, 0);
  put16(f, at, ~onesSum(f, 34, f.size(), pseudo, tail) & 0xffff);
}

uint32_t addr4(std::mt19937& r) { return 0xC6120000u | (r() & 0x1ffff); }  // 198.18.0.0/15

// One flow of each kind, `k` frames, parameters drawn from `r`.
using Stream = std::function<std::vector<Frame>(std::mt19937& r, int k)>;

// ping -f: echo request (IP id 0 under DF, as Linux sends it from an unconnected socket)
// and its reply (the peer's IP id counter, +1 a packet with an occasional jump), the same
// sequence number and data: ping's send time (struct timeval, host order) then the
// pattern 0x10, 0x11, ... `jitter`: the spread of the send interval in microseconds (0:
// perfectly regular, the worst case for a near-linear hash).
std::vector<Frame> pingFlood(std::mt19937& r, int k, size_t data, int jitter) {
  std::vector<Frame> out;
  uint32_t a = addr4(r), b = addr4(r);
  uint16_t ident = static_cast<uint16_t>(r()), reply_id = static_cast<uint16_t>(r());
  uint64_t sec = 1765000000u + r() % 1000, usec = r() % 1000000;
  uint16_t seq = static_cast<uint16_t>(r());
  auto pattern = [](size_t j) { return static_cast<uint8_t>(j - 42); };  // data byte j - 42
  const uint32_t tail = 42 + data > kHead ? patternSum(kHead, 42 + data, pattern) : 0;
  for (int i = 0; i < k / 2; ++i, ++seq) {
    usec += 20 + (jitter ? r() % jitter : 0);
    if (usec >= 1000000) usec -= 1000000, ++sec;
    Frame q = ipv4(1, 8 + data, 0, true, a, b);
    q[34] = 8;
    put16(q, 38, ident);
    put16(q, 40, seq);
    for (int j = 0; j < 8; ++j) {
      q[42 + j] = static_cast<uint8_t>(sec >> (8 * j));
      q[50 + j] = static_cast<uint8_t>(usec >> (8 * j));
    }
    for (size_t j = 58; j < q.b.size(); ++j) q[j] = pattern(j);
    put16(q, 36, ~onesSum(q, 34, q.size(), 0, tail) & 0xffff);
    reply_id = static_cast<uint16_t>(reply_id + 1 + (r() % 64 == 0 ? r() % 4 : 0));
    Frame p = ipv4(1, 8 + data, reply_id, false, b, a);
    std::copy(q.b.begin() + 34, q.b.end(), p.b.begin() + 34);
    p[34] = 0;
    put16(p, 36, 0);
    put16(p, 36, ~onesSum(p, 34, p.size(), 0, tail) & 0xffff);
    out.push_back(std::move(q));
    out.push_back(std::move(p));
  }
  return out;
}

// A TCP segment with the timestamp option (32-byte header) over IPv4 or IPv6.
Frame tcpSegment(bool v6, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                 uint16_t id, uint32_t tsval, uint32_t tsecr, size_t payload) {
  const size_t l4 = 32 + payload;
  Frame f;
  size_t t;
  if (v6) {
    f = Frame{std::vector<uint8_t>(std::min<size_t>(14 + 40 + l4, kHead), 0), static_cast<uint32_t>(14 + 40 + l4)};
    ether(f, src, dst, 0x86DD);
    put32(f, 14, 0x60000000u | (src & 0xfffff));  // flow label: per flow
    put16(f, 18, static_cast<uint32_t>(l4));
    f[20] = 6;
    f[21] = 64;
    put32(f, 22, 0x20010db8);
    put32(f, 34, src);
    put32(f, 38, 0x20010db8);
    put32(f, 50, dst);
    t = 54;
  } else {
    f = ipv4(6, l4, id, true, src, dst);
    t = 34;
  }
  put16(f, t, sport);
  put16(f, t + 2, dport);
  put32(f, t + 4, seq);
  put32(f, t + 8, ack);
  f[t + 12] = 0x80;
  f[t + 13] = 0x10;
  put16(f, t + 14, 502);
  f[t + 20] = 1;
  f[t + 21] = 1;
  f[t + 22] = 8;
  f[t + 23] = 10;
  put32(f, t + 24, tsval);
  put32(f, t + 28, tsecr);
  // Payload byte j is 'a' + j % 26; the sum of the part past the head is per frame size.
  auto pattern = [t](size_t j) { return static_cast<uint8_t>('a' + (j - t - 32) % 26); };
  for (size_t j = t + 32; j < f.b.size(); ++j) f[j] = pattern(j);
  struct Tail {
    size_t wire, t;
    uint32_t sum;
  };
  static std::vector<Tail> tails;  // per frame layout
  uint32_t tail = 0;
  if (f.size() > kHead) {
    auto it = std::find_if(tails.begin(), tails.end(), [&](const Tail& e) { return e.wire == f.size() && e.t == t; });
    if (it == tails.end()) it = tails.insert(tails.end(), Tail{f.size(), t, patternSum(kHead, f.size(), pattern)});
    tail = it->sum;
  }
  if (v6) {
    uint32_t pseudo = onesSum(f, 22, 54) + 6 + static_cast<uint32_t>(l4);
    put16(f, t + 16, ~onesSum(f, t, f.size(), pseudo, tail) & 0xffff);
  } else {
    l4Checksum4(f, t + 16, tail);
  }
  return f;
}

// A bulk transfer: 1448-byte segments (seq += 1448, IP id +1 per segment, the timestamp
// ticking every few segments, the acknowledgement still), or its pure ACKs (every second
// segment: ack += 2896).
std::vector<Frame> tcpBulk(std::mt19937& r, int k, bool v6, bool acks) {
  std::vector<Frame> out;
  uint32_t a = addr4(r), b = addr4(r), seq = r(), ack = r(), tsval = r(), tsecr = r();
  uint16_t id = static_cast<uint16_t>(r()), port = static_cast<uint16_t>(32768 + r() % 28000);
  for (int i = 0; i < k; ++i) {
    if (r() % 8 == 0) ++tsval;
    if (acks) {
      ack += 2896;
      out.push_back(tcpSegment(v6, b, a, 5001, port, seq, ack, id++, tsval, tsecr, 0));
    } else {
      out.push_back(tcpSegment(v6, a, b, port, 5001, seq, ack, id++, tsval, tsecr, 1448));
      seq += 1448;
    }
  }
  return out;
}

// UDP with a 32-bit counter at the start of a constant payload (RTP-like), correct
// checksum; `connected`: the IP id moves +1 a datagram, else it is 0 (Linux, DF,
// unconnected socket) and only the counter and checksum move.
std::vector<Frame> udpCounter(std::mt19937& r, int k, bool connected) {
  std::vector<Frame> out;
  uint32_t a = addr4(r), b = addr4(r), counter = r();
  uint16_t id = static_cast<uint16_t>(r()), port = static_cast<uint16_t>(32768 + r() % 28000);
  for (int i = 0; i < k; ++i) {
    Frame f = ipv4(17, 8 + 100, connected ? id++ : 0, true, a, b);
    put16(f, 34, port);
    put16(f, 36, 7000);
    put16(f, 38, 108);
    put32(f, 42, counter++);
    for (size_t j = 46; j < f.b.size(); ++j) f[j] = 'u';
    l4Checksum4(f, 40, patternSum(kHead, f.size(), [](size_t) { return uint8_t{'u'}; }));
    out.push_back(std::move(f));
  }
  return out;
}

struct Kind {
  const char* name;
  Stream make;
};
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = {
      {"ping 56 bytes", [](std::mt19937& r, int k) { return pingFlood(r, k, 56, 30); }},
      {"ping 1000 bytes", [](std::mt19937& r, int k) { return pingFlood(r, k, 1000, 30); }},
      {"ping regular", [](std::mt19937& r, int k) { return pingFlood(r, k, 56, 0); }},
      {"TCP bulk", [](std::mt19937& r, int k) { return tcpBulk(r, k, false, false); }},
      {"TCP ACKs", [](std::mt19937& r, int k) { return tcpBulk(r, k, false, true); }},
      {"TCP bulk IPv6", [](std::mt19937& r, int k) { return tcpBulk(r, k, true, false); }},
      {"UDP counter", [](std::mt19937& r, int k) { return udpCounter(r, k, true); }},
      {"UDP counter, id 0", [](std::mt19937& r, int k) { return udpCounter(r, k, false); }},
  };
  return all;
}

constexpr double kSd = 5;  // the margin of every statistical check

struct Check {
  uint64_t frames = 0, selected = 0, pairs = 0, selected_pairs = 0;
  uint64_t bytes = 0, selected_bytes = 0;
  double sum_z2 = 0;
  int flows = 0;
  void flow(const std::vector<bpf_insn>& p, uint32_t n, const std::vector<Frame>& frames_of_flow) {
    uint64_t s = 0;
    int previous = -1;
    for (const auto& f : frames_of_flow) {
      int d = run(p, f) != 0;
      s += d;
      bytes += f.size();
      if (d) selected_bytes += f.size();
      if (previous >= 0) {
        ++pairs;
        selected_pairs += previous && d;
      }
      previous = d;
    }
    const double k = static_cast<double>(frames_of_flow.size()), q = 1.0 / n;
    const double z = (static_cast<double>(s) - k * q) / std::sqrt(k * q * (1 - q));
    sum_z2 += z * z;
    frames += frames_of_flow.size();
    selected += s;
    ++flows;
  }
  // The three checks of the file's header.
  void expectUnbiased(const std::string& what, uint32_t n) const {
    const double q = 1.0 / n, f = static_cast<double>(frames);
    const double sd = std::sqrt(f * q * (1 - q));
    EXPECT_NEAR(static_cast<double>(selected), f * q, kSd * sd)
        << what << ": estimate x" << static_cast<double>(selected) * n / f;
    const double r = flows, chi_sd = std::sqrt(2 * r);
    EXPECT_NEAR(sum_z2, r, kSd * chi_sd) << what << ": dispersion of the per-flow counts (sum of z^2 over " << flows
                                         << " flows)";
    const double pe = static_cast<double>(pairs) * q * q;
    EXPECT_NEAR(static_cast<double>(selected_pairs), pe, kSd * std::sqrt(pe)) << what << ": selected neighbours";
  }
};

TEST(SampleFilter, ThresholdIsTwoToThe32OverN) {
  EXPECT_EQ(sampleThreshold(64), 0x04000000u);
  EXPECT_EQ(sampleThreshold(2), 0x80000000u);
  EXPECT_EQ(sampleThreshold(100), 42949672u);
  EXPECT_EQ(sampleThreshold(65536), 65536u);
  EXPECT_EQ(sampleThreshold(1), 0xFFFFFFFFu);
}

TEST(SampleFilter, RandomFlavourIsTheLinuxRandomLoadAndAThreshold) {
  auto p = sampleFilterRandom(64, 128);
  ASSERT_EQ(p.size(), 4u);
  // SKF_AD_OFF + SKF_AD_RANDOM: -0x1000 + 56 (linux/filter.h).
  EXPECT_TRUE(same(p[0], {BPF_LD | BPF_W | BPF_ABS, 0, 0, 0xFFFFF038u})) << show(p[0]);
  EXPECT_TRUE(same(p[1], {BPF_JMP | BPF_JGE | BPF_K, 1, 0, 0x04000000u})) << show(p[1]);
  EXPECT_TRUE(same(p[2], {BPF_RET | BPF_K, 0, 0, 128})) << show(p[2]);
  EXPECT_TRUE(same(p[3], {BPF_RET | BPF_K, 0, 0, 0})) << show(p[3]);
  EXPECT_TRUE(bpf_validate(p.data(), static_cast<int>(p.size())));
  EXPECT_EQ(sampleFilter(SampleFlavour::kRandom, 100, 65535)[1].k, 42949672u);
  // A user-space interpreter runs the load as an ordinary out-of-frame load and rejects
  // every frame: the capture must know the kernel holds this program (capture.cc).
  std::vector<uint8_t> f(1500, 0xab);
  EXPECT_EQ(run(p, f), 0u);
}

TEST(SampleFilter, HashFlavourInstructions) {
  auto p = sampleFilterHash(64, 128);
  ASSERT_EQ(p.size(), 2u + 20 + 4 * 20 + 3 + 11 + 1 + 11 + 1 + 3);
  const std::vector<std::pair<size_t, bpf_insn>> want = {
      {0, {BPF_LDX | BPF_W | BPF_IMM, 0, 0, 0}},
      {1, {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}},
      // length tests: 20 words fit (len >= 94) → the block of word 19 (index 22)
      {2, {BPF_JMP | BPF_JGE | BPF_K, 19, 0, 94}},
      {3, {BPF_JMP | BPF_JGE | BPF_K, 22, 0, 90}},    // 19 words → word 18's block (26)
      {20, {BPF_JMP | BPF_JGE | BPF_K, 73, 0, 22}},   // 2 words → word 1's block (94)
      {21, {BPF_JMP | BPF_JGE | BPF_K, 76, 80, 18}},  // 1 word → word 0's block (98); none → 102
      {22, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 90}},
      {23, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {24, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      {25, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {26, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 86}},
      {98, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 14}},
      {101, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {102, {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}},
      {103, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {104, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      // h ^= h >> 16 as (h | h >> 16) - (h & h >> 16)
      {105, {BPF_ST, 0, 0, 0}},
      {106, {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16}},
      {107, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {108, {BPF_LD | BPF_MEM, 0, 0, 0}},
      {109, {BPF_ALU | BPF_OR | BPF_X, 0, 0, 0}},
      {110, {BPF_ST, 0, 0, 1}},
      {111, {BPF_LD | BPF_MEM, 0, 0, 0}},
      {112, {BPF_ALU | BPF_AND | BPF_X, 0, 0, 0}},
      {113, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {114, {BPF_LD | BPF_MEM, 0, 0, 1}},
      {115, {BPF_ALU | BPF_SUB | BPF_X, 0, 0, 0}},
      {116, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x85EBCA6Bu}},
      {118, {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 13}},
      {128, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0xC2B2AE35u}},
      {129, {BPF_JMP | BPF_JGE | BPF_K, 1, 0, 0x04000000u}},
      {130, {BPF_RET | BPF_K, 0, 0, 128}},
      {131, {BPF_RET | BPF_K, 0, 0, 0}},
  };
  for (const auto& [at, insn] : want)
    EXPECT_TRUE(same(p[at], insn)) << at << ": " << show(p[at]) << " want " << show(insn);
  // Only opcodes that FreeBSD's oldest bpf_validate() opcode map read (releng/11.3
  // sys/net/bpf_filter.c bpf_code_map: no BPF_MOD, no BPF_XOR) admits, as does Linux.
  const uint16_t allowed[] = {BPF_LDX | BPF_W | BPF_IMM, BPF_LD | BPF_W | BPF_LEN,  BPF_JMP | BPF_JGE | BPF_K,
                              BPF_LD | BPF_W | BPF_ABS,  BPF_ALU | BPF_ADD | BPF_X, BPF_MISC | BPF_TAX,
                              BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_RSH | BPF_K, BPF_RET | BPF_K,
                              BPF_ST,                    BPF_LD | BPF_MEM,          BPF_ALU | BPF_OR | BPF_X,
                              BPF_ALU | BPF_AND | BPF_X, BPF_ALU | BPF_SUB | BPF_X};
  for (const auto& i : p) EXPECT_NE(std::find(std::begin(allowed), std::end(allowed), i.code), std::end(allowed)) << show(i);
  EXPECT_TRUE(bpf_validate(p.data(), static_cast<int>(p.size())));
  EXPECT_LT(p.size(), 256u);
  EXPECT_EQ(sampleFilter(SampleFlavour::kHeaderHash, 100, 65535)[129].k, 42949672u);
  EXPECT_EQ(sampleFilter(SampleFlavour::kHeaderHash, 100, 65535)[130].k, 65535u);
}

// The program and sampleHash agree on every frame length around and inside the window
// (a wrong jump offset or length bound hashes the wrong words, or loads past the frame
// and drops what should pass); the emulated XOR is an XOR.
TEST(SampleFilter, InterpreterAgreesWithTheHashForEveryLength) {
  std::mt19937 rng(7);
  const auto p = sampleFilterHash(4, 96);
  int passed = 0, total = 0;
  for (size_t len = 0; len <= 120; ++len)
    for (int round = 0; round < 40; ++round) {
      std::vector<uint8_t> f(len);
      for (auto& b : f) b = static_cast<uint8_t>(rng());
      bool pass = sampleHash(f.data(), static_cast<uint32_t>(len), static_cast<uint32_t>(len)) < sampleThreshold(4);
      ASSERT_EQ(run(p, f), pass ? 96u : 0u) << "length " << len << " round " << round;
      passed += pass;
      ++total;
    }
  EXPECT_NEAR(double(passed) / total, 0.25, 0.02);
}

TEST(SampleFilter, ShortFramesAreDecidedWithoutReadingPastThem) {
  const auto p = sampleFilterHash(2, 64);
  for (size_t len : {0u, 1u, 13u, 14u, 17u}) {
    std::vector<uint8_t> f(len, 0xab);
    bool pass = sampleHash(f.data(), static_cast<uint32_t>(len), static_cast<uint32_t>(len)) < sampleThreshold(2);
    EXPECT_EQ(run(p, f), pass ? 64u : 0u) << len;
  }
}

// Each kind of lock-step stream alone, at 1 in 8 (100 flows x 2000 frames) and 1 in 64
// (100 flows x 4000 frames).
TEST(SampleFilter, HashSamplesLockStepStreamsLikeIndependentDraws) {
  for (uint32_t n : {8u, 64u}) {
    const auto p = sampleFilterHash(n, 128);
    const int k = n == 8 ? 2000 : 4000;
    for (const auto& kind : kinds()) {
      std::mt19937 rng(1000 + n);
      Check c;
      for (int flow = 0; flow < 100; ++flow) c.flow(p, n, kind.make(rng, k));
      c.expectUnbiased(std::string(kind.name) + " at 1 in " + std::to_string(n), n);
    }
  }
}

// All kinds at once, interleaved frame by frame (the order a bridge sees): each
// protocol's share of the sample is its share of the traffic, frames and bytes, at 1 in 64
// (bytes: within 5 sd of a binomial sample of frames of those sizes).
TEST(SampleFilter, MixedTrafficIsSampledEvenlyPerKind) {
  const uint32_t n = 64;
  const auto p = sampleFilterHash(n, 128);
  std::mt19937 rng(99);
  const auto& all = kinds();
  std::vector<Check> per_kind(all.size());
  std::vector<double> sum_sq(all.size());
  for (int round = 0; round < 25; ++round) {
    std::vector<std::vector<Frame>> flows;
    for (const auto& kind : all) flows.push_back(kind.make(rng, 4000));
    for (size_t i = 0; i < 4000; ++i)
      for (size_t kd = 0; kd < all.size(); ++kd) {
        const Frame& f = flows[kd][i];
        auto& c = per_kind[kd];
        bool d = run(p, f) != 0;
        ++c.frames;
        c.selected += d;
        c.bytes += f.size();
        c.selected_bytes += d ? f.size() : 0;
        sum_sq[kd] += double(f.size()) * double(f.size());
      }
  }
  const double q = 1.0 / n;
  for (size_t kd = 0; kd < all.size(); ++kd) {
    const auto& c = per_kind[kd];
    const double f = double(c.frames);
    EXPECT_NEAR(double(c.selected), f * q, kSd * std::sqrt(f * q * (1 - q))) << all[kd].name << " frames";
    EXPECT_NEAR(double(c.selected_bytes), double(c.bytes) * q, kSd * std::sqrt(sum_sq[kd] * q * (1 - q)))
        << all[kd].name << " bytes";
  }
}

}  // namespace
}  // namespace vnetd::collectors
