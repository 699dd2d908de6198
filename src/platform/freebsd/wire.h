// Reading FreeBSD kernel messages laid out in host byte order (routing-socket messages,
// sockaddrs) from a byte span, for the pure decoders that are built and fuzzed on every
// OS. No FreeBSD header.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>

namespace vnetd::platform::fbsd {

// A T at `offset`, at any alignment; T{} when it does not fit. Callers check bounds
// themselves — this only keeps a future mistake from becoming an out-of-bounds read.
template <typename T>
T loadHost(std::span<const std::byte> s, size_t offset) {
  T v{};
  if (offset <= s.size() && sizeof(T) <= s.size() - offset) std::memcpy(&v, s.data() + offset, sizeof(T));
  return v;
}

}  // namespace vnetd::platform::fbsd
