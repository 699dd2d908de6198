#include <sys/types.h>
#include <sys/sysctl.h>
#include <pthread.h>
#include <pthread_np.h>

#include "core/file_util.h"
#include "platform/host.h"

namespace vnetd::platform {

Result<std::string> readHostId() {
  // kern.hostuuid is set at boot from /etc/hostid (rc.d/hostid); it is a 36-char UUID.
  char buf[64] = {};
  size_t len = sizeof buf - 1;
  if (sysctlbyname("kern.hostuuid", buf, &len, nullptr, 0) != 0)
    return errnoError("read sysctl kern.hostuuid");
  std::string id = trimWhitespace(std::string(buf, strnlen(buf, len)));
  // An all-zero UUID means rc.d/hostid has not run; deriving MACs from it would make
  // every such host produce the same MACs.
  if (id.empty() || id == "00000000-0000-0000-0000-000000000000")
    return plainError("kern.hostuuid is unset (run 'service hostid start', or set [daemon] host_id)");
  return id;
}

// jemalloc keeps freed pages for reuse (and returns them lazily) by itself.
void retainFreedMemory() {}

// lib/libthr/thread/thr_info.c _pthread_set_name_np: the calling thread's name goes to the
// kernel by thr_set_name(2), which top -H and procstat -t show.
void nameThisThread(const char* name) { ::pthread_set_name_np(::pthread_self(), name); }

}  // namespace vnetd::platform
