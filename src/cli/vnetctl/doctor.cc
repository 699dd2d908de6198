// PLACEHOLDER — replaced by the doctor sub-command's implementation.
#include "cli/vnetctl/vnetctl.h"

namespace vnetd::cli {
int doctorCommand(const Context& ctx, const std::vector<std::string>&) {
  std::fprintf(ctx.err, "vnetctl: doctor: not built yet\n");
  return kExitFailure;
}
}  // namespace vnetd::cli
