#include "platform/linux/proc_net_decode.h"

#include <optional>
#include <string>

namespace vnetd::platform::lnx {
namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Fixed-width hex of at most 4 digits (port) or 2 (state); nullopt otherwise.
std::optional<uint32_t> hex(std::string_view s, size_t width) {
  if (s.size() != width) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    int d = hexDigit(c);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace

Result<std::vector<ProcNetSocket>> decodeProcNetSockets(std::string_view text) {
  std::vector<ProcNetSocket> out;
  bool header = true;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    auto f = fields(line);
    if (f.empty()) continue;
    if (header) {
      if (f[0] != "sl" || f.size() < 4 || f[1] != "local_address")
        return plainError("not a /proc/net socket table: line 1 is not its header");
      header = false;
      continue;
    }
    auto bad = [&] { return plainError("not a /proc/net socket table: line " + std::to_string(line_no)); };
    if (f.size() < 4 || f[0].empty() || f[0].back() != ':') return bad();
    std::string_view local = f[1];
    size_t colon = local.find(':');
    if (colon == std::string_view::npos || (colon != 8 && colon != 32)) return bad();
    for (char c : local.substr(0, colon))
      if (hexDigit(c) < 0) return bad();
    auto port = hex(local.substr(colon + 1), 4);
    auto state = hex(f[3], 2);
    if (!port || !state) return bad();
    out.push_back({static_cast<uint16_t>(*port), static_cast<uint8_t>(*state)});
  }
  if (header) return plainError("not a /proc/net socket table: empty");
  return out;
}

}  // namespace vnetd::platform::lnx
