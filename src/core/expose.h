// Port forwards of a jail interface ("expose" in the config): the grammar, its pure parser,
// and the overlap rule the loader applies across all jails.
//
//   forward  = proto "/" [ address ":" ] ports [ ":" ports ]
//   proto    = "tcp" | "udp"
//   address  = IPv4 address | "[" IPv6 address "]"     the external address (optional)
//   ports    = port [ "-" port ]                         1..65535, first <= last
//
// The first ports are the external ones (on the host), the second the jail's; the jail's
// default to the external ones. A single port may go to another jail port; a range goes to
// the same ports in the jail (written out or left out).
// Examples: "tcp/8080:80", "udp/53", "tcp/[2001:db8::10]:443:443",
// "tcp/198.18.170.1:8000-8010:8000-8010".
//
// Without an address a forward takes the host's default external addresses (the NAT
// egress's, or any local address: docs/configuration.md "Port forwarding (expose)") for
// every family the jail interface has an address of; with one, that address's family only.
// Pure: no syscalls, no toml++; the loader (config_sections.cc) turns a problem into a
// FILE:LINE:COL error at `offset` within the string.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip.h"

namespace vnetd {

enum class ExposeProto : uint8_t { Tcp, Udp };

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct ExposeRule {
  ExposeProto proto = ExposeProto::Tcp;
  std::optional<IpAddress> address;  // external address; nullopt = the default ones
  PortRange external;
  PortRange jail;                    // a single port, or equal to `external` for a range
  // What the loader knows of the interface: which families this forward is for (filled by
  // config_validate.cc from the interface's addresses and `address`).
  bool v4 = false;
  bool v6 = false;
  friend bool operator==(const ExposeRule&, const ExposeRule&) = default;
};

const char* exposeProtoName(ExposeProto proto);  // "tcp", "udp"

// The canonical text of a forward ("tcp/8080:80", "udp/53", "tcp/[2001:db8::10]:443"):
// the jail port is left out when it equals the external one. Used as the forward's name
// in rule comments, metrics labels and vnetctl; exposeString(parseExpose(s)) parses back
// to the same rule.
std::string exposeString(const ExposeRule& rule);

struct ExposeParse {
  std::optional<ExposeRule> rule;  // set exactly when problem is empty
  std::string problem;             // what is wrong, e.g. "has port 0"
  std::string hint;                // what to write instead
  size_t offset = 0;               // byte in the text where the problem is
};

ExposeParse parseExpose(std::string_view text);

// Whether two forwards could catch the same packet on the host: same protocol, external
// port ranges that intersect, a family in common, and an address in common (a default
// address may be any address, so it meets every address of its families).
bool exposeOverlaps(const ExposeRule& a, const ExposeRule& b);

}  // namespace vnetd

namespace vnetd {

// One forward of a running jail, resolved for the packet filter: where to, and which
// external addresses it takes when it names none.
struct ExposeTarget {
  ExposeRule rule;
  unsigned interface = 0;            // index of the jail interface
  std::string egress;                // the bridge's NAT egress; "" = any local address
  std::optional<IpAddress> jail_v4;  // the interface's IPv4 address, when the forward is for IPv4
  std::optional<IpAddress> jail_v6;  // its IPv6 address, when the forward is for IPv6
  // The jail's bridge (interface name) and its subnets: a jail on the same bridge reaching
  // the forward through the host's address (hairpin) is translated to the bridge address,
  // so that the answer comes back through the host.
  std::string bridge;
  std::optional<Cidr> subnet_v4, subnet_v6;  // network addresses
  std::string name() const { return exposeString(rule); }
  friend bool operator==(const ExposeTarget&, const ExposeTarget&) = default;
};

}  // namespace vnetd
