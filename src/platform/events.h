// Interface events from the kernel, in one platform-neutral stream.
//
// FreeBSD: PF_ROUTE routing socket + devd(8). Linux: rtnetlink multicast + kernel
// uevents (NETLINK_KOBJECT_UEVENT). Both sources of a platform report the same changes
// (a veth creation is an RTM_NEWLINK *and* a uevent): consumers treat events as "look
// again at this interface", not as exact counts of kernel changes, and label metrics by
// source. When the kernel dropped messages (socket overflow, ENOBUFS) the stream says
// ResyncNeeded: the consumer must re-list everything instead of guessing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/netif.h"

namespace vnetd::platform {

struct InterfaceEvent {
  enum class Type : uint8_t {
    Arrived,         // a new interface in this stack
    Departed,        // destroyed, or moved to another stack
    Renamed,         // old_name -> name, same index
    LinkUp,
    LinkDown,
    AddressAdded,
    AddressRemoved,
    ResyncNeeded,    // events were lost: re-list everything
  };
  Type type = Type::Arrived;
  const char* source = "";  // "rtnetlink", "uevent", "route", "devd"
  uint32_t index = 0;       // 0 when the source does not say
  std::string name;
  std::string old_name;     // Renamed only
  std::optional<Cidr> address;  // Address* only
  // The link as the event's own message describes it, when that message holds the whole
  // of it (Linux: every RTM_NEWLINK carries the link's full state), so a consumer that
  // keeps a view of links need not ask the kernel again (a query takes the RTNL lock the
  // hooks' changes wait for). nullopt for every other source (uevents, FreeBSD's routing
  // socket and devd say less) and for Departed. Counters in it are those of the message.
  std::optional<LinkInfo> link;
};

const char* eventTypeName(InterfaceEvent::Type type);

class EventSource {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~EventSource() = default;
  // Descriptors to watch for readability (level-triggered). The set can change, but only
  // inside drain(): a source reconnects to a service that restarted (devd) or replaces a
  // socket the kernel overflowed. After each drain() an owner compares fdsGeneration()
  // and, when it moved, drops its watches of the old descriptors *before* watching the
  // new ones — a closed number can come back at once as the new socket, or as any other
  // file of the process, and a stale watch of it would hide that file from the loop.
  virtual std::vector<int> fds() const = 0;
  // Changes whenever fds() changes, even when the numbers stay the same (a socket closed
  // and its replacement given the same number).
  virtual uint64_t fdsGeneration() const = 0;
  // When the source needs drain() called although none of its descriptors may become
  // readable — it has something to retry on its own (reconnecting to devd, re-reading a
  // table the kernel would not dump) — or nullopt. Re-read after each drain(); a drain
  // earlier than asked is harmless.
  virtual std::optional<Clock::time_point> retryAt() const = 0;
  // Reads everything pending without blocking and appends the events. Loop thread only.
  virtual Result<void> drain(std::vector<InterfaceEvent>& out) = 0;
};

// Events of the host's network stack, with the socket buffers enlarged. The initial link
// table is learnt so that the first renames and link changes are reported correctly.
Result<std::unique_ptr<EventSource>> openHostEvents();

}  // namespace vnetd::platform
