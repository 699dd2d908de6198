#include "core/binary_amount.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace vnetd {

std::optional<uint64_t> parseBinaryAmount(std::string_view text, std::string_view suffixes) {
  unsigned shift = 0;
  if (!text.empty()) {
    char last = text.back();
    if (last >= 'a' && last <= 'z') last = static_cast<char>(last - 'a' + 'A');
    size_t i = suffixes.find(last);
    if (i != std::string_view::npos) {
      shift = static_cast<unsigned>(10 * (i + 1));
      text.remove_suffix(1);
    }
  }
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace vnetd
