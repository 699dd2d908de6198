#include <sys/syscall.h>
#include <unistd.h>

#include "platform/child_process.h"

namespace vnetd::platform {

// close_range(2) (Linux 5.9): closes [lowfd, ~0U] in one call; ~0U is clamped to the
// table size by the kernel (fs/file.c __close_range). Older kernels say ENOSYS: then a
// close(2) per possible descriptor. Both are plain system calls, safe after fork() in a
// threaded process.
void closeDescriptorsFrom(int lowfd, int fallback_max) noexcept {
  if (::syscall(SYS_close_range, static_cast<unsigned>(lowfd), ~0U, 0U) == 0) return;
  for (int fd = lowfd; fd < fallback_max; ++fd) ::close(fd);
}

}  // namespace vnetd::platform
