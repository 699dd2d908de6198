// Linux network namespaces in the role of jails: /run/netns/<name>, as `ip netns add`
// creates them (a bind mount of the namespace file, so it outlives its processes).
#pragma once

#include <string>

#include "core/result.h"
#include "core/unique_fd.h"
#include "platform/jails.h"

namespace vnetd::platform::lnx {

inline constexpr const char* kNetnsDir = "/run/netns";

// Opens the namespace of `jail`, checking it is still the same namespace (inode) the
// caller resolved: a namespace deleted and re-created under the same name is a different
// jail. ESTALE when it changed, ENOENT when it is gone.
Result<UniqueFd> openNamespace(const JailInfo& jail);

// Creates a socket on a short-lived thread that has joined the namespace `ns_fd`:
// setns(2) is per-thread, so the calling thread's namespace is never changed. A socket
// stays in the namespace it was created in.
Result<UniqueFd> createSocketInNamespace(int ns_fd, int domain, int type, int protocol);

// Opens `path` the same way, from inside the namespace `ns_fd`: what /proc/sys/net/...
// names is decided by the opener's namespace at open time (the sysctl tree's lookup
// takes the current task's net namespace), so the file stays that namespace's.
Result<UniqueFd> openInNamespace(int ns_fd, const std::string& path, int flags);

}  // namespace vnetd::platform::lnx
