// Pure parts of the Linux event source: rtnetlink messages → InterfaceEvents (stateful
// only in remembering index → name/link state, which renames and link transitions
// need), and kernel uevent datagrams → InterfaceEvents. Untrusted bytes in, never a
// crash; fuzzed by tests/fuzz/fuzz_linux_events.cc.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "platform/events.h"
#include "platform/netif.h"

namespace vnetd::platform::lnx {

class RtnlEventTranslator {
 public:
  // Forget everything and learn the current links (after start or a resync).
  void seed(const std::vector<LinkInfo>& links);
  // Translates every message in a receive buffer. Malformed messages are skipped and
  // counted in malformed().
  void translate(std::span<const std::byte> buffer, std::vector<InterfaceEvent>& out);
  uint64_t malformed() const { return malformed_; }

 private:
  struct Known {
    std::string name;
    bool running = false;
  };
  std::map<uint32_t, Known> links_;
  uint64_t malformed_ = 0;
};

// One NETLINK_KOBJECT_UEVENT datagram ("ACTION@DEVPATH\0KEY=VALUE\0..."). Only network
// interfaces (SUBSYSTEM=net) produce events: add → Arrived, remove → Departed,
// move → Renamed. Returns false for datagrams that are not kernel net uevents (udev's
// "libudev" re-broadcasts, other subsystems, garbage).
bool decodeUevent(std::span<const std::byte> datagram, InterfaceEvent& out);

}  // namespace vnetd::platform::lnx
