// The address a TCP listener binds, written "host:port" or "[IPv6]:port".
//
// The one owner of that syntax: the config loader checks [metrics] listen with it (and
// turns a problem into a FILE:LINE:COL error), the metrics exporter splits the validated
// text with it before evhttp binds it. Pure.
//
// Rules: host is an IPv4 address or a host name ([A-Za-z0-9.-], at most 253 characters,
// not starting with '-' or '.'); IPv6 only in brackets; port is 1..5 decimal digits up to
// 65535, 0 meaning any free port (the kernel picks it; the daemon logs the one in use).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vnetd {

struct ListenAddress {
  std::string host;  // without brackets: "127.0.0.1", "::1", "localhost"
  uint16_t port = 0;
};

struct ListenAddressParse {
  ListenAddress address;  // valid when problem is empty
  // What is wrong, completing "<text> ...": "has no port", "has an invalid host", ...
  std::string problem;
  std::string hint;  // what to write instead
  bool ok() const { return problem.empty(); }
};

ListenAddressParse parseListenAddress(std::string_view text);

}  // namespace vnetd
