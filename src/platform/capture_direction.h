// Captures that only want the frames an interface receives (the spoofing guards, on a
// jail's port: what the jail transmits). libpcap's pcap_setdirection(PCAP_D_IN) says what
// the caller wants, but what it costs differs per OS.
#pragma once

#include "core/result.h"

namespace vnetd::platform {

// Keeps the kernel from handing the capture descriptor `fd` (pcap_fileno) the frames the
// interface transmits at all — after pcap_setdirection(PCAP_D_IN), which filters them out.
//   Linux:   libpcap 1.10 drops outgoing frames in user space (pcap-linux.c
//            linux_check_direction, after the ring): the kernel has cloned each one for the
//            tap (net/core/dev.c dev_queue_xmit_nit: one skb_clone for the taps of a
//            frame), run the socket's filter and copied it into the ring first. Setting
//            PACKET_IGNORE_OUTGOING (af_packet.c packet_setsockopt -> prot_hook.
//            ignore_outgoing) makes dev_queue_xmit_nit skip the socket: no clone, no copy.
//            Measured with bench/capture: a guard on the receiving jail's port took ~10 %
//            of the forwarding rate of minimum-size frames (delivered 0.75 -> 0.94 x no
//            capture with [capture] sample = 64).
//   FreeBSD: nothing to do: BIOCSDIRECTION (what libpcap's pcap_setdirection sets) is
//            checked in the kernel before the filter (sys/net/bpf.c bpf_mtap:
//            BPF_CHECK_DIRECTION, `continue` before bpf_filter and catchpacket).
// Any thread; at most one system call.
Result<void> ignoreOutgoing(int fd);

}  // namespace vnetd::platform
