#include "platform/freebsd/devd_parse.h"

#include "core/naming.h"

namespace vnetd::platform::fbsd {
namespace {

using Type = InterfaceEvent::Type;

bool isKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// devd records are text the kernel printed: a control character means this is not one
// (bytes >= 0x80 pass: USB descriptors can carry any string inside quotes).
bool hasControlCharacter(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// One space-separated token: a bare word, or key=value with an optionally quoted value.
struct Token {
  std::string_view key;    // empty for a bare word
  std::string_view value;  // the word itself for a bare word; unquoted for key=value
  bool pair = false;
};

// Reads the token starting at `pos` (not a space) and moves `pos` past it.
std::optional<Token> nextToken(std::string_view body, size_t& pos) {
  size_t start = pos;
  while (pos < body.size() && body[pos] != ' ' && body[pos] != '=' && body[pos] != '"') ++pos;
  std::string_view word = body.substr(start, pos - start);
  if (pos == body.size() || body[pos] == ' ') return Token{{}, word, false};
  if (body[pos] == '"' || word.empty()) return std::nullopt;  // a quote in a key, or "=value"
  for (char c : word) {
    if (!isKeyChar(c)) return std::nullopt;
  }
  ++pos;  // '='
  if (pos < body.size() && body[pos] == '"') {
    size_t close = body.find('"', pos + 1);
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view value = body.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    if (pos < body.size() && body[pos] != ' ') return std::nullopt;  // key="a"b
    return Token{word, value, true};
  }
  size_t vstart = pos;
  while (pos < body.size() && body[pos] != ' ') {
    if (body[pos] == '"') return std::nullopt;  // a stray quote: not something devd printed
    ++pos;
  }
  return Token{word, body.substr(vstart, pos - vstart), true};
}

}  // namespace

std::optional<DevdEvent> parseDevdRecord(std::string_view record) {
  if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
  if (record.empty() || hasControlCharacter(record)) return std::nullopt;
  DevdEvent event;
  event.kind = record.front();
  if (event.kind != '!' && event.kind != '+' && event.kind != '-' && event.kind != '?')
    return std::nullopt;
  bool device_record = event.kind != '!';
  std::string_view body = record.substr(1);
  size_t pos = 0;
  while (true) {
    while (pos < body.size() && body[pos] == ' ') ++pos;
    if (pos == body.size()) break;
    bool glued_to_prefix = pos == 0;
    auto token = nextToken(body, pos);
    if (!token) return std::nullopt;
    if (token->pair) {
      event.fields[std::string(token->key)] = std::string(token->value);
      continue;
    }
    // Bare words exist only in device records: "+<device> at ... on <bus>".
    if (!device_record) return std::nullopt;
    if (glued_to_prefix && event.kind != '?') {  // "+uart0"; '?' records name no device
      event.fields["device-name"] = std::string(token->value);
    } else if (token->value == "on") {
      while (pos < body.size() && body[pos] == ' ') ++pos;
      auto bus = pos < body.size() ? nextToken(body, pos) : std::nullopt;
      if (!bus || bus->pair) return std::nullopt;
      event.fields["bus"] = std::string(bus->value);
    } else if (token->value != "at") {
      return std::nullopt;
    }
  }
  if (event.fields.empty()) return std::nullopt;
  return event;
}

std::optional<InterfaceEvent> devdInterfaceEvent(const DevdEvent& event) {
  if (event.kind != '!') return std::nullopt;
  auto field = [&](const char* key) -> const std::string* {
    auto it = event.fields.find(key);
    return it == event.fields.end() ? nullptr : &it->second;
  };
  const std::string* system = field("system");
  const std::string* subsystem = field("subsystem");
  const std::string* type = field("type");
  if (!system || *system != "IFNET" || !subsystem || !type || !isValidInterfaceName(*subsystem)) {
    return std::nullopt;
  }
  InterfaceEvent out;
  out.source = "devd";
  out.name = *subsystem;
  if (*type == "ATTACH") {
    out.type = Type::Arrived;
  } else if (*type == "DETACH") {
    out.type = Type::Departed;
  } else if (*type == "LINK_UP") {
    out.type = Type::LinkUp;
  } else if (*type == "LINK_DOWN") {
    out.type = Type::LinkDown;
  } else {
    // RENAME (sys/net/if.c if_rename) and ADDR_ADD/ADDR_DEL (sys/net/route.c rt_addrmsg)
    // are sent for every vnet, without saying which: a jail renaming its interface or
    // setting an address would look like a host change. The host's routing socket hears
    // only the host's vnet and reports both (RtsockEventTranslator).
    return std::nullopt;
  }
  return out;
}

}  // namespace vnetd::platform::fbsd
