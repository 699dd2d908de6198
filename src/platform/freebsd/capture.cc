// FreeBSD half of platform/capture.h: BPF's buffer size and its sysctl cap.
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <net/bpf.h>

#include "platform/capture.h"
#include "platform/freebsd/host_checks.h"

namespace vnetd::platform {

Result<uint64_t> captureBufferBytes(int fd) {
  // sys/net/bpf.c bpfioctl: BIOCGBLEN returns d->bd_bufsize, the size
  // bpf_buffer_ioctl_sblen actually allocated (the request clamped to
  // [BPF_MINBUFSIZE, net.bpf.maxbufsize]; a zero-copy buffer's usable size likewise).
  u_int size = 0;
  if (::ioctl(fd, BIOCGBLEN, &size) != 0) return errnoError("read the BPF buffer size (BIOCGBLEN)");
  return uint64_t{size};
}

Result<std::optional<CaptureBufferLimit>> readCaptureBufferLimit() {
  // sys/net/bpf_buffer.c: SYSCTL_INT(_net_bpf, OID_AUTO, maxbufsize, CTLFLAG_RW,
  // &bpf_maxbufsize, ...), default BPF_MAXBUFSIZE (net/bpf.h: 0x80000). A run-time
  // setting, so /etc/sysctl.conf (rc.d/sysctl) makes it permanent.
  auto v = fbsd::readIntSysctl("net.bpf.maxbufsize");
  if (!v) return v.error();
  if (!*v || **v < 0) return std::optional<CaptureBufferLimit>();
  return std::optional<CaptureBufferLimit>(
      CaptureBufferLimit{static_cast<uint64_t>(**v), "net.bpf.maxbufsize", "/etc/sysctl.conf"});
}

}  // namespace vnetd::platform
