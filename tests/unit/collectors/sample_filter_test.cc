// The sampled capture's kernel filter (collectors/sample_filter.h): its exact
// instructions, libpcap's validator (the BSD bpf_validate rules) and libpcap's BPF
// interpreter bpf_filter() run on fixture frames — the same semantics as FreeBSD's
// sys/net/bpf_filter.c bpf_filter() for these opcodes (read there: out-of-frame
// BPF_LD|BPF_W|BPF_ABS returns 0; BPF_LEN is the wire length; BPF_JGE is unsigned).
#include "collectors/sample_filter.h"

#include <gtest/gtest.h>
#include <pcap.h>

#include <cstdint>
#include <random>
#include <vector>

namespace vnetd::collectors {
namespace {

bool same(const bpf_insn& a, const bpf_insn& b) {
  return a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k;
}
std::string show(const bpf_insn& i) {
  return "{0x" + std::to_string(i.code) + ", " + std::to_string(i.jt) + ", " + std::to_string(i.jf) + ", " +
         std::to_string(i.k) + "}";
}

u_int run(const std::vector<bpf_insn>& p, const std::vector<uint8_t>& frame) {
  return bpf_filter(p.data(), frame.data(), static_cast<u_int>(frame.size()), static_cast<u_int>(frame.size()));
}

void put16(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& f, size_t at, uint32_t v) {
  put16(f, at, v >> 16);
  put16(f, at + 2, v & 0xffff);
}

// Ethernet + IPv4 header (identification `id`) for `l4` bytes of protocol `proto`.
std::vector<uint8_t> ipv4(uint8_t proto, size_t l4, uint16_t id) {
  std::vector<uint8_t> f(14 + 20 + l4, 0);
  const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  std::copy(macs, macs + 12, f.begin());
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<uint32_t>(20 + l4));
  put16(f, 18, id);
  put16(f, 20, 0x4000);  // DF
  f[22] = 64;
  f[23] = proto;
  put32(f, 26, 0xC6120001);  // 198.18.0.1
  put32(f, 30, 0xC6120002);
  return f;
}

// A TCP segment over IPv4 with the given sequence number, `payload` bytes of zeros, IP id
// 0 (the worst case: RFC 6864 lets a sender leave the id of atomic DF datagrams at 0)
// and the checksum field left as an offloading sender leaves it (constant per length).
std::vector<uint8_t> tcp4(uint32_t seq, uint32_t ack, size_t payload) {
  auto f = ipv4(6, 20 + payload, 0);
  put16(f, 34, 40000);
  put16(f, 36, 443);
  put32(f, 38, seq);
  put32(f, 42, ack);
  f[46] = 0x50;
  f[47] = 0x10;  // ACK
  put16(f, 48, 501);
  put16(f, 50, 0x1234);
  return f;
}

TEST(SampleFilter, ThresholdIsTwoToThe32OverN) {
  EXPECT_EQ(sampleThreshold(64), 0x04000000u);
  EXPECT_EQ(sampleThreshold(2), 0x80000000u);
  EXPECT_EQ(sampleThreshold(100), 42949672u);
  EXPECT_EQ(sampleThreshold(65536), 65536u);
  EXPECT_EQ(sampleThreshold(1), 0xFFFFFFFFu);
}

TEST(SampleFilter, ExactInstructions) {
  auto p = sampleFilter(64, 128);
  ASSERT_EQ(p.size(), 2u + 20 + 4 * 20 + 14);
  const std::vector<std::pair<size_t, bpf_insn>> want = {
      {0, {BPF_LDX | BPF_W | BPF_IMM, 0, 0, 0}},
      {1, {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}},
      // length tests: 20 words fit (len >= 94) → the block of word 19 (index 22)
      {2, {BPF_JMP | BPF_JGE | BPF_K, 19, 0, 94}},
      {3, {BPF_JMP | BPF_JGE | BPF_K, 22, 0, 90}},   // 19 words → word 18's block (26)
      {20, {BPF_JMP | BPF_JGE | BPF_K, 73, 0, 22}},  // 2 words → word 1's block (94)
      {21, {BPF_JMP | BPF_JGE | BPF_K, 76, 80, 18}}, // 1 word → word 0's block (98); none → tail (102)
      {22, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 90}},
      {23, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {24, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      {25, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {26, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 86}},
      {94, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 18}},
      {98, {BPF_LD | BPF_W | BPF_ABS, 0, 0, 14}},
      {99, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {100, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      {101, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {102, {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}},
      {103, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {104, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      {105, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {106, {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16}},
      {107, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {108, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x85EBCA6Bu}},
      {109, {BPF_MISC | BPF_TAX, 0, 0, 0}},
      {110, {BPF_ALU | BPF_RSH | BPF_K, 0, 0, 13}},
      {111, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}},
      {112, {BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u}},
      {113, {BPF_JMP | BPF_JGE | BPF_K, 1, 0, 0x04000000u}},
      {114, {BPF_RET | BPF_K, 0, 0, 128}},
      {115, {BPF_RET | BPF_K, 0, 0, 0}},
  };
  for (const auto& [at, insn] : want) EXPECT_TRUE(same(p[at], insn)) << at << ": " << show(p[at]) << " want " << show(insn);
  // Every opcode is one of the nine both kernels run (sample_filter.h).
  for (const auto& i : p) {
    const uint16_t allowed[] = {BPF_LDX | BPF_W | BPF_IMM, BPF_LD | BPF_W | BPF_LEN,  BPF_JMP | BPF_JGE | BPF_K,
                                BPF_LD | BPF_W | BPF_ABS,  BPF_ALU | BPF_ADD | BPF_X, BPF_MISC | BPF_TAX,
                                BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_RSH | BPF_K, BPF_RET | BPF_K};
    EXPECT_NE(std::find(std::begin(allowed), std::end(allowed), i.code), std::end(allowed)) << show(i);
  }
  EXPECT_TRUE(bpf_validate(p.data(), static_cast<int>(p.size())));
  EXPECT_EQ(sampleFilter(100, 65535)[113].k, 42949672u);
  EXPECT_EQ(sampleFilter(100, 65535)[114].k, 65535u);
}

// The program and sampleHash agree on every frame length around and inside the window
// (a wrong jump offset or length bound sums the wrong words, or loads past the frame and
// drops what should pass).
TEST(SampleFilter, InterpreterAgreesWithTheHashForEveryLength) {
  std::mt19937 rng(7);
  const auto p = sampleFilter(4, 96);
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

// The fraction passed by the interpreter over a stream, and the same for the bytes.
struct Fractions {
  double frames = 0, bytes = 0;
};
template <typename Make>
Fractions passedFraction(uint32_t n, int frames, Make make) {
  const auto p = sampleFilter(n, 128);
  uint64_t pf = 0, pb = 0, tb = 0;
  for (int i = 0; i < frames; ++i) {
    auto f = make(i);
    tb += f.size();
    if (run(p, f) != 0) {
      ++pf;
      pb += f.size();
    }
  }
  return {double(pf) * n / frames, double(pb) * n / tb};
}

// Header counters that a 64-residue mask would alias (segments of 1448 bytes, IP id 0,
// offloaded checksums, zero payload) still spread over the hash: one flow's estimate is
// within a few percent. 64 x 2000 frames: binomial sd of the estimate 2.2 %.
TEST(SampleFilter, OneTcpFlowWithOnlySequenceNumbersVaryingIsSampledEvenly) {
  auto bulk = passedFraction(64, 64 * 2000, [](int i) { return tcp4(1000000u + 1448u * i, 77, 1448); });
  EXPECT_NEAR(bulk.frames, 1.0, 0.08);
  // Its pure ACKs: only the acknowledgement number moves (two segments per ACK).
  auto acks = passedFraction(64, 64 * 2000, [](int i) { return tcp4(77, 1000000u + 2896u * i, 0); });
  EXPECT_NEAR(acks.frames, 1.0, 0.08);
}

TEST(SampleFilter, UdpWithOnlyAPayloadCounterAndIcmpEchoAreSampledEvenly) {
  // UDP, unconnected DF (IP id 0), offloaded checksum: only an RTP-like sequence number in
  // the payload moves.
  auto udp = passedFraction(64, 64 * 2000, [](int i) {
    auto f = ipv4(17, 8 + 160, 0);
    put16(f, 34, 5004);
    put16(f, 36, 5004);
    put16(f, 38, 168);
    put16(f, 44, static_cast<uint32_t>(i));  // RTP sequence number (payload bytes 2-3)
    return f;
  });
  EXPECT_NEAR(udp.frames, 1.0, 0.08);
  // ICMP echo as ping sends it: sequence number + 1 per request, the send time (seconds,
  // microseconds) at the start of the data, and a correct checksum — which keeps the
  // 16-bit sum of the message constant, so a plain sum of words would see no change.
  auto icmp = passedFraction(64, 64 * 2000, [](int i) {
    auto f = ipv4(1, 8 + 56, 0);
    f[34] = 8;
    put16(f, 38, 0x4242);
    put16(f, 40, static_cast<uint32_t>(i));
    put32(f, 42, 1765000000u + static_cast<uint32_t>(i / 20000));
    put32(f, 46, static_cast<uint32_t>((i * 50) % 1000000));  // 20 000 echoes a second
    uint32_t sum = 0;
    for (size_t k = 34; k < f.size(); k += 2) sum += uint32_t{f[k]} << 8 | f[k + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(f, 36, ~sum & 0xffff);
    return f;
  });
  EXPECT_NEAR(icmp.frames, 1.0, 0.08);
}

// A mix of sizes: the byte estimate is as good as the frame estimate (the decision does
// not depend on the size class). Non-power-of-two N.
TEST(SampleFilter, BytesOfAMixedSizeFlowAndAnyN) {
  auto mixed = passedFraction(100, 100 * 2000, [](int i) {
    size_t payload = i % 3 == 0 ? 1448 : (i % 3 == 1 ? 0 : 200);
    return tcp4(5000u + 977u * i, 1u + 13u * i, payload);
  });
  EXPECT_NEAR(mixed.frames, 1.0, 0.08);
  EXPECT_NEAR(mixed.bytes, 1.0, 0.08);
}

TEST(SampleFilter, ShortFramesAreDecidedWithoutReadingPastThem) {
  const auto p = sampleFilter(2, 64);
  for (size_t len : {0u, 1u, 13u, 14u, 17u}) {
    std::vector<uint8_t> f(len, 0xab);
    bool pass = sampleHash(f.data(), static_cast<uint32_t>(len), static_cast<uint32_t>(len)) < sampleThreshold(2);
    EXPECT_EQ(run(p, f), pass ? 64u : 0u) << len;
  }
}

}  // namespace
}  // namespace vnetd::collectors
