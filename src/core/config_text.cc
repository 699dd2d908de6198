#include "core/config_text.h"

#include <algorithm>
#include <cstdio>

namespace vnetd::config_text {
namespace {

constexpr size_t kMaxSuggestionDistance = 2;

// Levenshtein distance, or limit + 1 as soon as it must exceed `limit`.
size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  size_t diff = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (diff > limit) return limit + 1;
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    size_t best = row[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
      best = std::min(best, row[j]);
    }
    if (best > limit) return limit + 1;
  }
  return row[b.size()];
}

template <typename Range>
std::optional<std::string> closestIn(std::string_view word, const Range& candidates) {
  std::optional<std::string> best;
  size_t best_distance = kMaxSuggestionDistance + 1;
  for (const auto& candidate : candidates) {
    size_t d = editDistance(word, candidate, kMaxSuggestionDistance);
    // A one- or two-letter word is within distance 2 of too many things to be a hint.
    if (d < best_distance && d < word.size()) {
      best = std::string(candidate);
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

std::string show(std::string_view text, bool escape_quotes, size_t max_length) {
  size_t n = text.size();
  bool cut = false;
  if (n > max_length) {
    n = max_length;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
    cut = true;
  }
  std::string out;
  for (char c : text.substr(0, n)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else if (escape_quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  return out;
}

std::string quoted(std::string_view text) { return "'" + show(text) + "'"; }

std::string tomlKey(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return bare ? std::string(key) : "\"" + show(key, true) + "\"";
}

bool contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string joined(Keys keys) {
  std::string out;
  for (std::string_view k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string definedNames(const std::vector<std::string>& names) {
  constexpr size_t kMaxListed = 8;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxListed; ++i)
    out += (i ? ", " : "") + show(names[i]);
  if (names.size() > kMaxListed) out += ", ...";
  return out;
}

std::optional<std::string> closest(std::string_view word, std::span<const std::string> candidates) {
  return closestIn(word, candidates);
}

std::optional<std::string> closest(std::string_view word, Keys candidates) {
  return closestIn(word, candidates);
}

std::string keySuggestion(std::string_view word, Keys valid) {
  if (auto best = closest(word, valid)) return "did you mean '" + *best + "'?";
  return "valid keys: " + joined(valid);
}

std::string sizeString(int64_t bytes) {
  if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "G";
  if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes % (int64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

}  // namespace vnetd::config_text
