// FreeBSD half of platform/capture_direction.h: BPF checks the direction itself.
#include "platform/capture_direction.h"

namespace vnetd::platform {

// sys/net/bpf.c bpf_mtap (and bpf_mtap2): `if (BPF_CHECK_DIRECTION(d, m->m_pkthdr.rcvif,
// bp->bif_ifp)) continue;` before the filter runs, with bd_direction set by BIOCSDIRECTION.
Result<void> ignoreOutgoing(int) { return {}; }

}  // namespace vnetd::platform
