// Fuzzes the FreeBSD routing-socket translator (pure code, built on every OS): message
// splitting by msglen, the per-type minimum lengths, the sockaddr walk of address
// messages and the rename/link-state memory.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "platform/freebsd/rtsock_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vnetd::platform::fbsd::RtsockEventTranslator;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  // Keeps state across inputs, like the daemon; a fresh one sees the first-sighting paths.
  static RtsockEventTranslator translator;
  RtsockEventTranslator fresh;
  std::vector<vnetd::platform::InterfaceEvent> events;
  translator.translate(bytes, events);
  fresh.translate(bytes, events);
  // The same bytes split in two, as if they had come in two recv()s.
  size_t half = size / 2;
  fresh.translate(bytes.first(half), events);
  fresh.translate(bytes.subspan(half), events);
  for (const auto& e : events) {
    // Every reported address must be a well-formed prefix.
    if (e.address && e.address->prefix > e.address->address.length() * 8) __builtin_trap();
  }
  return 0;
}
