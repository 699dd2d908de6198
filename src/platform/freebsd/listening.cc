#include "platform/listening.h"

#include <sys/types.h>
#include <sys/sysctl.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "platform/freebsd/jail_child.h"
#include "platform/freebsd/pcblist_decode.h"
#include "platform/freebsd/sysctl_list.h"

namespace vnetd::platform {
namespace {

// A vnet jail's sockets are in its own vnet's PCB lists: net.inet.tcp.pcblist answers for
// the calling thread's vnet (sys/netinet/tcp_subr.c tcp_pcblist walks V_tcbinfo, the
// vnet-virtualised list; sys/netinet/udp_usrreq.c udp_pcblist walks V_udbinfo), so the
// host's sysctl never lists them. A child attached to the jail (jail_child.h) reads both
// lists there — as sockstat(1) -j does for a vnet jail (usr.bin/sockstat/sockstat.c main:
// jail_attach when jail_getvnet says JAIL_SYS_NEW) — and ships the bytes back unchanged;
// they are decoded here, in the parent (pcblist_decode.h).

// Sockets can be created between the size probe and the copy: probed again a few times
// (sysctl_list.h), as sockstat.c gather_inet does.
constexpr int kSysctlAttempts = 4;
// 744 bytes per TCP PCB: tens of thousands of sockets, far beyond a jail's service.
constexpr size_t kMaxList = size_t{32} << 20;
// The list changed while the kernel copied it (head and tail generations differ):
// read it again, a few times, then take what came (doctor's answer is advisory).
constexpr int kConsistentAttempts = 3;

// Runs in the child. Appends the sysctl's answer to `out`; ENOENT (a kernel without
// that protocol) appends nothing, as sockstat.c gather_inet skips it.
Result<void> appendList(const char* name, std::vector<std::byte>& out) {
  auto r = fbsd::appendSysctlList(
      [name](void* buf, size_t* len) { return ::sysctlbyname(name, buf, len, nullptr, 0); }, out,
      std::string("read sysctl ") + name, fbsd::SysctlListLimits{4096, kMaxList, kSysctlAttempts});
  if (!r && r.error().code == ENOENT) return success();
  return r;
}

// Runs in the child: [uint64 TCP list length][TCP list][UDP list].
Result<void> readListsInJail(std::vector<std::byte>& data, std::vector<int>& /*fds*/) {
  data.resize(sizeof(uint64_t));
  if (auto r = appendList("net.inet.tcp.pcblist", data); !r) return r;
  const uint64_t tcp_length = data.size() - sizeof(uint64_t);
  std::memcpy(data.data(), &tcp_length, sizeof tcp_length);
  return appendList("net.inet.udp.pcblist", data);
}

struct Decoded {
  std::vector<BoundPort> ports;
  bool consistent = true;
};

Result<Decoded> decodeReply(std::span<const std::byte> data) {
  uint64_t tcp_length = 0;
  if (data.size() < sizeof tcp_length) return plainError("malformed helper reply");
  std::memcpy(&tcp_length, data.data(), sizeof tcp_length);
  if (tcp_length > data.size() - sizeof tcp_length) return plainError("malformed helper reply");
  const auto tcp = data.subspan(sizeof tcp_length, static_cast<size_t>(tcp_length));
  const auto udp = data.subspan(sizeof tcp_length + static_cast<size_t>(tcp_length));
  Decoded out;
  for (auto [bytes, proto] : {std::pair{tcp, fbsd::PcbProto::Tcp}, std::pair{udp, fbsd::PcbProto::Udp}}) {
    if (bytes.empty()) continue;  // ENOENT in the child: no such protocol
    auto list = fbsd::decodePcbList(bytes, proto);
    if (!list) return list.error();
    out.consistent = out.consistent && list->consistent;
    auto ports = fbsd::boundPorts(list->sockets, proto);
    out.ports.insert(out.ports.end(), ports.begin(), ports.end());
  }
  return out;
}

}  // namespace

Result<std::vector<BoundPort>> readJailBoundPorts(const JailInfo& jail) {
  if (!jail.own_stack)
    return plainError("jail " + jail.name + " has no own network stack (add `vnet;` to its jail.conf)");
  if (jail.id <= 0 || jail.id > INT_MAX) return plainError("jail " + jail.name + ": invalid jid");
  const int jid = static_cast<int>(jail.id);
  Result<Decoded> decoded = plainError("not read");
  for (int attempt = 0; attempt < kConsistentAttempts; ++attempt) {
    auto reply = fbsd::runInJail(jid, jail.name, readListsInJail);
    if (!reply) return withContext(reply.error(), "list the sockets of jail " + jail.name);
    decoded = decodeReply(reply->data);
    if (!decoded) return withContext(decoded.error(), "jail " + jail.name);
    if (decoded->consistent) break;
  }
  return std::move(decoded->ports);
}

}  // namespace vnetd::platform
