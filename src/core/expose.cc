#include "core/expose.h"

#include <cstddef>

namespace vnetd {
namespace {

constexpr std::string_view kExample = "e.g. \"tcp/8080:80\" or \"udp/198.18.0.1:53\"";

ExposeParse problem(size_t offset, std::string problem, std::string hint) {
  ExposeParse out;
  out.problem = std::move(problem);
  out.hint = std::move(hint);
  out.offset = offset;
  return out;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// "80" or "8000-8010" at `base` of the whole text; nullopt with `err` set otherwise.
std::optional<PortRange> parsePorts(std::string_view text, size_t base, const char* which, ExposeParse& err) {
  auto port = [&](std::string_view digits, size_t at) -> std::optional<uint16_t> {
    if (digits.empty()) {
      err = problem(at, std::string("has no ") + which + " port", "write a port number 1..65535 after the ':'");
      return std::nullopt;
    }
    uint32_t value = 0;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (!isDigit(digits[i])) {
        err = problem(at + i, std::string(which) + " port '" + std::string(digits) + "' is not a number",
                      "write a port 1..65535 or a range first-last, " + std::string(kExample));
        return std::nullopt;
      }
      value = value * 10 + static_cast<uint32_t>(digits[i] - '0');
      if (value > 65535) {
        err = problem(at, std::string(which) + " port " + std::string(digits) + " is above 65535",
                      "ports are 1..65535");
        return std::nullopt;
      }
    }
    if (value == 0) {
      err = problem(at, std::string("has ") + which + " port 0", "ports are 1..65535");
      return std::nullopt;
    }
    return static_cast<uint16_t>(value);
  };
  size_t dash = text.find('-');
  auto first = port(text.substr(0, dash), base);
  if (!first) return std::nullopt;
  if (dash == std::string_view::npos) return PortRange{*first, *first};
  auto last = port(text.substr(dash + 1), base + dash + 1);
  if (!last) return std::nullopt;
  if (*last < *first) {
    err = problem(base, std::string(which) + " port range " + std::string(text) + " ends before it starts",
                  "write the lower port first, e.g. " + std::to_string(*last) + "-" + std::to_string(*first));
    return std::nullopt;
  }
  return PortRange{*first, *last};
}

bool looksLikeIpv4(std::string_view part) { return part.find('.') != std::string_view::npos; }

}  // namespace

const char* exposeProtoName(ExposeProto proto) { return proto == ExposeProto::Tcp ? "tcp" : "udp"; }

std::string exposeString(const ExposeRule& rule) {
  auto ports = [](const PortRange& r) {
    return r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
  };
  std::string out = std::string(exposeProtoName(rule.proto)) + "/";
  if (rule.address)
    out += rule.address->family == IpFamily::V6 ? "[" + rule.address->toString() + "]:" : rule.address->toString() + ":";
  out += ports(rule.external);
  if (!(rule.jail == rule.external)) out += ":" + ports(rule.jail);
  return out;
}

ExposeParse parseExpose(std::string_view text) {
  size_t slash = text.find('/');
  if (text.empty()) return problem(0, "is empty", "write protocol/port, " + std::string(kExample));
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ' || text[i] == '\t')
      return problem(i, "contains a space", "write it without spaces, " + std::string(kExample));
  }
  if (slash == std::string_view::npos)
    return problem(0, "has no protocol", "start with tcp/ or udp/, " + std::string(kExample));
  ExposeRule rule;
  std::string_view proto = text.substr(0, slash);
  if (proto == "tcp") {
    rule.proto = ExposeProto::Tcp;
  } else if (proto == "udp") {
    rule.proto = ExposeProto::Udp;
  } else if (proto == "TCP" || proto == "Tcp") {
    return problem(0, "has protocol '" + std::string(proto) + "'", "write it in lower case: tcp");
  } else if (proto == "UDP" || proto == "Udp") {
    return problem(0, "has protocol '" + std::string(proto) + "'", "write it in lower case: udp");
  } else {
    return problem(0, "has unknown protocol '" + std::string(proto) + "'", "use tcp or udp");
  }
  size_t pos = slash + 1;
  std::string_view rest = text.substr(pos);
  if (rest.empty()) return problem(pos, "has no port", "write a port after the '/', " + std::string(kExample));

  // The external address: "[v6]:" or "a.b.c.d:".
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return problem(pos, "has '[' without ']'", "write an IPv6 address as [2001:db8::10]:443");
    std::string_view inside = rest.substr(1, close - 1);
    auto address = IpAddress::parse(inside);
    if (!address || address->family != IpFamily::V6)
      return problem(pos + 1, "has '" + std::string(inside) + "' in brackets, not an IPv6 address",
                     "brackets hold an IPv6 address, e.g. [2001:db8::10]:443; write IPv4 without them");
    rule.address = address;
    if (close + 1 >= rest.size() || rest[close + 1] != ':')
      return problem(pos + close + 1, "has no port after the address", "write [address]:port, e.g. [2001:db8::10]:443");
    pos += close + 2;
    rest = text.substr(pos);
  } else {
    size_t colon = rest.find(':');
    std::string_view first = rest.substr(0, colon);
    size_t colons = 0;
    for (char c : rest) colons += c == ':';
    if (!looksLikeIpv4(first) && (colons > 2 || rest.find("::") != std::string_view::npos))
      return problem(pos, "has an IPv6 address without brackets", "write it in brackets, e.g. [2001:db8::10]:443");
    if (looksLikeIpv4(first)) {
      auto address = IpAddress::parse(first);
      if (!address || address->family != IpFamily::V4) {
        return problem(pos, "has '" + std::string(first) + "', not an IPv4 address",
                       "write the external address as a.b.c.d, e.g. \"tcp/198.18.0.1:8080:80\"");
      }
      rule.address = address;
      if (colon == std::string_view::npos)
        return problem(pos + first.size(), "has no port after the address", "write address:port, e.g. 198.18.0.1:8080");
      pos += colon + 1;
      rest = text.substr(pos);
    }
  }
  if (rule.address) {
    bool unspecified = true;
    for (size_t i = 0; i < rule.address->length(); ++i) unspecified = unspecified && rule.address->bytes[i] == 0;
    if (unspecified)
      return problem(slash + 1, "has the unspecified address " + rule.address->toString(),
                     "leave the address out to use the host's default addresses");
    bool multicast = rule.address->family == IpFamily::V4 ? (rule.address->bytes[0] & 0xf0) == 0xe0
                                                           : rule.address->bytes[0] == 0xff;
    if (multicast)
      return problem(slash + 1, "has the multicast address " + rule.address->toString(),
                     "use an address of the host");
  }

  // ports [":" ports]
  if (rest.empty()) return problem(pos, "has no port", "write a port, " + std::string(kExample));
  size_t colon = rest.find(':');
  ExposeParse err;
  auto external = parsePorts(rest.substr(0, colon), pos, "external", err);
  if (!external) return err;
  rule.external = *external;
  rule.jail = rule.external;
  if (colon != std::string_view::npos) {
    std::string_view jail_text = rest.substr(colon + 1);
    size_t jail_pos = pos + colon + 1;
    if (jail_text.find(':') != std::string_view::npos)
      return problem(jail_pos + jail_text.find(':'), "has more than two port parts",
                     "write [address:]external-port[:jail-port], e.g. \"tcp/198.18.0.1:8080:80\"");
    auto jail = parsePorts(jail_text, jail_pos, "jail", err);
    if (!jail) return err;
    uint32_t external_span = rule.external.last - rule.external.first;
    uint32_t jail_span = jail->last - jail->first;
    if (external_span != jail_span)
      return problem(jail_pos,
                     "maps " + std::to_string(external_span + 1) + " external ports onto " + std::to_string(jail_span + 1) +
                         " jail ports",
                     "give both ranges the same ports, e.g. 8000-8010:8000-8010, or leave the jail ports out");
    // A range is forwarded to the same ports: nftables' dnat to a port range picks any port
    // of it (nf_nat_l4proto_unique_tuple), it does not keep the offset, so a shifted range
    // could not be written as one rule on Linux.
    if (external_span > 0 && !(*jail == rule.external))
      return problem(jail_pos, "moves the port range " + std::to_string(rule.external.first) + "-" +
                                   std::to_string(rule.external.last) + " to other jail ports",
                     "a range is forwarded to the same ports: leave the jail ports out, or forward single ports");
    rule.jail = *jail;
  }
  ExposeParse out;
  out.rule = rule;
  return out;
}

bool exposeOverlaps(const ExposeRule& a, const ExposeRule& b) {
  if (a.proto != b.proto) return false;
  if (a.external.last < b.external.first || b.external.last < a.external.first) return false;
  if (!((a.v4 && b.v4) || (a.v6 && b.v6))) return false;
  if (!a.address || !b.address) return true;
  return *a.address == *b.address;
}

}  // namespace vnetd
