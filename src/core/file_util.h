// Small, careful file helpers shared by the config loader, state store and platforms.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace vnetd {

// Reads a whole regular file of at most max_bytes (larger → EFBIG), retrying on EINTR.
Result<std::string> readSmallFile(const std::string& path, size_t max_bytes);
// The same from an open descriptor (from its current offset); `path` is for messages.
Result<std::string> readSmallFile(int fd, const std::string& path, size_t max_bytes);

// Removes leading/trailing ASCII whitespace.
std::string trimWhitespace(std::string_view text);
// The fields of `line` between runs of `separators` (no empty fields), as views into it.
std::vector<std::string_view> splitFields(std::string_view line, std::string_view separators = " \t");

}  // namespace vnetd
