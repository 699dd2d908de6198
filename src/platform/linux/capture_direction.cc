// Linux half of platform/capture_direction.h.
#include <linux/if_packet.h>
#include <sys/socket.h>

#include "platform/capture_direction.h"

namespace vnetd::platform {

Result<void> ignoreOutgoing(int fd) {
  // Linux >= 4.20 (PACKET_IGNORE_OUTGOING); older kernels: ENOPROTOOPT, and the frames
  // are dropped by libpcap in user space as before.
  int one = 1;
  if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
    return errnoError("ignore transmitted frames on the capture socket (PACKET_IGNORE_OUTGOING)");
  return {};
}

}  // namespace vnetd::platform
