// The daemon's pid file, held with an exclusive flock(2) for the process's lifetime, so
// that a second vnetd refuses to start while the first runs — and a pid file left by a
// crashed vnetd (no lock held) never blocks a restart.
#pragma once

#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd {

class Pidfile {
 public:
  // Creates/locks `path` and writes the current pid. Fails (code 0) when another process
  // holds it: "vnetd is already running (pid N, pidfile PATH)".
  static Result<Pidfile> acquire(const std::string& path);
  Pidfile(Pidfile&&) noexcept = default;
  Pidfile& operator=(Pidfile&&) noexcept = default;
  ~Pidfile();  // removes the file (while still holding the lock) and releases it

 private:
  Pidfile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace vnetd
