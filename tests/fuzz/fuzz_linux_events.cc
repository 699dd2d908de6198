// Fuzzes the Linux event decoders: rtnetlink message splitting + link/address/route/stats
// decoding + the event translator + the notification-fed link table, the uevent parser,
// and the sock_diag packet-socket decoder (the capture's ring size), on the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "platform/linux/event_decode.h"
#include "platform/linux/link_table.h"
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
    (void)decodeStatsMessage(m);
    (void)decodePacketDiagMessage(m);
  });
  static LinkTable table;  // like the daemon's: state across inputs, never reset
  table.apply(bytes);
  if (table.size() > 4096) table.reset({});  // bounded, like the kernel's own table would be
  vnetd::platform::InterfaceEvent e;
  (void)decodeUevent(bytes, e);
  return 0;
}
