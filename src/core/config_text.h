// How the config loader words things: user text made safe for a one-line message, table
// keys as TOML writes them, and "did you mean" suggestions. Pure, no toml++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vnetd::config_text {

using Keys = std::span<const std::string_view>;

// User text echoed in a message is cut here: a message must stay one readable line.
inline constexpr size_t kMaxShownLength = 64;

// Printable form of user text: control bytes escaped (\xNN), long text cut on a UTF-8
// character boundary ("..."), '"' and '\' escaped when `escape_quotes`.
std::string show(std::string_view text, bool escape_quotes = false,
                 size_t max_length = kMaxShownLength);
// show() in single quotes: 'text'.
std::string quoted(std::string_view text);
// A table key as it would be written in a TOML header: bare when possible, else quoted.
std::string tomlKey(std::string_view key);

bool contains(Keys keys, std::string_view key);
// "a, b, c".
std::string joined(Keys keys);
// "a, b, c" of user-defined table keys, shortened: a hint, not a listing.
std::string definedNames(const std::vector<std::string>& names);

// The candidate within a small edit distance of `word` (a typo), if any.
std::optional<std::string> closest(std::string_view word, std::span<const std::string> candidates);
std::optional<std::string> closest(std::string_view word, Keys candidates);
// "did you mean 'x'?" or "valid keys: ...".
std::string keySuggestion(std::string_view word, Keys valid);

// Bytes with the largest exact binary suffix: 65536 -> "64K", 1 << 30 -> "1G".
std::string sizeString(int64_t bytes);

}  // namespace vnetd::config_text
