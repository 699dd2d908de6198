#include "platform/freebsd/lltable_read.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <net/route.h>
#include <netinet/in.h>

#include <string>

#include "platform/freebsd/sysctl_list.h"

namespace vnetd::platform::fbsd {
namespace {

// Entries can be added between the size probe and the copy: probed again a few times
// (sysctl_list.h), as usr.sbin/arp/arp.c search() does.
constexpr int kDumpAttempts = 4;
// 224/240 bytes per entry; far beyond any real cache, small enough not to hurt.
constexpr size_t kMaxDump = 64u << 20;

Result<void> appendFamily(int af, const char* family, std::vector<std::byte>& out) {
  // sys/net/rtsock.c sysctl_rtsock: three names after the node (af, NET_RT_FLAGS, flags);
  // RTF_LLINFO in the flags sends the request to lltable_sysctl_dumparp.
  int mib[6] = {CTL_NET, PF_ROUTE, 0, af, NET_RT_FLAGS, RTF_LLINFO};
  return appendSysctlList([&mib](void* buf, size_t* len) { return ::sysctl(mib, 6, buf, len, nullptr, 0); }, out,
                          std::string("read the ") + family + " neighbour cache (sysctl NET_RT_FLAGS, RTF_LLINFO)",
                          SysctlListLimits{256, kMaxDump, kDumpAttempts});
}

}  // namespace

Result<std::vector<std::byte>> readNeighbourDump() {
  std::vector<std::byte> out;
  VNETD_TRY(appendFamily(AF_INET, "IPv4", out));
  VNETD_TRY(appendFamily(AF_INET6, "IPv6", out));
  return out;
}

}  // namespace vnetd::platform::fbsd
