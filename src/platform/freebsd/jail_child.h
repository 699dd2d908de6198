// Running a few kernel calls inside a jail's network stack. FreeBSD only.
//
// jail_attach(2) is one-way: a process that attaches stays in the jail. So vnetd forks a
// short-lived child that attaches and does the work there — creating sockets (a socket
// belongs to the vnet it was created in, for its whole life) or reading sysctls that
// are per-vnet (getifaddrs) — and hands the result back over a socketpair: file
// descriptors with SCM_RIGHTS, plain bytes after them. The parent waits for the child.
//
// The child runs in a copy of a possibly multi-threaded process: it only makes system
// calls and libc calls that FreeBSD's libc supports after fork (malloc included), and
// leaves with _exit(2), never running atexit handlers or destructors of the parent's
// objects.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd::platform::fbsd {

inline constexpr size_t kMaxJailChildFds = 8;

struct JailChildReply {
  std::vector<std::byte> data;
  std::vector<UniqueFd> fds;
};

// Runs in the child after jail_attach(). Fills `data` and/or `fds` (at most
// kMaxJailChildFds; ownership passes to the parent) or returns the error to report.
using JailChildWork =
    std::function<Result<void>(std::vector<std::byte>& data, std::vector<int>& fds)>;

// Forks, attaches the child to jail `jid` and runs `work` there. `jail_name` is for
// messages only. Blocks until the child exits (it does a handful of system calls).
Result<JailChildReply> runInJail(int jid, const std::string& jail_name, const JailChildWork& work);

}  // namespace vnetd::platform::fbsd
