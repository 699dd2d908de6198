// Reading a sysctl that copies out a whole table (neighbour caches, socket lists). FreeBSD
// only. Such a table can grow between the size probe and the copy, and the kernel then
// answers ENOMEM: probe again with room to spare, a bounded number of times, as arp(8)
// (usr.sbin/arp/arp.c search) and sockstat(1) (usr.bin/sockstat/sockstat.c gather_inet) do.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace vnetd::platform::fbsd {

// One sysctl(3)/sysctlbyname(3) call: `buf` null = probe (the size goes to *len). Returns
// what the call returns, with errno.
using SysctlCall = std::function<int(void* buf, size_t* len)>;

struct SysctlListLimits {
  size_t slack = 4096;        // room added to the probed size (beyond an eighth of it)
  size_t max = size_t{32} << 20;  // a larger answer is refused (EOVERFLOW)
  int attempts = 4;           // probes before giving up on a table that keeps growing
};

// Appends the table to `out` (nothing for an empty one). Errors carry `what` and the
// call's errno; EAGAIN when the table outgrew every probe.
Result<void> appendSysctlList(const SysctlCall& call, std::vector<std::byte>& out, const std::string& what,
                              SysctlListLimits limits = {});

}  // namespace vnetd::platform::fbsd
