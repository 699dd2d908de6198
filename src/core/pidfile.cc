#include "core/pidfile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file_util.h"

namespace vnetd {

Result<Pidfile> Pidfile::acquire(const std::string& path) { return acquire(path, {}); }

Result<Pidfile> Pidfile::acquire(const std::string& path, const std::function<void(int attempt)>& before_lock) {
  // Each retry means another process replaced or removed the file in the last moment; a
  // path that changes this often is not a pidfile anyone can hold.
  constexpr int kMaxAttempts = 100;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return errnoError("open pidfile " + path);
    if (before_lock) before_lock(attempt);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return errnoError("lock pidfile " + path);
      auto text = readSmallFile(path, 64);
      std::string pid = text ? trimWhitespace(*text) : std::string("?");
      return plainError("vnetd is already running (pid " + (pid.empty() ? "?" : pid) + ", pidfile " + path + ")");
    }
    struct stat held {
    }, current{};
    if (::fstat(fd.get(), &held) != 0) return errnoError("stat pidfile " + path);
    if (::stat(path.c_str(), &current) != 0 || current.st_dev != held.st_dev || current.st_ino != held.st_ino)
      continue;  // we hold a lock on a file that is no longer the pidfile: start over
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0) return errnoError("truncate pidfile " + path);
    if (::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      return errnoError("write pidfile " + path);
    return Pidfile(path, std::move(fd));
  }
  return plainError("pidfile " + path + " is replaced by another process over and over; is another vnetd starting?");
}

Pidfile::~Pidfile() {
  // Unlink before the lock goes: a new instance then creates a fresh file instead of
  // finding ours in the moment between unlock and unlink.
  if (fd_) ::unlink(path_.c_str());
}

}  // namespace vnetd
