// The platform-neutral part of platform/capture.h; the kernel queries are per OS
// (freebsd/capture.cc, linux/capture.cc).
#include "platform/capture.h"

namespace vnetd::platform {

std::string raiseCaptureBufferLimitCommand(const CaptureBufferLimit& limit, uint64_t bytes) {
  std::string setting = limit.sysctl + "=" + std::to_string(bytes);
  return "sysctl " + setting + " && echo " + setting + " >> " + limit.config_file;
}

}  // namespace vnetd::platform
