#include "core/listen_address.h"

#include <algorithm>

#include "core/binary_amount.h"
#include "core/ip.h"

namespace vnetd {
namespace {

constexpr size_t kMaxHostNameLength = 253;
constexpr size_t kMaxPortDigits = 5;

bool isHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

ListenAddressParse problem(std::string what, std::string hint) {
  ListenAddressParse p;
  p.problem = std::move(what);
  p.hint = std::move(hint);
  return p;
}

}  // namespace

ListenAddressParse parseListenAddress(std::string_view text) {
  constexpr const char* kV6Hint = "write IPv6 as [address]:port, e.g. [::1]:10090";
  ListenAddressParse out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return problem("has no closing ']'", kV6Hint);
    std::string_view host = text.substr(1, close - 1);
    auto address = IpAddress::parse(host);
    if (!address || address->family != IpFamily::V6)
      return problem("has an invalid IPv6 address", kV6Hint);
    if (close + 1 >= text.size() || text[close + 1] != ':') return problem("has no port", kV6Hint);
    out.address.host = std::string(host);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return problem("has no port", "use host:port, e.g. 127.0.0.1:10090");
    std::string_view host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return problem("has an IPv6 address without brackets", kV6Hint);
    if (host.empty())
      return problem("has no host", "use 0.0.0.0:10090 to listen on every IPv4 address");
    bool numeric = std::all_of(host.begin(), host.end(),
                               [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    bool ok = numeric ? IpAddress::parse(host).has_value()
                      : host.size() <= kMaxHostNameLength && host.front() != '-' &&
                            host.front() != '.' &&
                            std::all_of(host.begin(), host.end(), isHostNameChar);
    if (!ok)
      return problem("has an invalid host", "use an IPv4 address or a host name, e.g. 127.0.0.1");
    out.address.host = std::string(host);
  }
  auto number = parseBinaryAmount(port, "");
  if (port.size() > kMaxPortDigits || !number || *number > 65535)
    return problem("has an invalid port", "use a port in 1..65535, or 0 for any free port");
  out.address.port = static_cast<uint16_t>(*number);
  return out;
}

}  // namespace vnetd
