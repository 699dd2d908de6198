// What the kernel gave a live packet capture, and what caps it: the collectors ask here
// (they have no OS #ifdefs), `vnetctl doctor` too.
//
// libpcap takes a requested buffer size (pcap_set_buffer_size) but never says what the
// kernel granted, and the two differ:
//   FreeBSD  BIOCSBLEN silently clamps the request to the sysctl net.bpf.maxbufsize
//            (sys/net/bpf_buffer.c bpf_buffer_ioctl_sblen: `if (size > bpf_maxbufsize)
//            *i = size = bpf_maxbufsize`; default BPF_MAXBUFSIZE 0x80000 = 512 KiB in
//            net/bpf.h), so the default 4M buffer is 512K. libpcap's pcap_activate_bpf
//            (pcap-bpf.c) issues BIOCSBLEN with the requested size, then reads BIOCGBLEN
//            back into its private p->bufsize: there is no public accessor.
//   Linux    TPACKET_V3 rounds the request to whole ring blocks, and pcap-linux.c's
//            create_ring shrinks the ring on ENOMEM; what it got stays in its private
//            handle state too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace vnetd::platform {

// The kernel buffer of the live capture whose descriptor is `fd` (pcap_fileno), in bytes.
//   FreeBSD: ioctl BIOCGBLEN on the BPF descriptor — d->bd_bufsize (sys/net/bpf.c
//            bpfioctl), which bpf_buffer_ioctl_sblen set to the clamped size (and
//            bpf_zerocopy_ioctl_setzbuf to the zero-copy buffer's usable size). It is
//            the size of each of BPF's two buffers (store and hold), as requested.
//   Linux:   the packet socket's receive ring, block size x blocks, from a sock_diag dump
//            of the packet sockets (net/packet/diag.c pdiag_put_ring, PACKET_DIAG_RX_RING)
//            matched by the socket's inode. Error when the socket has no ring.
// Any thread; a few system calls (Linux: one netlink dump of the host's packet sockets).
Result<uint64_t> captureBufferBytes(int fd);

// A kernel cap on the capture buffer of every capture.
struct CaptureBufferLimit {
  uint64_t bytes = 0;       // the cap in force now
  std::string sysctl;       // the setting that raises it, e.g. "net.bpf.maxbufsize"
  std::string config_file;  // where that setting is made permanent, e.g. "/etc/sysctl.conf"
  friend bool operator==(const CaptureBufferLimit&, const CaptureBufferLimit&) = default;
};

// The cap, or nullopt where the platform has none. FreeBSD: net.bpf.maxbufsize
// (sys/net/bpf_buffer.c, CTLFLAG_RW: it can be raised at run time; captures opened
// afterwards get the larger buffer). Linux: none (the ring is bounded by memory only).
// Any thread.
Result<std::optional<CaptureBufferLimit>> readCaptureBufferLimit();

// The command that raises `limit` to `bytes` now and at boot:
// "sysctl net.bpf.maxbufsize=4194304 && echo net.bpf.maxbufsize=4194304 >> /etc/sysctl.conf".
// Pure.
std::string raiseCaptureBufferLimitCommand(const CaptureBufferLimit& limit, uint64_t bytes);

}  // namespace vnetd::platform
