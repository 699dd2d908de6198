#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/file_util.h"
#include "platform/host.h"

namespace vnetd::platform {

Result<std::string> readHostId() {
  // systemd's machine-id; /var/lib/dbus/machine-id is the pre-systemd location.
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    auto text = readSmallFile(path, 4096);
    if (!text.ok()) continue;
    std::string id = trimWhitespace(*text);
    if (!id.empty()) return id;
  }
  return plainError(
      "cannot read a host id from /etc/machine-id (run 'systemd-machine-id-setup', or set "
      "[daemon] host_id in the config)");
}

void retainFreedMemory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // blocks up to 32 MiB from the heap, not mmap
  mallopt(M_TRIM_THRESHOLD, 128 << 20);  // and the heap trimmed only past 128 MiB free
#endif
}

void nameThisThread(const char* name) {
  char cut[16] = {};
  std::strncpy(cut, name, sizeof cut - 1);  // longer than 15 bytes is ERANGE otherwise
  (void)::pthread_setname_np(::pthread_self(), cut);
}


}  // namespace vnetd::platform
