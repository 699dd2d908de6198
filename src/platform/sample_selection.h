// How the kernel's capture filter picks about 1 frame in N for a sampled capture
// ([capture] sample = N), and whether the kernel runs the filter it was given. The
// collectors build the classic BPF program for the selection named here
// (collectors/sample_filter.h); what differs per OS is only which selection its BPF can run.
#pragma once

#include <cstdint>
#include <optional>

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
