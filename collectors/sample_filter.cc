#include "collectors/sample_filter.h"

namespace vnetd::collectors {
namespace {

constexpr uint32_t kFirstWord = 14;  // after the Ethernet header
constexpr uint32_t kBlock = 4;       // instructions per word: ld, add, mul, tax

bpf_insn stmt(uint16_t code, uint32_t k) { return bpf_insn{code, 0, 0, k}; }
bpf_insn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return bpf_insn{code, jt, jf, k}; }

// A ^= A >> shift, as (a | b) - (a & b) (no BPF_XOR: sample_filter.h). Scratch words
// M[0] (a) and M[1] (a | b); X is clobbered.
void xorShift(std::vector<bpf_insn>& p, uint32_t shift) {
  p.push_back(stmt(BPF_ST, 0));                      // M[0] = a
  p.push_back(stmt(BPF_ALU | BPF_RSH | BPF_K, shift));  // A = b = a >> shift
  p.push_back(stmt(BPF_MISC | BPF_TAX, 0));           // X = b
  p.push_back(stmt(BPF_LD | BPF_MEM, 0));
  p.push_back(stmt(BPF_ALU | BPF_OR | BPF_X, 0));
  p.push_back(stmt(BPF_ST, 1));                      // M[1] = a | b
  p.push_back(stmt(BPF_LD | BPF_MEM, 0));
  p.push_back(stmt(BPF_ALU | BPF_AND | BPF_X, 0));
  p.push_back(stmt(BPF_MISC | BPF_TAX, 0));           // X = a & b
  p.push_back(stmt(BPF_LD | BPF_MEM, 1));
  p.push_back(stmt(BPF_ALU | BPF_SUB | BPF_X, 0));    // A = (a | b) - (a & b) = a ^ b
}

uint32_t xorShift(uint32_t h, uint32_t shift) { return h ^ (h >> shift); }

void decide(std::vector<bpf_insn>& p, uint32_t n, uint32_t snaplen) {
  p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, sampleThreshold(n), 1, 0));
  p.push_back(stmt(BPF_RET | BPF_K, snaplen));
  p.push_back(stmt(BPF_RET | BPF_K, 0));
}

}  // namespace

uint32_t sampleThreshold(uint32_t n) {
  if (n <= 1) return UINT32_MAX;
  return static_cast<uint32_t>((uint64_t{1} << 32) / n);
}

std::vector<bpf_insn> sampleFilterRandom(uint32_t n, uint32_t snaplen) {
  std::vector<bpf_insn> p;
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kLinuxRandomLoad));
  decide(p, n, snaplen);
  return p;
}

std::vector<bpf_insn> sampleFilterHash(uint32_t n, uint32_t snaplen) {
  std::vector<bpf_insn> p;
  // X is the running hash; A the frame length while the length tests run.
  p.push_back(stmt(BPF_LDX | BPF_W | BPF_IMM, 0));
  p.push_back(stmt(BPF_LD | BPF_W | BPF_LEN, 0));
  // Length tests, longest first: with k words inside the frame, jump to the block that
  // loads words k-1 down to 0. Test t (0-based) is for k = kSampleWords - t; the blocks
  // follow the tests, word kSampleWords-1 first, kBlock instructions each.
  constexpr uint32_t kTests = kSampleWords;
  for (uint32_t t = 0; t < kTests; ++t) {
    uint32_t k = kSampleWords - t;
    // From test t the next instruction is t+1; the block for word k-1 starts at
    // kTests + kBlock * t (relative to the first test).
    uint32_t to_block = kTests + kBlock * t - (t + 1);
    // No word in the frame: past the last test is the first block; skip all blocks.
    uint32_t jf = t + 1 == kTests ? kBlock * kSampleWords : 0;
    p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kFirstWord + 4 * k, static_cast<uint8_t>(to_block),
                     static_cast<uint8_t>(jf)));
  }
  for (uint32_t w = kSampleWords; w-- > 0;) {
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kFirstWord + 4 * w));
    p.push_back(stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
    p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kSampleMultiplier));
    p.push_back(stmt(BPF_MISC | BPF_TAX, 0));
  }
  p.push_back(stmt(BPF_LD | BPF_W | BPF_LEN, 0));
  p.push_back(stmt(BPF_ALU | BPF_ADD | BPF_X, 0));
  p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kSampleMultiplier));
  // The finalizer (sample_filter.h, step 2): what makes lock-step counters look random.
  xorShift(p, 16);
  p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kFmixMultiplier1));
  xorShift(p, 13);
  p.push_back(stmt(BPF_ALU | BPF_MUL | BPF_K, kFmixMultiplier2));
  decide(p, n, snaplen);
  return p;
}

std::vector<bpf_insn> sampleFilter(SampleFlavour flavour, uint32_t n, uint32_t snaplen) {
  return flavour == SampleFlavour::kRandom ? sampleFilterRandom(n, snaplen) : sampleFilterHash(n, snaplen);
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
  h = xorShift(h, 16) * kFmixMultiplier1;
  return xorShift(h, 13) * kFmixMultiplier2;
}

}  // namespace vnetd::collectors
