// Fuzzes the devd(8) record parser and the IFNET event translation (pure code, built on
// every OS).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/naming.h"
#include "platform/freebsd/devd_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::platform::fbsd;
  std::string_view record(reinterpret_cast<const char*>(data), size);
  auto parsed = parseDevdRecord(record);
  if (!parsed) return 0;
  auto event = devdInterfaceEvent(*parsed);
  // Whatever gets through names only interfaces vnetd would accept.
  if (event && !vnetd::isValidInterfaceName(event->name)) __builtin_trap();
  if (event && !event->old_name.empty() && !vnetd::isValidInterfaceName(event->old_name)) {
    __builtin_trap();
  }
  // devd speaks only for the host's vnet about arrivals, departures and links; renames
  // and addresses (sent for jails too) must never come out of it.
  using Type = vnetd::platform::InterfaceEvent::Type;
  if (event && event->type != Type::Arrived && event->type != Type::Departed &&
      event->type != Type::LinkUp && event->type != Type::LinkDown) {
    __builtin_trap();
  }
  return 0;
}
