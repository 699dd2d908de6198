#include "platform/listening.h"

#include <fcntl.h>

#include "core/file_util.h"
#include "platform/linux/netns.h"
#include "platform/linux/proc_net_decode.h"

namespace vnetd::platform {

Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail) {
  auto ns = lnx::openNamespace(jail);
  if (!ns) return ns.error();
  std::vector<BoundPort> out;
  // /proc/thread-self/net is the opening thread's namespace (openInNamespace opens it from
  // a thread that joined the jail's): the tables stay that namespace's.
  for (const char* name : {"tcp", "tcp6", "udp", "udp6"}) {
    const std::string path = std::string("/proc/thread-self/net/") + name;
    auto fd = lnx::openInNamespace(ns->get(), path, O_RDONLY | O_CLOEXEC);
    if (!fd) {
      if (fd.error().code == ENOENT) continue;  // a kernel without IPv6
      return withContext(fd.error(), "jail " + jail.name + ": " + path);
    }
    auto text = readSmallFile(fd->get(), path, size_t{16} << 20);
    if (!text) return withContext(text.error(), "jail " + jail.name);
    auto sockets = lnx::decodeProcNetSockets(*text);
    if (!sockets) return withContext(sockets.error(), "jail " + jail.name + ": " + path);
    const bool tcp = name[0] == 't';
    for (const auto& s : *sockets)
      if (!tcp || s.state == lnx::kTcpListen)
        out.push_back({tcp ? ExposeProto::Tcp : ExposeProto::Udp, s.local_port});
  }
  return out;
}

}  // namespace vnetd::platform
