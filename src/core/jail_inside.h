// JailInside: what one jail's own network stack held when it was last read (its links and
// their addresses), so the daemon can show it without entering the jail on its loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "platform/netif.h"

namespace vnetd {

struct JailInside {
  // The running jail instance that was read (FreeBSD jid, Linux namespace inode): facts of
  // an earlier instance of a restarted jail are not facts about this one.
  int64_t jail_id = 0;
  // When the reading began; of two readings the later-begun one describes the stack better
  // (a reading that began before a hook's changes may finish after them).
  std::chrono::steady_clock::time_point read_at;
  std::vector<platform::LinkInfo> links;
  std::vector<platform::AddressInfo> addresses;
};

}  // namespace vnetd
