// vnetctl status [JAIL] [--json]: the daemon's view of every jail it manages.
#include <set>

#include "cli/vnetctl/status_view.h"
#include "cli/vnetctl/vnetctl.h"
#include "core/control_protocol.h"
#include "core/naming.h"

namespace vnetd::cli {
namespace {

constexpr const char* kStatusUsage = "usage: vnetctl [-c FILE] [-S PATH] status [--json] [JAIL]\n";

constexpr const char* kStatusHelp =
    "NAME\n"
    "     vnetctl status - show the jails vnetd manages, their interfaces and bridges\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetctl [-c FILE] [-S PATH] status [-j | --json] [JAIL]\n"
    "\n"
    "DESCRIPTION\n"
    "     Asks vnetd for its status and prints one entry per jail interface, two\n"
    "     lines each (like jls -v):\n"
    "\n"
    "       JAIL  JID  UP  HOST-IF  JAIL-IF  LINK\n"
    "         BRIDGE  ADDRESS(ES)  MAC  RX-bit/s  TX-bit/s\n"
    "\n"
    "     JID is \"-\" and UP \"no\" for a jail vnetd has set up that is not running.\n"
    "     LINK is up (the jail side is up and has carrier), down, or absent (the\n"
    "     host side is gone, or the jail runs without its side). RX/TX are the\n"
    "     jail's receive/transmit rates in bits per second with SI prefixes (k, M,\n"
    "     G: 12.3M = 12 300 000 bit/s), averaged by vnetd over its last sampling\n"
    "     interval; \"-\" until vnetd has two samples. BRIDGE is followed by \"(out)\"\n"
    "     when the host side is not a member of it, an address by \"(missing)\" when\n"
    "     the running jail does not have it; further addresses get lines of their\n"
    "     own. A bridges section follows: state, MTU, addresses (without IPv6\n"
    "     link-local ones) and the number of jail interfaces in the bridge.\n"
    "\n"
    "     With JAIL, only that jail (and the bridges it uses) is shown; a jail vnetd\n"
    "     has no record of is an error.\n"
    "\n"
    "OPTIONS\n"
    "     -j, --json   Print vnetctl's JSON document instead (schema version 1, see\n"
    "                  docs/vnetctl.md): every key always present, null when unknown.\n"
    "     -h, --help   Print this help.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 on success, 1 when vnetd is not running or refuses (unknown jail),\n"
    "     64 on usage errors.\n";

}  // namespace

int statusCommand(const Context& ctx, const std::vector<std::string>& args) {
  bool json = false;
  std::string jail;
  for (const auto& a : args) {
    if (a == "-j" || a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kStatusHelp, ctx.out);
      return kExitOk;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(ctx.err, "vnetctl: status: unknown option '%s'\n%s", printable(a).c_str(), kStatusUsage);
      return kExitUsage;
    } else if (!jail.empty()) {
      std::fprintf(ctx.err, "vnetctl: status: more than one jail given ('%s', '%s')\n%s", printable(jail).c_str(),
                   printable(a).c_str(), kStatusUsage);
      return kExitUsage;
    } else {
      jail = a;
      if (auto problem = jailNameProblem(jail); !problem.empty()) {
        std::fprintf(ctx.err, "vnetctl: status: %s\n%s", problem.c_str(), kStatusUsage);
        return kExitUsage;
      }
    }
  }

  control::Request request;
  request.op = control::Op::Status;
  request.jail = jail;
  auto reply = callDaemon(ctx, control::encodeRequest(request));
  if (!reply) return kExitFailure;
  auto snapshot = decodeStatusReply(*reply);
  if (!snapshot) {
    std::fprintf(ctx.err, "vnetctl: %s\n", printable(snapshot.error().message()).c_str());
    return kExitFailure;
  }
  if (!jail.empty()) {
    // The jail's bridges only: the rest is noise when asking about one jail.
    std::set<std::string> used;
    for (const auto& j : snapshot->jails)
      for (const auto& i : j.interfaces) used.insert(i.bridge);
    std::erase_if(snapshot->bridges, [&](const BridgeStatus& b) { return !used.contains(b.interface); });
  }
  std::string text = json ? renderStatusJson(*snapshot) : renderStatusTable(*snapshot);
  std::fputs(text.c_str(), ctx.out);
  if (std::fflush(ctx.out) != 0) {
    std::fprintf(ctx.err, "vnetctl: status: cannot write the output\n");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace vnetd::cli
