// FreeBSD half of platform/sample_selection.h.
//
// FreeBSD's BPF has no random number: sys/net/bpf_filter.c bpf_filter() treats
// BPF_LD|BPF_W|BPF_ABS as a plain packet load (an offset past the packet ends the program
// with 0: no ancillary offsets as on Linux), and no other opcode yields one. So a sampled
// capture hashes the header bytes that vary per packet (collectors/sample_filter.h,
// sampleFilterHash), with only the opcodes every bpf_validate() opcode map admits
// (bpf_code_map: read in releng/11.3 and in current main; the first one has no XOR and no
// MOD, the second has both — the program uses neither).
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <net/bpf.h>

#include <vector>

#include "platform/sample_selection.h"

namespace vnetd::platform {

SampleSelection sampleSelection() { return SampleSelection::kHeaderHash; }

static_assert(sizeof(struct bpf_insn) == sizeof(ClassicInsn));

Result<void> attachKernelFilter(int fd, std::span<const ClassicInsn> program) {
  // sys/net/bpf.c bpfioctl BIOCSETF -> bpf_setf: EINVAL past net.bpf.maxinsns or when
  // bpf_validate() refuses an opcode or jump; the read filter replaced, the buffers reset.
  std::vector<struct bpf_insn> code;
  code.reserve(program.size());
  for (const auto& i : program) code.push_back(bpf_insn{i.code, i.jt, i.jf, i.k});
  struct bpf_program prog{static_cast<u_int>(code.size()), code.data()};
  if (::ioctl(fd, BIOCSETF, &prog) != 0) return errnoError("attach the capture filter (BIOCSETF)");
  return {};
}

Result<std::optional<uint32_t>> kernelFilterLength(int) {
  // sys/net/bpf.c bpfioctl: BIOCSETF/BIOCSETFNR/BIOCSETWF set a filter, none reads it
  // back. Unknown, then.
  return std::optional<uint32_t>();
}

}  // namespace vnetd::platform
