#include "core/pidfile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/file_util.h"

namespace vnetd {

Result<Pidfile> Pidfile::acquire(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return errnoError("open pidfile " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return errnoError("lock pidfile " + path);
    auto text = readSmallFile(path, 64);
    std::string pid = text ? trimWhitespace(*text) : std::string("?");
    return plainError("vnetd is already running (pid " + (pid.empty() ? "?" : pid) + ", pidfile " + path + ")");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0) return errnoError("truncate pidfile " + path);
  if (::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return errnoError("write pidfile " + path);
  return Pidfile(path, std::move(fd));
}

Pidfile::~Pidfile() {
  // Unlink before the lock goes: a new instance then creates a fresh file instead of
  // finding ours in the moment between unlock and unlink.
  if (fd_) ::unlink(path_.c_str());
}

}  // namespace vnetd
