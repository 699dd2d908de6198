// PLACEHOLDER — replaced by the top sub-command's implementation.
#include "cli/vnetctl/vnetctl.h"

namespace vnetd::cli {
int topCommand(const Context& ctx, const std::vector<std::string>&) {
  std::fprintf(ctx.err, "vnetctl: top: not built yet\n");
  return kExitFailure;
}
}  // namespace vnetd::cli
