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

// Runs `fn` on a short-lived thread that has joined the namespace `ns_fd`: setns(2) is
// per-thread, so the calling thread's namespace is never changed. Returns fn's result.
Result<UniqueFd> createSocketInNamespace(int ns_fd, int domain, int type, int protocol);

}  // namespace vnetd::platform::lnx
