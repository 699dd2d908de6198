// Reloader: reads the configuration file again (SIGHUP, `op reload`) and hands on the
// configuration to run next. A file with problems is refused: each problem is logged as
// FILE:LINE:COL and the one-line error says the running configuration stays in effect.
// Keys bound when the daemon starts keep their running values, with a warning per changed
// key that it takes effect at the next restart. They are:
//   [daemon] control_socket, control_group  the socket is bound and its mode set at start
//   [daemon] state_dir, pidfile              opened and locked at start
//   [daemon] host_id                         MACs derive from it: a change would orphan
//                                            every recorded pair
//   [metrics] listen, path                   the HTTP listener is bound at start
//
// Threading: any thread (it touches no daemon state); the daemon calls it on the loop.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace vnetd::daemon {

// The restart-only keys that differ between `running` and `fresh`, in the order above.
struct RestartOnlyChange {
  std::string key;
  std::string before, after;
};
std::vector<RestartOnlyChange> restartOnlyChanges(const Config& running, const Config& fresh);

// Sets every restart-only key of `fresh` to its value in `running`.
void keepRestartOnly(const Config& running, Config& fresh);

class Reloader {
 public:
  explicit Reloader(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  // The configuration to run next, given the `running` one; or the one-line reason why
  // there is none (nothing changes then).
  Result<Config> read(const Config& running) const;

 private:
  std::string path_;
};

}  // namespace vnetd::daemon
