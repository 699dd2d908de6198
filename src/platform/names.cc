// Names of platform-neutral enums, shared by every backend (used in logs and metric
// labels, so they must not differ between FreeBSD and Linux).
#include "platform/events.h"
#include "platform/netif.h"

namespace vnetd::platform {

const char* linkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::Pair: return "pair";
    case LinkKind::Bridge: return "bridge";
    case LinkKind::Vlan: return "vlan";
    case LinkKind::Loopback: return "loopback";
    case LinkKind::Other: break;
  }
  return "other";
}

const char* eventTypeName(InterfaceEvent::Type type) {
  using T = InterfaceEvent::Type;
  switch (type) {
    case T::Arrived: return "arrived";
    case T::Departed: return "departed";
    case T::Renamed: return "renamed";
    case T::LinkUp: return "link_up";
    case T::LinkDown: return "link_down";
    case T::AddressAdded: return "address_added";
    case T::AddressRemoved: return "address_removed";
    case T::ResyncNeeded: return "resync_needed";
  }
  return "unknown";
}

}  // namespace vnetd::platform
