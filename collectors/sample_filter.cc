#include "collectors/sample_filter.h"

namespace vnetd::collectors {
namespace {

constexpr uint32_t kFirstWord = 14;  // after the Ethernet header
constexpr uint32_t kBlock = 4;       // instructions per word: ld, add, mul, tax

bpf_insn stmt(uint16_t code, uint32_t k) { return bpf_insn{code, 0, 0, k}; }
bpf_insn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return bpf_insn{code, jt, jf, k}; }

}  // namespace

uint32_t sampleThreshold(uint32_t n) {
  if (n <= 1) return UINT32_MAX;
  return static_cast<uint32_t>((uint64_t{1} << 32) / n);
}

std::vector<bpf_insn> sampleFilter(uint32_t n, uint32_t snaplen) {
  std::vector<bpf_insn> p;
  // X is the running sum; A the frame length while the length tests run.
  p.push_back(stmt(BPF_LDX | BPF_W | BPF_IMM, 0));
  p.push_back(stmt(BPF_LD | BPF_W | BPF_LEN, 0));
  // Length tests, longest first: with k words inside the frame, jump to the block that
  // loads words k-1 down to 0. Test t (0-based) is for k = kSampleWords - t; the blocks
  // follow the tests, word kSampleWords-1 first, 3 instructions each.
  constexpr uint32_t kTests = kSampleWords;
  for (uint32_t t = 0; t < kTests; ++t) {
    uint32_t k = kSampleWords - t;
    // From test t the next instruction is t+1; block for word k-1 starts at
    // kTests + kBlock * (kSampleWords - k) = kTests + kBlock * t (relative to the first test).
    uint32_t to_block = kTests + kBlock * t - (t + 1);
    // No word in the frame: past the last test is the first block; skip all blocks.
    uint32_t jf = t + 1 == kTests ? kBlock * kSampleWords : 0;
    p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kFirstWord + 4 * k, static_cast<uint8_t>(to_block),
                     static_cast<uint8_t>(jf)));
  }
  // h = (h + word) * M per word: each word gets its own weight, so the Internet
  // checksums (which make the 16-bit one's-complement sum of their header constant)
  // cannot cancel the counters they cover, as they would in a plain sum.
  for (uint32_t w = kSampleWords; w-- > 0;) {
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kFirstWord + 4 * w));
    p.push_back(stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
    p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kSampleMultiplier));
    p.push_back(stmt(BPF_MISC | BPF_TAX, 0));
  }
  p.push_back(stmt(BPF_LD | BPF_W | BPF_LEN, 0));
  p.push_back(stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
  p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kSampleMultiplier));
  // Finalizer: h += h >> 16; h *= M2; h += h >> 13; h *= M. Without it, consecutive
  // frames whose counters move in lock-step (ping: sequence, checksum, send time) step
  // the product by nearly the same amount each time, and the decisions come in runs: the
  // live accuracy test saw ICMP estimates off by up to 11 % at 1 in 8 (10x the binomial
  // variance). Shifts carry the high bits down, the multiplications spread them up again.
  for (uint32_t shift : {16u, 13u}) {
    p.push_back(stmt(BPF_MISC | BPF_TAX, 0));
    p.push_back(stmt(BPF_ALU | BPF_RSH | BPF_K, shift));
    p.push_back(stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
    p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, shift == 16 ? kSampleMultiplier2 : kSampleMultiplier));
  }
  p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, sampleThreshold(n), 1, 0));
  p.push_back(stmt(BPF_RET | BPF_K, snaplen));
  p.push_back(stmt(BPF_RET | BPF_K, 0));
  return p;
}

uint32_t sampleHash(const uint8_t* frame, uint32_t caplen, uint32_t wire_len) {
  // The words inside the frame, last first (the program's order).
  uint32_t words = 0;
  while (words < kSampleWords && kFirstWord + 4 * (words + 1) <= wire_len && kFirstWord + 4 * (words + 1) <= caplen)
    ++words;
  uint32_t h = 0;
  for (uint32_t w = words; w-- > 0;) {
    const uint8_t* b = frame + kFirstWord + 4 * w;
    h = (h + (uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3])) * kSampleMultiplier;
  }
  h = (h + wire_len) * kSampleMultiplier;
  h = (h + (h >> 16)) * kSampleMultiplier2;
  return (h + (h >> 13)) * kSampleMultiplier;
}

}  // namespace vnetd::collectors
