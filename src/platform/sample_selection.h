// How the kernel's capture filter picks about 1 frame in N for a sampled capture
// ([capture] sample = N), and whether the kernel runs the filter it was given. The
// collectors build the classic BPF program for the selection named here
// (collectors/sample_filter.h); what differs per OS is only which selection its BPF can run.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/result.h"

namespace vnetd::platform {

enum class SampleSelection {
  // A random number per frame from the kernel: every frame has the same chance whatever
  // its bytes, so the sample is binomial for every protocol (identical frames included).
  kKernelRandom,
  // A hash of the header bytes that vary per packet: for the BPF that has no random
  // number. Deterministic per frame content (collectors/sample_filter.h says what that
  // costs in accuracy).
  kHeaderHash,
};

// The selection this OS's classic BPF supports. Pure.
//   Linux:   kKernelRandom (the SKF_AD_RANDOM ancillary load: linux/sample_selection.cc).
//   FreeBSD: kHeaderHash (its BPF has no random-number load: freebsd/sample_selection.cc).
SampleSelection sampleSelection();

// One classic BPF instruction as both kernels take it (Linux struct sock_filter, FreeBSD
// struct bpf_insn, libpcap's struct bpf_insn: u16 code, u8 jt, u8 jf, u32 k).
struct ClassicInsn {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};

// Attaches `program` to the capture descriptor `fd` (pcap_fileno) in the kernel, past
// libpcap, which then keeps no program of its own. Why not pcap_setfilter: on Linux
// libpcap runs the new program in user space over the ring blocks that may hold frames
// from before it (pcap-linux.c pcap_setfilter_linux: blocks_to_filter_in_userland, at least
// one block), and a random-number load rejects every frame there — a block of sampled
// frames lost at every opening (measured: 5 % of a test's UDP burst). The frames that the
// buffer held before the program are the caller's to skip (by timestamp).
//   Linux:   setsockopt SO_ATTACH_FILTER (net/core/filter.c sk_attach_filter:
//            bpf_check_classic, then the classic-to-eBPF conversion).
//   FreeBSD: ioctl BIOCSETF (sys/net/bpf.c bpf_setf: more than net.bpf.maxinsns
//            instructions or !bpf_validate() is EINVAL; otherwise it also discards what the
//            buffers hold, reset_d).
// Any thread; one system call.
Result<void> attachKernelFilter(int fd, std::span<const ClassicInsn> program);

// The number of instructions of the filter the kernel holds on the capture descriptor
// `fd` (pcap_fileno), 0 when none; nullopt where the OS cannot tell. Why it matters:
// when the kernel refuses a program, libpcap filters in user space instead, after the
// copy sampling is meant to spare, and a user-space interpreter runs a random-number
// load as an out-of-frame load that rejects every frame.
//   Linux:   getsockopt SO_GET_FILTER with no buffer (net/core/filter.c sk_get_filter: the
//            length of the classic program as attached).
//   FreeBSD: nullopt (BPF has no ioctl that reads a filter back; libpcap's
//            pcap_setfilter_bpf keeps a program the kernel refused with EINVAL in user
//            space).
// Any thread; one system call.
Result<std::optional<uint32_t>> kernelFilterLength(int fd);

}  // namespace vnetd::platform
