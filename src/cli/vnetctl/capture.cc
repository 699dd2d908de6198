// PLACEHOLDER — replaced by the capture sub-command's implementation.
#include "cli/vnetctl/vnetctl.h"

namespace vnetd::cli {
int captureCommand(const Context& ctx, const std::vector<std::string>&) {
  std::fprintf(ctx.err, "vnetctl: capture: not built yet\n");
  return kExitFailure;
}
}  // namespace vnetd::cli
