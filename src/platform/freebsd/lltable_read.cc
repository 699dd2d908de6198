#include "platform/freebsd/lltable_read.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <net/route.h>
#include <netinet/in.h>

#include <string>

namespace vnetd::platform::fbsd {
namespace {

// Entries can be added between the size probe and the copy (ENOMEM then): probe again
// with room to spare, as usr.sbin/arp/arp.c search() does, a bounded number of times.
constexpr int kDumpAttempts = 4;
// 224/240 bytes per entry; far beyond any real cache, small enough not to hurt.
constexpr size_t kMaxDump = 64u << 20;

Result<void> appendFamily(int af, const char* family, std::vector<std::byte>& out) {
  // sys/net/rtsock.c sysctl_rtsock: three names after the node (af, NET_RT_FLAGS, flags);
  // RTF_LLINFO in the flags sends the request to lltable_sysctl_dumparp.
  int mib[6] = {CTL_NET, PF_ROUTE, 0, af, NET_RT_FLAGS, RTF_LLINFO};
  const std::string what =
      std::string("read the ") + family + " neighbour cache (sysctl NET_RT_FLAGS, RTF_LLINFO)";
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    size_t needed = 0;
    if (::sysctl(mib, 6, nullptr, &needed, nullptr, 0) != 0) return errnoError(what);
    if (needed == 0) return success();
    needed += needed / 8 + 256;
    if (needed > kMaxDump)
      return Error{EOVERFLOW, what + ": implausibly large (" + std::to_string(needed) + " bytes)"};
    const size_t start = out.size();
    out.resize(start + needed);
    size_t got = needed;
    if (::sysctl(mib, 6, out.data() + start, &got, nullptr, 0) == 0) {
      out.resize(start + got);
      return success();
    }
    const int err = errno;
    out.resize(start);
    if (err != ENOMEM) return Error{err, what};
  }
  return Error{EAGAIN, what + ": it kept growing"};
}

}  // namespace

Result<std::vector<std::byte>> readNeighbourDump() {
  std::vector<std::byte> out;
  VNETD_TRY(appendFamily(AF_INET, "IPv4", out));
  VNETD_TRY(appendFamily(AF_INET6, "IPv6", out));
  return out;
}

}  // namespace vnetd::platform::fbsd
