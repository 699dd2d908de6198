// Peer credentials on FreeBSD: LOCAL_PEERCRED, a struct xucred the kernel filled in when
// the peer connected — sys/kern/uipc_usrreq.c unp_connectat → unp_copy_peercred →
// cru2xt(td, ...) with the connecting thread's credentials, copied out by uipc_ctloutput
// (level SOL_LOCAL, else EINVAL; ENOTCONN on a stream socket without them). cru2xt also
// sets cr_pid (sys/kern/kern_prot.c). sys/sys/ucred.h: cr_groups[0] is the effective gid
// (aliased as cr_gid), cr_groups[1 .. cr_ngroups) the supplementary groups; cru2x copies
// at most XU_NGROUPS (16) entries in all, so a process in more than 15 supplementary
// groups shows only the first 15. getpeereid(3) would give uid and egid only.
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <algorithm>

#include "platform/peer_credentials.h"

namespace vnetd::platform {

Result<PeerCredentials> peerCredentials(int fd) {
  xucred xu{};
  socklen_t len = sizeof xu;
  if (::getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &xu, &len) != 0) return errnoError("LOCAL_PEERCRED");
  if (len < sizeof xu || xu.cr_version != XUCRED_VERSION)
    return plainError("LOCAL_PEERCRED: unexpected struct xucred (version " + std::to_string(xu.cr_version) + ")");
  if (xu.cr_ngroups < 1) return plainError("LOCAL_PEERCRED: no effective gid");
  PeerCredentials out{xu.cr_uid, xu.cr_groups[0], xu.cr_pid, {}};
  const int n = std::min<int>(xu.cr_ngroups, XU_NGROUPS);
  out.groups.assign(xu.cr_groups + 1, xu.cr_groups + n);
  return out;
}

}  // namespace vnetd::platform
