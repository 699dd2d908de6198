// Fuzzes the FreeBSD neighbour-cache dump decoder (lltable_decode.h; pure code, built on
// every OS): message splitting by rtm_msglen, the destination / link-layer sockaddr walk
// and the resolved / own-address selection.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "platform/freebsd/default_route.h"
#include "platform/freebsd/lltable_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fb = vnetd::platform::fbsd;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto entries = fb::decodeLltableDump(bytes);
  if (!entries) {
    if (entries.error().context.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  // Every message is at least an rt_msghdr: no entry comes from nothing.
  if (entries->size() * fb::kRtMsghdrSize > size) __builtin_trap();
  for (const auto& e : *entries) {
    if (e.mac && !e.resolved) __builtin_trap();  // a MAC is only there when sdl_alen != 0
  }
  const auto all = fb::neighboursInUse(*entries, 0);
  if (all.size() > entries->size()) __builtin_trap();
  if (!entries->empty()) {
    const uint32_t link = entries->front().link_index;
    if (link == 0) __builtin_trap();  // refused by the decoder: 0 would mean every link
    for (const auto& n : fb::neighboursInUse(*entries, link))
      if (n.link_index != link) __builtin_trap();
  }
  // A dump is a plain sequence of messages: two copies back to back decode to twice the
  // entries (what readNeighbourDump's concatenation of the two families relies on).
  std::vector<std::byte> twice(bytes.begin(), bytes.end());
  twice.insert(twice.end(), bytes.begin(), bytes.end());
  auto doubled = fb::decodeLltableDump(twice);
  if (!doubled || doubled->size() != 2 * entries->size()) __builtin_trap();
  return 0;
}
