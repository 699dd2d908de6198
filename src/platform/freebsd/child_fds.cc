#include <unistd.h>

#include "platform/child_process.h"

namespace vnetd::platform {

// close_range(2) (FreeBSD 12.2+), what closefrom(3) itself is: sys/kern/kern_descrip.c
// sys_close_range → kern_close_range, whose comment states that closefrom(3) is
// close_range(lowfd, ~0U, 0) and that highfd is clamped to the table (no EINVAL when
// nothing above lowfd is open). A single system call: safe after fork() in a threaded
// process. `fallback_max` is only for a kernel without it (ENOSYS).
void closeDescriptorsFrom(int lowfd, int fallback_max) noexcept {
  if (::close_range(static_cast<unsigned>(lowfd), ~0U, 0) == 0) return;
  for (int fd = lowfd; fd < fallback_max; ++fd) ::close(fd);
}

}  // namespace vnetd::platform
