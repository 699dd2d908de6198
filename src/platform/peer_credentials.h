// Who is on the other end of a connected AF_UNIX stream socket, as the kernel recorded it
// when that process called connect(2) — including the groups the process actually had,
// not the ones the user database says its user has (a process may have dropped a group
// with setgroups(2), or been given one the database does not list).
#pragma once

#include <sys/types.h>

#include <vector>

#include "core/result.h"

namespace vnetd::platform {

struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;   // effective (primary) gid of the peer process
  pid_t pid = -1;  // -1 when the platform does not report it
  // The peer's supplementary groups (may include gid again). Linux: all of them; FreeBSD:
  // at most 15 (struct xucred has room for the egid and 15 more, see freebsd/), so a
  // group further down a long list is not seen there and access through it is refused.
  std::vector<gid_t> groups;
};

// The peer of a connected AF_UNIX stream socket `fd`. Any thread.
Result<PeerCredentials> peerCredentials(int fd);

}  // namespace vnetd::platform
