#include "platform/listening.h"

#include <cerrno>

namespace vnetd::platform {

// Not read on FreeBSD yet: a vnet jail's sockets are in its own vnet's pcb lists —
// net.inet.tcp.pcblist answers for the calling thread's vnet (sys/netinet/tcp_subr.c
// tcp_pcblist walks V_tcbinfo, the vnet-virtualised list) — so the host's sysctl
// never lists them. Reading them takes a process attached to the jail (jail_attach, as
// platform/freebsd/jail_child.cc does for other reads inside a jail); until then doctor
// names sockstat(1) -j, which attaches to a vnet jail itself (usr.bin/sockstat/sockstat.c
// main: jail_attach when jail_getvnet says JAIL_SYS_NEW).
Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail) {
  return Error{ENOTSUP, "jail " + jail.name + ": listening sockets are not read on FreeBSD"};
}

}  // namespace vnetd::platform
