// The kernel filter of a sampled capture ([capture] sample = N): a classic BPF program
// that passes about 1 frame in N, so the kernel never copies the others into the
// capture buffer. Two flavours, one per kind of selection (platform/sample_selection.h
// says which one the OS's BPF runs); both builders are pure and built on every OS, so the
// FreeBSD flavour is unit-tested on Linux with libpcap's interpreter.
//
// Random (Linux): A = a kernel random number per frame (BPF_LD|BPF_W|BPF_ABS at
//   kLinuxRandomLoad, SKF_AD_OFF + SKF_AD_RANDOM in linux/filter.h); pass when
//   A < 2^32 / N. Unbiased for every protocol and every frame, identical frames included:
//   the count of sampled frames is binomial(frames, 1/N). 4 instructions.
//
// Header hash (FreeBSD: its BPF has no random number — platform/freebsd/sample_selection.cc):
//   1. L = the first kSampleWords 32-bit big-endian words after the Ethernet header that
//      lie inside the frame (bytes 14..93), last first, then the frame length, folded as
//      L = (L + w) * kSampleMultiplier. Those bytes hold what changes from one packet of a
//      flow to the next: IPv4 id and checksum; TCP sequence, acknowledgement, checksum and
//      timestamp option; UDP checksum and first payload bytes (DNS id, RTP sequence, QUIC
//      packet number); ICMP identifier, sequence, checksum and ping's send time; over IPv6
//      the TCP/UDP/ICMPv6 header too. The per-word product keeps Internet checksums from
//      cancelling the counters they cover (which a plain sum would: a checksum keeps the
//      one's-complement sum of its header constant).
//   2. L is linear in the words, so a flow whose counters move in lock-step (ping: seq +1,
//      checksum -1, IP id +1; TCP bulk: seq += MSS, id +1; a UDP counter) makes the L of
//      consecutive frames an arithmetic progression. A finalizer that is itself nearly
//      linear (multiplications, h += h >> s) keeps it one: the decisions then come in
//      runs and a flow's sampled fraction is off by far more than binomial noise (the
//      first version's live ping floods: x1.04-1.06 at 1 in 8, ~5 sd). So the finalizer
//      is murmur3's fmix32, xor-shifts and multiplications: xor is not linear over the
//      integers, and fmix32 of an arithmetic progression behaves as independent draws
//      (the construction of SplitMix). h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13;
//      h *= 0xC2B2AE35. (fmix32's last step, h ^= h >> 16, changes only the low 16 bits,
//      which decide h < 2^32/N only when the top 16 bits equal the threshold's — never
//      for a power of two, 1 frame in 65 536 otherwise: left out.)
//      XOR is written as (a | b) - (a & b): BPF_XOR is not in every FreeBSD
//      bpf_validate() opcode map (platform/freebsd/sample_selection.cc), OR/AND/SUB are.
//   3. Pass when h < 2^32 / N (any N, not only powers of two).
//   Identical frames (a repeated ARP request, a retransmitted segment, a constant payload
//   sent without a per-packet IP id and with the checksum left to offload) get the same
//   decision: such a stream is sampled all or nothing. docs/metrics.md ("Sampled
//   capture") has what that means per protocol.
//   Opcodes, all in every bpf_validate() bpf_code_map read (releng/11.3 and main) and in
//   Linux's bpf_check_classic(): BPF_LD|BPF_W|BPF_ABS (an out-of-frame load ends the
//   program with 0: every load is guarded by a length test), BPF_LD|BPF_W|BPF_LEN,
//   BPF_LDX|BPF_W|BPF_IMM, BPF_ALU|{ADD,SUB,AND,OR}|BPF_X, BPF_ALU|BPF_MUL|BPF_K,
//   BPF_ALU|BPF_RSH|BPF_K, BPF_ST, BPF_LD|BPF_MEM, BPF_MISC|BPF_TAX,
//   BPF_JMP|BPF_JGE|BPF_K (unsigned), BPF_RET|BPF_K. Forward jumps only; fewer than
//   256 instructions (FreeBSD's bpf_setf refuses more than net.bpf.maxinsns, default 512).
#pragma once

#include <pcap.h>

#include <cstdint>
#include <vector>

namespace vnetd::collectors {

enum class SampleFlavour { kRandom, kHeaderHash };

inline constexpr uint32_t kSampleWords = 20;                // bytes 14..93: IPv6 + TCP with timestamps
inline constexpr uint32_t kSampleMultiplier = 0x9E3779B1u;  // odd; 2^32 / golden ratio
inline constexpr uint32_t kFmixMultiplier1 = 0x85EBCA6Bu;   // murmur3 fmix32
inline constexpr uint32_t kFmixMultiplier2 = 0xC2B2AE35u;
// SKF_AD_OFF (-0x1000) + SKF_AD_RANDOM (56), linux/filter.h: spelled out so that the
// builder (and its unit test) compiles on every OS.
inline constexpr uint32_t kLinuxRandomLoad = 0xFFFFF000u + 56;

// The threshold of both flavours: floor(2^32 / n) (n >= 1; n = 1 gives 2^32 - 1 and passes
// almost all — but n = 1 means no filter at all). Pure.
uint32_t sampleThreshold(uint32_t n);

// The program for 1 in `n` (n >= 2) keeping `snaplen` bytes of a passed frame. Pure.
std::vector<bpf_insn> sampleFilterRandom(uint32_t n, uint32_t snaplen);
std::vector<bpf_insn> sampleFilterHash(uint32_t n, uint32_t snaplen);
std::vector<bpf_insn> sampleFilter(SampleFlavour flavour, uint32_t n, uint32_t snaplen);

// What sampleFilterHash's program compares with the threshold for `frame` (`caplen`
// bytes present, wire length `wire_len`). For tests and offline measurements. Pure.
uint32_t sampleHash(const uint8_t* frame, uint32_t caplen, uint32_t wire_len);

}  // namespace vnetd::collectors
