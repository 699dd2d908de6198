// Host facts that the platform-neutral core needs but cannot read portably.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"

namespace vnetd::platform {

// A stable identifier of this host, used to derive jail MACs that differ between hosts
// sharing an L2 segment (USERS.md #5). FreeBSD: sysctl kern.hostuuid. Linux:
// /etc/machine-id. Whitespace-trimmed; never empty on success.
// Any thread; reads the OS each call (cheap, called once per hook).
Result<std::string> readHostId();

// Asks the C library's allocator to keep freed memory for reuse instead of returning large
// blocks to the kernel at once. The daemon calls it at start: every /metrics scrape builds
// and frees the same few MB (1000 jails: ~16k series, 1.4 MB of text), and glibc's defaults
// unmapped and re-faulted them each time. RSS then stays at the scrape's peak (~40 MiB at
// 1000 jails). Linux/glibc: mallopt thresholds; FreeBSD's jemalloc keeps freed pages itself
// (no-op). Call before starting threads.
void retainFreedMemory();

// Names the calling thread so that `top -H`, `ps -T` / `ps -H` and debuggers tell vnetd's
// threads apart: the daemon's are vnetd-mutator (hooks and reconcile passes), vnetd-status,
// vnetd-capture (one per bridge), vnetd-guards, vnetd-sync, vnetd-facts and vnetd-stream (a
// vnetctl capture). Linux: pthread_setname_np, cut to the 15 characters the kernel keeps
// (TASK_COMM_LEN 16 with the terminator). FreeBSD: pthread_set_name_np
// (lib/libthr/thread/thr_info.c _pthread_set_name_np -> thr_set_name(2), which keeps up to
// MAXCOMLEN, 19). Keep names within 15 characters. Best effort.
void nameThisThread(const char* name);

// ---------------------------------------------------------------------------- doctor
// Read-only facts for `vnetctl doctor` (src/cli/vnetctl/doctor_checks.h judges them).
// Nothing here changes the system: no module is loaded, no interface created, no sysctl
// written. Any thread; each call reads the OS afresh.

enum class Support : uint8_t { Yes, No, Unknown };

// One kernel facility jails need. Names per platform:
//   FreeBSD: "vimage", "if_epair", "if_bridge", "pf", "racct"
//   Linux:   "veth", "bridge", "nf_tables", "netns", "netns_dir" (/run/netns)
struct KernelFeature {
  std::string name;
  Support support = Support::Unknown;
  std::string evidence;  // how it is known, e.g. "built in (CONFIG_VETH=y in /proc/config.gz)"
};

struct HostSupport {
  std::vector<KernelFeature> features;  // the platform's names above, in that order
  std::optional<bool> ipv4_forwarding;  // Linux net.ipv4.ip_forward, FreeBSD net.inet.ip.forwarding
  std::optional<bool> ipv6_forwarding;  // Linux net.ipv6.conf.all.forwarding, FreeBSD net.inet6.ip6.forwarding
};

// Fails only on unexpected errors; a fact that cannot be established is Support::Unknown.
Result<HostSupport> readHostSupport();

enum class NatState : uint8_t {
  Present,      // the rules vnetd loads for the bridge are in the kernel and evaluated
  Absent,       // they are not (detail says which part is missing)
  Unsupported,  // this platform's backend does not do NAT (detail says what to do)
};
// What is missing when NatState::Absent, first missing piece in this order.
enum class NatMissing : uint8_t {
  None,
  Module,    // the packet filter is not in the kernel (FreeBSD: pf not loaded)
  Disabled,  // it is loaded but not filtering (pfctl -e)
  Hook,      // the main ruleset does not evaluate vnetd's rules (no nat-anchor "vnetd/*")
  Rules,     // vnetd's rules for this bridge are not loaded
};
struct NatFacts {
  NatState state = NatState::Absent;
  NatMissing missing = NatMissing::None;
  std::string detail;  // one line, e.g. "pf is loaded but disabled"
};

// Whether NAT of `subnet` out of `egress` for the jails on `bridge` is in place, as
// platform::Policy::applyBridgeNat sets it up. FreeBSD: pf enabled, the main ruleset's
// `nat-anchor "vnetd/*"`, and the anchor's rule, read with pfctl -s (read-only).
Result<NatFacts> readBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress);

}  // namespace vnetd::platform
