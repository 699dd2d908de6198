// vnetctl — PLACEHOLDER main, replaced by the full option parser and --help.
#include <cstring>

#include "cli/vnetctl/vnetctl.h"

int main(int argc, char** argv) {
  vnetd::cli::Context ctx;
  if (argc < 2) return vnetd::cli::kExitUsage;
  std::vector<std::string> rest(argv + 2, argv + argc);
  std::string cmd = argv[1];
  if (cmd == "status") return vnetd::cli::statusCommand(ctx, rest);
  if (cmd == "top") return vnetd::cli::topCommand(ctx, rest);
  if (cmd == "doctor") return vnetd::cli::doctorCommand(ctx, rest);
  if (cmd == "capture") return vnetd::cli::captureCommand(ctx, rest);
  return vnetd::cli::kExitUsage;
}
