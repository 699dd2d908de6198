// [daemon] manage_forwarding: the daemon switches the host's IPv4 (and, for bridges with
// `address6`, IPv6) forwarding on when a bridge needs it (core/forwarding_needs.h, the
// rule doctor judges by), and back off on a clean exit — only the switches it turned on
// itself, and only while they are still on (someone who switched one off meanwhile has
// the last word).
//
// On Linux the switch is not one setting: writing it also rewrites every interface's own
// forwarding flag and a few more (platform/linux/forwarding_effects.h), both ways. So
// before switching a family on, the daemon snapshots what the switch will change; after
// switching it back off it puts back each snapshotted setting that is still what the
// switch-on made of it (one someone changed since has the last word, as does an interface
// that is gone). FreeBSD's switch changes nothing else: empty snapshot.
//
// Ownership survives a crash: before switching anything on, the daemon records it with
// the snapshot in a marker file in state_dir ("ipv4" / "ipv6" lines, then
// "<family> <key> <value>" lines); a daemon restarted after SIGKILL reads it and still
// restores at its own clean exit. A marker of the earlier format (only the family lines)
// still loads: it restores the switch alone. The marker goes once nothing is owned any
// more.
//
// With manage_forwarding off (the default) nothing is switched on; a switch an earlier
// daemon owns (marker) is switched back off at start or on the reload that turned the key
// off — the administrator took the job back.
//
// The decision is pure (planForwarding, unit-tested); Forwarding carries it out through
// injectable switches (platform/forwarding.h by default). Threading: the loop thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/forwarding_needs.h"
#include "core/ip.h"
#include "core/result.h"

namespace vnetd::daemon {

// Settings by key (platform/forwarding.h ForwardingSideEffects) → value.
using ForwardingSettings = std::map<std::string, int>;

// The forwarding switches vnetd turned on (and so turns back off), each with what its
// switch-on was about to change, as it was just before (platform readForwardingSideEffects).
struct ForwardingOwned {
  bool ipv4 = false;
  bool ipv6 = false;
  ForwardingSettings before4, before6;
  bool of(IpFamily f) const { return f == IpFamily::V4 ? ipv4 : ipv6; }
  void set(IpFamily f, bool v) { (f == IpFamily::V4 ? ipv4 : ipv6) = v; }
  ForwardingSettings& before(IpFamily f) { return f == IpFamily::V4 ? before4 : before6; }
  const ForwardingSettings& before(IpFamily f) const { return f == IpFamily::V4 ? before4 : before6; }
  bool any() const { return ipv4 || ipv6; }
  friend bool operator==(const ForwardingOwned&, const ForwardingOwned&) = default;
};

// The marker file's text: "ipv4\n" and/or "ipv6\n", then one "<family> <key> <value>\n"
// per snapshotted setting of an owned family ("ipv4 conf/eth0/forwarding 1").
std::string encodeForwardingMarker(const ForwardingOwned& owned);
// Error (one line, naming the bad line) for anything else — a key with whitespace or
// over 200 bytes, a value that is not an int, a setting of a family not owned; an empty
// text owns nothing. The earlier format (family lines only) is a subset.
Result<ForwardingOwned> decodeForwardingMarker(std::string_view text);

// After vnetd switched a family back off: the settings to put back, and their values.
// `before`: the snapshot taken before its switch-on; `current`: read just before the
// switch-off; `after_off`: read just after it; `after_on(key, v)`: what the switch-on made
// of a setting that was v (platform forwardingSideEffectAfterOn). A setting is put back
// when it is in all three maps (its interface still exists), was still what the switch-on
// made of it just before the switch-off (nobody changed it meanwhile: otherwise theirs is
// the last word), and the switch-off left it different from the snapshot.
ForwardingSettings planSettingsRestore(const ForwardingSettings& before, const ForwardingSettings& current,
                                       const ForwardingSettings& after_off,
                                       const std::function<int(const std::string&, int)>& after_on);

struct ForwardingStep {
  enum class Kind {
    Enable,   // record ownership, then switch on
    Restore,  // switch off, then drop ownership
    Forget,   // drop ownership without writing: it is off already (someone else did it)
  };
  IpFamily family = IpFamily::V4;
  Kind kind = Kind::Enable;
  friend bool operator==(const ForwardingStep&, const ForwardingStep&) = default;
};

struct ForwardingInput {
  bool manage = false;  // [daemon] manage_forwarding
  bool exiting = false; // the daemon is stopping
  ForwardingNeeds needs;
  std::optional<bool> ipv4_on, ipv6_on;  // nullopt: could not be read (then nothing is done to it)
  ForwardingOwned owned;
};

// Starting or reloading: with `manage`, Enable each needed family that is off (a needed
// family already on is left alone, owned or not; one no longer needed stays as it is
// until exit, so a reload never cuts running jails off). Without `manage`, and when
// exiting: Restore each owned family that is on, Forget each owned one that is off.
std::vector<ForwardingStep> planForwarding(const ForwardingInput& in);

// Why a family is needed, for the log: "NAT on bridge lan; jails route via bridge dmz
// (198.18.5.1)".
std::string forwardingReason(const ForwardingNeed& need);

class Forwarding {
 public:
  struct Switches {
    std::function<Result<bool>(IpFamily)> read;
    std::function<Result<void>(IpFamily, bool)> write;
    std::function<std::string(IpFamily)> name;  // "net.ipv4.ip_forward"
    // What the switch changes besides itself (snapshot, model of the switch-on, one write).
    std::function<Result<ForwardingSettings>(IpFamily)> read_settings;
    std::function<int(IpFamily, const std::string&, int)> after_on;
    std::function<Result<void>(IpFamily, const std::string&, int)> write_setting;
  };
  // The platform's switches (platform/forwarding.h).
  static Switches platformSwitches();

  // `marker_path`: <state_dir>/forwarding. Reads it now: a daemon restarted after a crash
  // owns what its predecessor switched on.
  Forwarding(std::string marker_path, Switches switches);

  // At start and after each reload. Logs each change once, with the reason.
  void apply(const Config& config);
  // At a clean exit.
  void restore();

  const ForwardingOwned& owned() const { return owned_; }

 private:
  void run(const ForwardingInput& in);
  bool saveMarker();  // false (logged) when it could not be written

  std::string marker_path_;
  Switches switches_;
  ForwardingOwned owned_;
};

}  // namespace vnetd::daemon
