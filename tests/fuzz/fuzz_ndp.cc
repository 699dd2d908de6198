// Fuzzes the router solicitation decoder (core/ndp.h): the bytes a raw ICMPv6 socket on
// an advertising bridge hands the daemon. The first byte picks the hop limit and whether
// the source is the unspecified address; the rest is the ICMPv6 message.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/ndp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd;
  if (size == 0) return 0;
  const int hop_limit = (data[0] & 0x80) ? 255 : data[0];
  IpAddress source{IpFamily::V6, {}};
  if (data[0] & 0x40) {
    source.bytes[0] = 0xfe;
    source.bytes[1] = 0x80;
    source.bytes[15] = 1;
  }
  std::span<const std::byte> icmp(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  auto rs = ndp::decodeRouterSolicitation(icmp, source, hop_limit);
  if (rs) {
    // What passes is a solicitation by RFC 4861 6.1.1: all of these were checked.
    if (hop_limit != 255 || icmp.size() < 8 || icmp[0] != std::byte{133} || icmp[1] != std::byte{0})
      __builtin_trap();
    if (rs->source_link_layer && !(data[0] & 0x40)) __builtin_trap();  // never from ::
  }
  return 0;
}
