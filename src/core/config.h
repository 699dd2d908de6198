// vnetd's configuration: typed, validated once, then handed out by sub-struct.
//
// The loader (config_loader.cc and the config_*.{h,cc} parts it runs) is the only place
// in vnetd where exceptions are allowed: toml++ throws on syntax errors and the loader
// turns that — and every semantic problem — into ConfigError lines
// "file:line:col: message (hint)".
// Everything downstream receives plain structs that are already known to be valid:
// components never re-validate, and never see the toml++ types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/binary_amount.h"  // parseBinaryAmount, declared here before
#include "core/expose.h"
#include "core/ip.h"
#include "core/log.h"
#include "core/naming.h"
#include "core/rctl_resources.h"

namespace vnetd {

struct DaemonConfig {
  std::string control_socket;      // default: build::kDefaultControlSocket
  std::string control_group;       // group allowed on the control socket besides root ("" = root only)
  std::string state_dir;           // default: build::kDefaultStateDir
  std::string pidfile;             // default: build::kDefaultPidfile
  log::Level log_level = log::Level::Info;
  std::string host_id;             // "" = read the OS host id (FreeBSD kern.hostuuid, Linux /etc/machine-id)
  uint32_t orphan_grace_seconds = 60;
  uint32_t reconcile_interval_seconds = 10;
  // Let the daemon switch IPv4/IPv6 forwarding on for bridges that need it (and back
  // off on exit when it was vnetd that switched it): src/daemon/forwarding.h. Off by
  // default: a host-global setting is the administrator's (docs/configuration.md).
  bool manage_forwarding = false;
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:10090";  // host:port, IPv6 as [addr]:port
  std::string path = "/metrics";
};

struct CaptureConfig {
  bool enabled = true;
  uint32_t snaplen = 128;                          // bytes per frame kept by the capture
  uint32_t buffer_bytes = 4u << 20;                // kernel capture buffer per bridge
  uint32_t flow_idle_timeout_seconds = 60;
  uint32_t max_flows = 65536;                      // flow table bound per bridge
  uint32_t flight_recorder_packets = 1000;         // ring of last packets per jail
  // About 1 in `sample` frames reaches the capture, chosen by the kernel's filter
  // (collectors/sample_filter.h); 1 = every frame. Counters are exported scaled by it.
  uint32_t sample = 1;
};

struct BridgeConfig {
  std::string name;                    // the table key, e.g. "jailnet"
  std::string interface;               // kernel name, e.g. "bridge0" (default: the key)
  std::optional<Cidr> address;         // gateway address on the bridge, IPv4 CIDR
  std::optional<Cidr> address6;        // gateway address on the bridge, IPv6 CIDR
  std::optional<uint32_t> mtu;
  std::vector<std::string> uplinks;    // member interfaces not owned by jails: a host NIC, or
                                       // "vlan:<key>" for a [vlan.<key>] table (uplinkVlanKey)
  bool private_members = false;        // IFBIF_PRIVATE on jail members: jails cannot talk to each other
  std::string nat;                     // egress interface for NAT ("" = no NAT)
  // router_advertisements = true (issue 19): the daemon sends IPv6 router advertisements
  // on the bridge for the /64 of `address6` (prefix information A+L, itself as default
  // router), so that jails with address6 = "slaac" configure themselves. Needs address6
  // with a /64 prefix (SLAAC forms 64-bit interface identifiers: RFC 4862 5.5.3).
  bool router_advertisements = false;
};

// The one rule for "this bridge translates": `nat` names an egress and the bridge has an
// IPv4 address (the loader keeps `address` IPv4) whose subnet is translated. Used by the
// hooks, the reconciler, forwarding and doctor alike.
bool natWanted(const BridgeConfig& bridge);

struct VlanConfig {
  std::string name;       // the table key; also the kernel interface name
  std::string parent;     // parent interface, e.g. "em0"
  uint16_t tag = 0;       // 1..4094
};

struct InterfaceConfig {
  unsigned index = 0;                  // position in the jail's interface list
  std::string bridge;                  // key of a [bridge.X] table
  bool address_auto = false;           // address = "auto": allocate from the bridge subnet
  std::optional<Cidr> address;         // static IPv4 address with prefix
  std::optional<Cidr> address6;        // static IPv6 address with prefix
  // address6 = "slaac" (issue 19): no static IPv6 address; the jail side accepts router
  // advertisements and forms its address from its stable MAC (EUI-64), its default route
  // from the advertising router. Excludes address6 and gateway6.
  bool address6_slaac = false;
  std::optional<IpAddress> gateway;    // default route; default: the bridge's address when it has one
  std::optional<IpAddress> gateway6;
  std::optional<uint32_t> mtu;         // default: the bridge's mtu
  std::optional<MacAddress> mac;       // jail-side MAC override (default: derived, stable)
  std::string jail_side_name;          // name inside the jail (default: generated e<i>b_<jail>)
  std::string host_side_name;          // generated e<i>a_<jail>; never configurable
  // --- issue 19, port forwarding ---
  // Forwards from the host to this interface's addresses (core/expose.h), in config order;
  // each one's v4/v6 says which of the interface's families it is for (config_validate.cc).
  std::vector<ExposeRule> expose;
  // --- end port forwarding ---
};

struct JailConfig {
  std::string name;
  std::vector<InterfaceConfig> interfaces;
  // rctl resource limits, resource -> {action, amount}: a plain amount in the config
  // ("2G", 50) gets the resource's default action from rctl_resources.h, so every entry
  // is a rule the kernel accepts. Applied on FreeBSD.
  RctlLimits limits;
};

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string hint;  // optional, shown in parentheses

  // "file:line:col: message (hint)"
  std::string toString() const;
};

struct Config {
  std::string source;  // the file it was read from (for messages and `doctor`)
  std::string digest;  // configDigest() of the text it was parsed from
  DaemonConfig daemon;
  MetricsConfig metrics;
  CaptureConfig capture;
  std::map<std::string, BridgeConfig> bridges;
  std::map<std::string, VlanConfig> vlans;
  std::optional<JailConfig> jail_defaults;  // name field unused
  std::map<std::string, JailConfig> jails;

  // The jail's configuration: its own table, else [jail_defaults] instantiated for it
  // (generated names filled in), else nullopt. Precondition: isValidJailName(name).
  std::optional<JailConfig> jailFor(const std::string& name) const;
};

// Either a valid Config or every problem found (one line each), never both.
struct ConfigLoadResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;
  bool ok() const { return config.has_value(); }
};

// The [vlan.X] key an uplink names as "vlan:X", or nullopt for a host interface name.
std::optional<std::string> uplinkVlanKey(std::string_view uplink);

// 16 hex digits identifying a configuration text (StableHash of its bytes): the daemon
// reports the digest of what it runs, `vnetctl doctor` compares it with the file on disk.
std::string configDigest(std::string_view text);

// Parses and validates `text`; `source_name` is used in messages.
ConfigLoadResult parseConfig(std::string_view text, const std::string& source_name);
// Reads the file (errors: "file: cannot read: <strerror>") then parseConfig.
ConfigLoadResult loadConfigFile(const std::string& path);

}  // namespace vnetd
