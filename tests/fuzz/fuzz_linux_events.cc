// Fuzzes the Linux event decoders: rtnetlink message splitting + link/address/route
// decoding + the event translator, and the uevent parser, on the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "platform/linux/event_decode.h"
#include "platform/linux/rtnl_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::platform::lnx;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  static RtnlEventTranslator translator;  // keeps state across inputs, like the daemon
  std::vector<vnetd::platform::InterfaceEvent> events;
  translator.translate(bytes, events);
  (void)forEachMessage(bytes, [](std::span<const std::byte> m) {
    (void)decodeLinkMessage(m);
    (void)decodeAddrMessage(m);
    (void)decodeRouteMessage(m);
  });
  vnetd::platform::InterfaceEvent e;
  (void)decodeUevent(bytes, e);
  return 0;
}
