// [daemon] manage_forwarding: the daemon switches the host's IPv4 (and, for bridges with
// `address6`, IPv6) forwarding on when a bridge needs it (core/forwarding_needs.h, the
// rule doctor judges by), and back off on a clean exit — only the switches it turned on
// itself, and only while they are still on (someone who switched one off meanwhile has
// the last word).
//
// Ownership survives a crash: before switching anything on, the daemon records it in a
// marker file in state_dir (one line per family, "ipv4" / "ipv6"); a daemon restarted
// after SIGKILL reads it and still switches it back off at its own clean exit. The marker
// goes once nothing is owned any more.
//
// With manage_forwarding off (the default) nothing is switched on; a switch an earlier
// daemon owns (marker) is switched back off at start or on the reload that turned the key
// off — the administrator took the job back.
//
// The decision is pure (planForwarding, unit-tested); Forwarding carries it out through
// injectable switches (platform/forwarding.h by default). Threading: the loop thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/forwarding_needs.h"
#include "core/ip.h"
#include "core/result.h"

namespace vnetd::daemon {

// The forwarding switches vnetd turned on (and so turns back off).
struct ForwardingOwned {
  bool ipv4 = false;
  bool ipv6 = false;
  bool of(IpFamily f) const { return f == IpFamily::V4 ? ipv4 : ipv6; }
  void set(IpFamily f, bool v) { (f == IpFamily::V4 ? ipv4 : ipv6) = v; }
  bool any() const { return ipv4 || ipv6; }
  friend bool operator==(const ForwardingOwned&, const ForwardingOwned&) = default;
};

// The marker file's text: "ipv4\n" and/or "ipv6\n".
std::string encodeForwardingMarker(const ForwardingOwned& owned);
// Error (one line, naming the bad line) for anything else; an empty text owns nothing.
Result<ForwardingOwned> decodeForwardingMarker(std::string_view text);

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
