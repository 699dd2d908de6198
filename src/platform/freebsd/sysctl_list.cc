#include "platform/freebsd/sysctl_list.h"

#include <cerrno>

namespace vnetd::platform::fbsd {

Result<void> appendSysctlList(const SysctlCall& call, std::vector<std::byte>& out, const std::string& what,
                              SysctlListLimits limits) {
  for (int attempt = 0; attempt < limits.attempts; ++attempt) {
    size_t needed = 0;
    if (call(nullptr, &needed) != 0) return errnoError(what);
    if (needed == 0) return success();
    needed += needed / 8 + limits.slack;
    if (needed > limits.max)
      return Error{EOVERFLOW, what + ": implausibly large (" + std::to_string(needed) + " bytes)"};
    const size_t start = out.size();
    out.resize(start + needed);
    size_t got = needed;
    if (call(out.data() + start, &got) == 0) {
      out.resize(start + got);
      return success();
    }
    const int err = errno;
    out.resize(start);
    if (err != ENOMEM) return Error{err, what};
  }
  return Error{EAGAIN, what + ": it kept growing"};
}

}  // namespace vnetd::platform::fbsd
