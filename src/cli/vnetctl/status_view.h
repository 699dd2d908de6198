// The pure half of `vnetctl status` (and the data half of `vnetctl top`): the daemon's
// status reply decoded into plain structs, then rendered as an aligned table or as
// vnetctl's own stable JSON document.
//
// The reply comes over a socket, so it is outside input: decodeStatusReply never throws
// (no nlohmann accessor that can throw is used on it), tolerates fields it does not know
// or that an older daemon does not send, and rejects a reply whose required parts have
// the wrong shape. Fuzzed by tests/fuzz/fuzz_vnetctl_status.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace vnetd::cli {

// Kernel counters of one jail interface, from the jail's point of view.
struct Counters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
  friend bool operator==(const Counters&, const Counters&) = default;
};

// The daemon's averages over its last sampling interval (jail's point of view).
struct Rates {
  double rx_bps = 0, tx_bps = 0;  // bits per second
  double rx_pps = 0, tx_pps = 0;  // packets per second
  double seconds = 0;             // length of the interval they average over
};

enum class LinkState { Up, Down, Absent };
const char* linkStateName(LinkState s);  // "up" | "down" | "absent"

struct InterfaceStatus {
  unsigned index = 0;
  std::string host_name, jail_name;  // e0a_web / e0b_web
  std::string host_mac, jail_mac;
  std::string bridge;                       // bridge interface ("" = not bridged)
  std::vector<std::string> addresses;       // what vnetd assigned (its state)
  std::vector<std::string> jail_addresses;  // what the jail side has now (running jails)
  bool host_present = false, host_up = false, host_running = false, in_bridge = false;
  std::optional<uint32_t> mtu;  // host side
  bool jail_present = false, jail_up = false, jail_running = false;
  std::optional<Counters> counters;
  std::optional<Rates> rates;
  std::vector<std::string> expose;  // issue 19: configured port forwards ("tcp/8080:80")

  // absent: the host side is gone, or the jail runs and its side is not in it;
  // up: the jail side is administratively up and has carrier (which, on a pair, means
  // the host side is up as well); down: anything else.
  LinkState link(bool jail_running_now) const;
};

struct JailStatus {
  std::string name;
  std::string phase;  // last hook phase vnetd completed: "prestart" | "created"
  int64_t updated_at = 0;
  bool running = false;
  std::optional<int64_t> jid;     // running jails only
  std::optional<uint64_t> flows;  // active flows, when the jail's bridge is captured
  std::optional<uint64_t> flows_sample;  // [capture] sample N > 1: flows seen in ~1 frame in N
  std::vector<InterfaceStatus> interfaces;
};

struct BridgeStatus {
  std::string name;       // the configuration's key
  std::string interface;  // kernel name
  bool present = false;
  std::optional<bool> up;
  std::optional<uint32_t> mtu;
  std::vector<std::string> addresses;
  std::optional<uint64_t> jail_members;  // jail interfaces vnetd finds in it
};

struct DaemonStatus {
  std::string version;
  int64_t pid = 0;
  std::string config, config_digest, metrics_url;
  int64_t uptime_seconds = 0;
};

struct StatusSnapshot {
  DaemonStatus daemon;
  std::vector<BridgeStatus> bridges;
  std::vector<JailStatus> jails;
};

// One status reply line. ok:false → an Error carrying the daemon's message as it is
// (e.g. "no jail 'x' is recorded by vnetd"); malformed → "malformed status reply from
// vnetd: <what>". Never throws. A jail name vnetd would not accept (isValidJailName), or
// an interface or bridge interface name it would not give the kernel
// (isValidInterfaceName), makes the reply malformed: the names reach terminals and
// vnetctl doctor's printed fix commands (`ip link set dev NAME up`). The only decoder of
// the reply: status, top and doctor (doctor::daemonStatusFrom) all read it through this.
Result<StatusSnapshot> decodeStatusReply(std::string_view line);

// A non-negative quantity in at most 5 characters with an SI suffix and three significant
// digits: 0 → "0", 950 → "950", 1234 → "1.23k", 12345 → "12.3k", 123456 → "123k",
// 1.5e9 → "1.50G". nullopt, negative, NaN and infinity → "-" (unknown).
std::string formatSi(std::optional<double> value);

// Control characters (and DEL) replaced by '?': names reach a terminal.
std::string printable(std::string_view s);

// Lays out rows of cells in columns separated by `gap` spaces; a column is as wide as its
// widest cell (never truncated); `right[i]` right-aligns column i. Trailing blanks are
// cut from every line. Each line ends with '\n'.
std::string alignColumns(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right,
                         size_t gap = 2);

// The `vnetctl status` table: two lines per jail interface (like jls -v) —
//   JAIL  JID  UP  HOST-IF  JAIL-IF  LINK
//     BRIDGE  ADDRESS(ES)  MAC  RX-bit/s  TX-bit/s
// (further addresses on lines of their own), then the bridges (link-local IPv6
// addresses left out). Fits 80 columns for typical names; long names widen their
// column, nothing is cut.
std::string renderStatusTable(const StatusSnapshot& s);

// vnetctl's JSON document for scripts (schema "version": 1, documented in
// docs/vnetctl.md): every key always present, null when unknown. Pretty-printed, ends
// with a newline.
std::string renderStatusJson(const StatusSnapshot& s);

}  // namespace vnetd::cli
