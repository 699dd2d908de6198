// `vnetctl doctor`'s verdicts: pure functions from facts (plain structs gathered by
// doctor.cc from the kernel, the files and the daemon) to one Verdict per check, each
// with the command that fixes it on the platform at hand. Nothing here reads the system,
// so every verdict — and its fix text on FreeBSD and on Linux — is unit-tested from
// hand-made facts (tests/unit/cli/doctor_checks_test.cc).
//
// Check names (Verdict::check) are stable identifiers for scripts and tests:
//   kernel:<feature>            kernel support (platform::HostSupport feature names)
//   config                      the configuration file loads
//   jailconf                    jail.conf (and jail.conf.d/*.conf) could be read
//   jailconf:<jail>:vnet.interface   no vnet.interface naming an interface vnetd moves
//   jailconf:<jail>:prestop     exec.prestop hands the interface back with vnetd-hook
//   bridge:<key>:exists|up|address|members|mtu
//   forwarding:ipv4, forwarding:ipv6
//   firewall:forward:<key>      no host firewall chain at hook forward drops the forwarded
//                               traffic of a bridge that needs forwarding (Linux nftables)
//   firewall:legacy             legacy iptables has a filter table nftables cannot see (Linux)
//   nat:<key>                   NAT rules of a bridge with `nat`
//   jail:<name>:interfaces      jail-side interfaces present, up, addressed
//   jail:<name>:ipv6            IPv6 on where vnetd assigns IPv6 addresses
//   jail:<name>:route, jail:<name>:route6   the jail's default route
//   capture:<key>               a capture can open the bridge
//   capture_buffer              the kernel's cap on capture buffers admits [capture]
//                               buffer_size (FreeBSD net.bpf.maxbufsize; absent on Linux)
//   daemon:reachable, daemon:config
//   expose:<jail>:<forward>     a running jail's port forward, hop by hop: its rules loaded
//                               (and evaluated), the host forwarding its families, the jail
//                               listening on the jail port (issue 19)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/vnetctl/status_view.h"
#include "core/config.h"
#include "core/jail_conf.h"
#include "platform/capture.h"
#include "platform/forward_firewall.h"
#include "platform/host.h"
#include "platform/listening.h"
#include "platform/netif.h"

namespace vnetd::cli::doctor {

enum class Platform { Linux, FreeBSD };
// The platform this binary was built for.
Platform buildPlatform();

enum class Status { Ok, Warn, Fail };
const char* statusName(Status s);  // "OK", "WARN", "FAIL"

struct Verdict {
  std::string check;    // stable name, see above
  Status status = Status::Ok;
  std::string message;  // one line: what was found
  std::string fix;      // the command to run; "" for OK
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

// ------------------------------------------------------------------------------ facts

// A jail interface vnetd recorded (daemon status or state store).
struct RecordedInterface {
  std::string host_name;
  std::string jail_name;
  std::string bridge;                  // bridge interface name; "" = not bridged
  std::vector<std::string> addresses;  // CIDRs inside the jail
};
struct RecordedJail {
  std::string name;
  std::vector<RecordedInterface> interfaces;
};

// What the daemon's status reply tells doctor.
struct DaemonStatus {
  int64_t pid = 0;
  std::string version;
  std::string config_path;
  std::string config_digest;
  std::vector<RecordedJail> jails;
};
// The part of a decoded status reply (decodeStatusReply, which has already rejected names
// vnetd would not accept — they end up in fix commands) that doctor judges.
DaemonStatus daemonStatusFrom(const StatusSnapshot& snapshot);

struct DaemonFacts {
  bool reachable = false;
  bool permission_denied = false;  // EACCES/EPERM on connect: it may well be running
  bool silent = false;             // connected, but no whole reply in time
  std::string error;               // why not reachable, or why its reply was not understood (one line)
  std::optional<DaemonStatus> status;
};

struct ConfigFacts {
  std::string path;                 // "" when doctor was given no configuration (only --socket)
  std::vector<std::string> errors;  // file:line:col lines when it does not load
  std::optional<Config> config;
};

// A host-side interface that should be a member of a bridge.
struct ExpectedMember {
  std::string jail;
  std::string host_name;
  std::optional<platform::LinkInfo> link;  // nullopt: the interface does not exist
};

struct BridgeFacts {
  BridgeConfig config;
  std::optional<platform::LinkInfo> link;  // nullopt: no interface of that name
  std::vector<Cidr> addresses;             // addresses on it
  std::vector<platform::LinkInfo> members; // links whose master is this bridge
  std::vector<ExpectedMember> expected;    // running recorded jails' host sides on it
};

// A jail side with address6 = "slaac" (issue 19), read inside the jail.
struct SlaacFacts {
  std::string error;        // could not read its IPv6 state (the rest is then unknown)
  bool ipv6_on = false;     // not IFDISABLED / disable_ipv6
  bool accepts_ra = false;  // Linux accept_ra (with forwarding), FreeBSD ND6_IFF_ACCEPT_RTADV
  bool autoconf = false;    // addresses formed from RA prefixes (Linux autoconf)
};

// A running recorded jail, seen from inside.
struct JailFacts {
  std::string name;
  std::string error;  // could not look inside (then the fields below are empty)
  std::vector<RecordedInterface> interfaces;
  std::vector<platform::LinkInfo> links;
  std::vector<platform::AddressInfo> addresses;
  std::vector<platform::RouteInfo> default_routes;
  std::optional<IpAddress> gateway4, gateway6;  // what the configuration routes it via
  // Recorded jail sides with an IPv6 address on which IPv6 is switched off (FreeBSD:
  // ND6_IFF_IFDISABLED, which the jail's rc sets; Linux: disable_ipv6).
  std::set<std::string> ipv6_off;
  // Issue 19: the jail sides configured with address6 = "slaac", by jail-side name, as
  // their stack has them (judgeSlaac).
  std::map<std::string, SlaacFacts> slaac;
};

// jail.conf as doctor.cc read it: the file jail(8) reads by default (or --jail-conf)
// with what it includes, plus each <its directory>/jail.conf.d/*.conf it does not
// include, read alone as rc.d/jail does for that jail (libexec/rc/rc.d/jail
// parse_options: -f /etc/jail.conf.d/NAME.conf when jail.conf has no such .include).
struct JailConfFacts {
  std::string path;                  // the main file, e.g. /etc/jail.conf
  bool exists = false;               // false: not there (a Linux host has none)
  std::vector<std::string> sources;  // every file read
  struct Problem {
    std::string file;                // the file doctor tried to read
    std::string message;             // "file:line: what" (or why it could not be read)
  };
  std::vector<Problem> errors;
  std::vector<JailConfJail> jails;   // from every file read, in order
};

struct NatCheckFacts {
  std::optional<platform::NatFacts> nat;
  std::string error;  // could not tell
  bool egress_exists = true;  // the bridge's `nat` interface is on the host
};

// Issue 19: one forward of a running recorded jail, as doctor.cc read it.
struct ExposeCheckFacts {
  std::string jail;
  ExposeTarget target;
  std::optional<bool> active;  // its rules loaded as vnetd writes them; nullopt: not read
  bool hooked = true;          // the packet filter evaluates them (FreeBSD rdr-anchor)
  std::string rule_error;      // why `active` is unknown
  std::optional<std::vector<platform::BoundPort>> bound;  // the jail's bound ports; nullopt: not read
  std::string bound_error;                                // why not
};

struct CaptureFacts {
  std::string error;  // "" = the capture opened
};

struct Facts {
  Platform platform = Platform::Linux;
  std::optional<platform::HostSupport> host;
  std::string host_error;
  std::map<std::string, bool> interface_forwarding_v4;  // NAT bridges and egresses (Linux)
  ConfigFacts config;
  JailConfFacts jail_conf;
  std::string host_links_error;               // the host's links could not be read
  std::vector<BridgeFacts> bridges;           // one per configured bridge, config order
  std::vector<JailFacts> jails;               // running recorded jails
  std::map<std::string, NatCheckFacts> nat;   // by bridge key, bridges with nat + address
  std::map<std::string, CaptureFacts> capture;  // by bridge key, present bridges when capture enabled
  // The kernel's cap on capture buffers (platform::readCaptureBufferLimit), read when
  // capture is enabled: nullopt where there is none, or when it could not be read (then
  // capture_buffer_error says why).
  std::optional<platform::CaptureBufferLimit> capture_buffer_limit;
  std::string capture_buffer_error;
  // The host firewall on the forwarding path (platform::readForwardFirewall), read when
  // some bridge needs forwarding; nullopt with firewall_error when it could not be read.
  std::optional<platform::ForwardFirewallFacts> firewall;
  std::string firewall_error;
  DaemonFacts daemon;
  std::string socket_path;
  std::vector<ExposeCheckFacts> exposes;  // issue 19: running recorded jails' forwards
};

// ---------------------------------------------------------------------------- verdicts

// Every check, in a fixed order: kernel, config, jail.conf, bridges, forwarding, NAT,
// jails, capture, daemon.
std::vector<Verdict> judge(const Facts& facts);

// The parts, exposed for tests.
std::vector<Verdict> judgeKernel(Platform p, const platform::HostSupport& host, const Config* config);
Verdict judgeConfig(Platform p, const ConfigFacts& config);
// The jail.conf checks for the jails vnetd manages: [jail.X] names, and with
// [jail_defaults] every jail whose exec.* lines call vnetd-hook. Without a loadable
// configuration only "jailconf" (could the files be read) is judged.
std::vector<Verdict> judgeJailConf(Platform p, const JailConfFacts& jail_conf, const Config* config);
std::vector<Verdict> judgeBridge(Platform p, const BridgeFacts& bridge);
// `interface_v4`: Linux per-interface IPv4 forwarding flags (platform/forwarding.h
// readInterfaceForwardingV4) of the NAT bridges and their egresses; with ip_forward off,
// NAT bridges whose own and egress flags are on are routed all the same.
std::vector<Verdict> judgeForwarding(Platform p, const platform::HostSupport& host, const Config& config,
                                     const std::vector<JailFacts>& jails,
                                     const std::map<std::string, bool>& interface_v4 = {});
Verdict judgeNat(Platform p, const BridgeConfig& bridge, const NatCheckFacts& nat, const std::string& config_path);
// firewall:forward:<key> for each bridge that needs forwarding (core/forwarding_needs.h),
// in each family it needs it for: WARN naming each chain that drops its traffic, with
// the rules that let it through in the style of whoever owns the chain (nft, Docker's
// DOCKER-USER through iptables, firewalld's trusted zone); then firewall:legacy. Nothing
// when the platform has no such check (FreeBSD), no bridge needs forwarding, or the
// firewall was not looked at (`fw` nullopt with no `error`).
std::vector<Verdict> judgeForwardFirewall(const Config& config, const std::optional<platform::ForwardFirewallFacts>& fw,
                                          const std::string& error);
std::vector<Verdict> judgeJail(Platform p, const JailFacts& jail);
// Issue 19: per jail side with address6 = "slaac" ("slaac:JAIL:IF"): IPv6 on, RAs
// accepted, an autoconfigured address (the EUI-64 of the link's MAC, not link-local) and
// an IPv6 default route.
std::vector<Verdict> judgeSlaac(Platform p, const JailFacts& jail);
// expose:<jail>:<forward>: the first broken hop (rules, packet-filter hook, host forwarding
// for the forward's families — `host` may be null when unread — the jail listening).
Verdict judgeExpose(Platform p, const platform::HostSupport* host, const ExposeCheckFacts& expose);
Verdict judgeCapture(const BridgeConfig& bridge, const CaptureFacts& capture);
// WARN when the kernel's cap is below [capture] buffer_size (each capture silently gets
// the cap instead), with the command that raises it; nothing when capture is off or
// the platform has no cap.
std::optional<Verdict> judgeCaptureBuffer(Platform p, const CaptureConfig& capture,
                                          const std::optional<platform::CaptureBufferLimit>& limit,
                                          const std::string& error);
std::vector<Verdict> judgeDaemon(Platform p, const DaemonFacts& daemon, const ConfigFacts& config,
                                 const std::string& socket_path);

// 0 all OK, 1 some WARN and no FAIL, 2 any FAIL.
int exitCode(const std::vector<Verdict>& verdicts);

// "12 checks: 10 ok, 1 warning, 1 failure"
std::string summaryLine(const std::vector<Verdict>& verdicts);
// One line per check "OK    message" / "WARN  message" / "FAIL  message", an indented
// "      fix: command" after WARN/FAIL, then the summary line. `quiet`: only WARN/FAIL
// (with fixes), and nothing at all when every check is OK.
std::string renderText(const std::vector<Verdict>& verdicts, bool quiet);
// [{"check":...,"status":"ok"|"warn"|"fail","message":...,"fix":...}, ...] + newline.
std::string renderJson(const std::vector<Verdict>& verdicts);

}  // namespace vnetd::cli::doctor
