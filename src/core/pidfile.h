// The daemon's pid file, held with an exclusive flock(2) for the process's lifetime, so
// that a second vnetd refuses to start while the first runs — and a pid file left by a
// crashed vnetd (no lock held) never blocks a restart.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd {

class Pidfile {
 public:
  // Creates/locks `path` and writes the current pid. Fails (code 0) when another process
  // holds it: "vnetd is already running (pid N, pidfile PATH)".
  //
  // The lock is on an inode, the path can change under it: a previous instance's
  // destructor unlinks the file while we wait to lock it (we then hold a lock nobody
  // else will ever take, and the next instance creates and locks a new file: two daemons
  // run). So after locking, the inode held must still be the file at `path`; when it is
  // not, open and lock again (like StateStore's lock, src/core/state_store.cc).
  static Result<Pidfile> acquire(const std::string& path);
  // Test seam: `before_lock(attempt)` runs between each open and its lock (attempt 0, 1,
  // ...), so a test can replace the file exactly there.
  static Result<Pidfile> acquire(const std::string& path, const std::function<void(int attempt)>& before_lock);
  Pidfile(Pidfile&&) noexcept = default;
  Pidfile& operator=(Pidfile&&) noexcept = default;
  ~Pidfile();  // removes the file (while still holding the lock) and releases it

 private:
  Pidfile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace vnetd
