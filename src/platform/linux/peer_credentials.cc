// Peer credentials on Linux: SO_PEERCRED for uid/gid/pid and SO_PEERGROUPS (Linux 4.13+)
// for the supplementary groups. Both read the credentials the kernel stored at connect(2)
// time (net/unix/af_unix.c unix_stream_connect: init_peercred(newsk) with the connecting
// task's creds, so they cannot change afterwards); SO_PEERGROUPS copies
// sk_peer_cred->group_info out (net/core/sock.c sk_getsockopt: -ERANGE with the needed
// length in optlen when the buffer is too small). Reading /proc/<pid>/status instead
// would race with the pid being reused.
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "platform/peer_credentials.h"

namespace vnetd::platform {

Result<PeerCredentials> peerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errnoError("SO_PEERCRED");
  PeerCredentials out{cred.uid, cred.gid, cred.pid, {}};
  std::vector<gid_t> groups(16);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      out.groups = std::move(groups);
      return out;
    }
    if (errno == ERANGE) {  // bytes now says how much is needed
      groups.resize(bytes / sizeof(gid_t) + 1);
      continue;
    }
    // ENOPROTOOPT: a kernel before 4.13. Without the real groups, only uid and the
    // primary gid count (never the user database: it may say more than the peer has).
    if (errno == ENOPROTOOPT) return out;
    return errnoError("SO_PEERGROUPS");
  }
  return plainError("SO_PEERGROUPS: the peer's group list kept growing");
}

}  // namespace vnetd::platform
