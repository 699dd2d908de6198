// PLACEHOLDER — replaced by the status sub-command's implementation.
#include "cli/vnetctl/vnetctl.h"

namespace vnetd::cli {
int statusCommand(const Context& ctx, const std::vector<std::string>&) {
  std::fprintf(ctx.err, "vnetctl: status: not built yet\n");
  return kExitFailure;
}
}  // namespace vnetd::cli
