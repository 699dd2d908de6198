// Small helpers for FreeBSD interface ioctls (struct ifreq & co.). FreeBSD only.
#pragma once

#include <sys/param.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>

#include <cstring>
#include <string>

#include "core/result.h"

namespace vnetd::platform::fbsd {

// Copies `name` into a fixed IFNAMSIZ field, NUL-padded. Names are validated before they
// reach the backend; this still refuses anything that would be truncated, because a
// truncated name is a different interface.
inline Result<void> copyIfName(char (&field)[IFNAMSIZ], const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos)
    return Error{ENAMETOOLONG,
                 "interface name '" + name + "' does not fit IFNAMSIZ (15 characters)"};
  std::memset(field, 0, IFNAMSIZ);
  std::memcpy(field, name.data(), name.size());
  return success();
}

// A zeroed ifreq addressed to `name`.
inline Result<struct ifreq> makeIfreq(const std::string& name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  auto r = copyIfName(ifr.ifr_name, name);
  if (!r) return r.error();
  return ifr;
}

// The NUL-terminated name in a fixed IFNAMSIZ field (the kernel always terminates it;
// this does not rely on that).
inline std::string ifNameOf(const char (&field)[IFNAMSIZ]) {
  return std::string(field, strnlen(field, IFNAMSIZ));
}

// ioctl(2) with EINTR retried and errno captured as context.
inline Result<void> ioctlOrError(int fd, unsigned long request, void* arg,
                                 const std::string& context) {
  for (;;) {
    if (::ioctl(fd, request, arg) == 0) return success();
    if (errno != EINTR) return errnoError(context);
  }
}

}  // namespace vnetd::platform::fbsd
