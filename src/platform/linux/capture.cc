// Linux half of platform/capture.h: the TPACKET ring a capture got, from sock_diag.
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>

#include "platform/capture.h"
#include "platform/linux/netlink.h"
#include "platform/linux/rtnl_decode.h"

namespace vnetd::platform {

Result<uint64_t> captureBufferBytes(int fd) {
  // libpcap keeps the ring it mapped in private state (pcap-linux.c create_ring,
  // TPACKET_V3: "frames" of MAXIMUM_SNAPLEN = 256 KiB, as many as the request rounded up
  // needs, one per block of the smallest power-of-two pages that holds one; on ENOMEM
  // 5 % fewer until it fits; handlep->mmapbuflen = tp_block_nr x tp_block_size). The kernel reports it for every
  // packet socket of the caller's namespace in a sock_diag dump (net/packet/diag.c:
  // dump only, no inode filter, PACKET_SHOW_RING_CFG needs no privilege); the capture's
  // socket is the one with its inode.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errnoError("stat the capture socket");
  if (!S_ISSOCK(st.st_mode)) return plainError("the capture descriptor is not a socket");
  auto sock = lnx::NetlinkSocket::open(NETLINK_SOCK_DIAG);
  if (!sock) return sock.error();
  lnx::MessageBuilder msg(SOCK_DIAG_BY_FAMILY, 0);
  auto* req = msg.putHeader<packet_diag_req>();
  req->sdiag_family = AF_PACKET;
  req->pdiag_show = PACKET_SHOW_RING_CFG;
  std::optional<uint64_t> ring;
  Error bad;
  VNETD_TRY(sock->dump(msg, "list packet sockets (sock_diag)", [&](std::span<const std::byte> m) {
    if (lnx::messageType(m) != SOCK_DIAG_BY_FAMILY) return;
    auto d = lnx::decodePacketDiagMessage(m);
    if (!d) {
      bad = d.error();
      return;
    }
    if (d->inode == st.st_ino) ring = d->rx_ring_bytes;
  }));
  if (!ring) {
    if (bad.code != 0 || !bad.context.empty()) return bad;
    return Error{ENOENT, "the capture socket (inode " + std::to_string(st.st_ino) + ") is not in the packet socket list"};
  }
  if (*ring == 0) return plainError("the capture socket has no receive ring (libpcap without TPACKET?)");
  return *ring;
}

Result<std::optional<CaptureBufferLimit>> readCaptureBufferLimit() {
  // The ring is allocated at PACKET_RX_RING time, bounded only by memory (libpcap
  // shrinks it on ENOMEM); net.core.rmem_max applies to the socket's queue, not the ring.
  return std::optional<CaptureBufferLimit>();
}

}  // namespace vnetd::platform
