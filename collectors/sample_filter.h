// The kernel filter of a sampled capture ([capture] sample = N): a classic BPF program
// that passes about 1 frame in N, so the kernel never copies the others into the
// capture buffer (the clone is what a capture costs the forwarding path).
//
// Why a hash of header bytes and not a random number: FreeBSD's BPF has no random
// extension (sys/net/bpf_filter.c bpf_filter(): no BPF_LD|BPF_ABS special offsets;
// bpf_validate()'s opcode map has neither XOR nor MOD), and one program for both systems
// means the Linux tests run exactly what a FreeBSD host runs. The program:
//   1. hashes, as 32-bit big-endian words w, the first kSampleWords words after the
//      Ethernet header (bytes 14..14+4*kSampleWords) that lie inside the frame, last word
//      first, then the frame's length: h = (h + w) * M for each (M below). Those bytes hold every per-packet counter the common protocols carry:
//      IPv4 identification; TCP sequence, acknowledgement, checksum, timestamp option;
//      UDP checksum and the first payload bytes (DNS id, RTP sequence, QUIC packet number
//      and ciphertext); ICMP identifier, sequence, checksum and ping's timestamp; IPv6's
//      TCP/UDP headers follow its 40-byte header inside the window. Constant bytes
//      (addresses, ports) only shift a flow's hash; what decides is that some field
//      changes from one frame of a flow to the next. Not a plain sum: an Internet
//      checksum keeps the 16-bit one's-complement sum of what it covers constant, so in
//      a sum of words an ICMP checksum cancels the echo sequence number and timestamp
//      beside it (measured: echo replies estimated x1.058 at 1 in 8 with a sum);
//   2. M is odd (Fibonacci hashing: 2^32 / golden ratio) and the last step multiplies
//      too: the top bits of the result depend on every bit of every word, so a counter
//      that steps by a multiple of 8 (TCP segments of 1448 bytes) still spreads evenly,
//      which a mask of low bits would not (1448 mod 64 = 40: only 8 of 64 residues);
//   2b. a finalizer (h += h >> 16; h *= M2; h += h >> 13; h *= M) breaks the arithmetic
//      progressions that lock-step counters make of consecutive hashes (runs of equal
//      decisions: excess variance measured on live ping floods);
//   3. passes the frame (`snaplen` bytes) when the product is below 2^32 / N, else
//      drops it. Any N works, not only powers of two.
// A frame shorter than 14 + 4 bytes has no word to sum: its length alone decides.
// Identical frames (ARP requests repeated, retransmissions of the same segment) get the
// same decision: such a frame is either always or never sampled — over many hosts and
// flows unbiased, for one such stream not. docs/metrics.md ("Sampled capture") has the
// bias measured per protocol.
//
// Only these opcodes, all in both kernels' interpreters (FreeBSD sys/net/bpf_filter.c
// bpf_filter() and its bpf_validate() opcode map bpf_code_map; Linux
// net/core/filter.c): BPF_LD|BPF_W|BPF_ABS (an out-of-frame load ends the program with
// 0, so every load is guarded by a length test), BPF_LD|BPF_W|BPF_LEN,
// BPF_LDX|BPF_W|BPF_IMM, BPF_ALU|BPF_ADD|BPF_X, BPF_ALU|BPF_MUL|BPF_K,
// BPF_ALU|BPF_RSH|BPF_K, BPF_MISC|BPF_TAX,
// BPF_JMP|BPF_JGE|BPF_K (unsigned), BPF_RET|BPF_K. Forward jumps only, under 256
// instructions (FreeBSD's BPF_MAXINSNS is 512).
#pragma once

#include <pcap.h>

#include <cstdint>
#include <vector>

namespace vnetd::collectors {

inline constexpr uint32_t kSampleWords = 20;           // bytes 14..93: IPv6 + TCP with timestamps
inline constexpr uint32_t kSampleMultiplier = 0x9E3779B1u;  // odd; 2^32 / golden ratio
inline constexpr uint32_t kSampleMultiplier2 = 0x85EBCA6Bu; // odd; murmur3's fmix32 constant

// The threshold of step 3: floor(2^32 / n) (n >= 1; n = 1 gives 2^32 - 1 and passes
// almost all — but n = 1 means no filter at all, see sampleFilter). Pure.
uint32_t sampleThreshold(uint32_t n);

// The program for 1 in `n` (n >= 2) keeping `snaplen` bytes of a passed frame. Pure.
std::vector<bpf_insn> sampleFilter(uint32_t n, uint32_t snaplen);

// The hash step 1-2 computes for `frame` (wire length `wire_len`): what the program
// compares with the threshold. For tests and measurements. Pure.
uint32_t sampleHash(const uint8_t* frame, uint32_t caplen, uint32_t wire_len);

}  // namespace vnetd::collectors
