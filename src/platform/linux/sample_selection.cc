// Linux half of platform/sample_selection.h.
//
// Linux's classic BPF has a random-number load: BPF_LD|BPF_W|BPF_ABS at offset
// SKF_AD_OFF + SKF_AD_RANDOM (linux/filter.h). Read in Linux 6.18: bpf_check_classic()
// (net/core/filter.c) admits the ancillary offsets bpf_anc_helper() lists, RANDOM among
// them; convert_bpf_extensions() turns the load into a call of bpf_user_rnd_u32()
// (kernel/bpf/core.c), which returns prandom_u32_state() of a per-CPU state seeded once
// from the kernel's entropy pool (bpf_user_rnd_init_once): a fresh 32-bit number per
// frame, independent of the frame's bytes.
#include <linux/filter.h>
#include <sys/socket.h>

#include <vector>

#include "platform/sample_selection.h"

namespace vnetd::platform {

SampleSelection sampleSelection() { return SampleSelection::kKernelRandom; }

static_assert(sizeof(sock_filter) == sizeof(ClassicInsn));

Result<void> attachKernelFilter(int fd, std::span<const ClassicInsn> program) {
  if (program.size() > BPF_MAXINSNS) return Error{EINVAL, "attach the capture filter: over BPF_MAXINSNS instructions"};
  std::vector<sock_filter> code;
  code.reserve(program.size());
  for (const auto& i : program) code.push_back(sock_filter{i.code, i.jt, i.jf, i.k});
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    return errnoError("attach the capture filter (SO_ATTACH_FILTER)");
  return {};
}

Result<std::optional<uint32_t>> kernelFilterLength(int fd) {
  // net/core/sock.c sk_getsockopt SO_GET_FILTER -> sk_get_filter(): with a zero length
  // the number of instructions of the attached classic program comes back as the
  // option length; no filter attached: 0.
  socklen_t len = 0;
  if (::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &len) != 0)
    return errnoError("read the capture socket's filter (SO_GET_FILTER)");
  return std::optional<uint32_t>(static_cast<uint32_t>(len));
}

}  // namespace vnetd::platform
