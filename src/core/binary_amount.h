// Amounts written as digits with an optional binary suffix ("4M", "2G", "100").
//
// The one parser behind every such amount vnetd reads: [capture] buffer_size (K/M/G),
// rctl amounts (K/M/G/T, as rctl(8) expands them: usr.bin/rctl/rctl.c expand_amount) and
// the port of a listen address (no suffix). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vnetd {

// Digits with one optional suffix from `suffixes` (case-insensitive), each suffix a
// further factor of 1024 ("KMG": 2G = 2 << 30). nullopt on any other text or overflow:
// empty, signs, spaces, fractions, a suffix not in `suffixes`, more than 64 bits.
std::optional<uint64_t> parseBinaryAmount(std::string_view text, std::string_view suffixes);

}  // namespace vnetd
