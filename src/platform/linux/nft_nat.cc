#include "platform/linux/nft_nat.h"

#include <cerrno>
#include <chrono>

#include "core/file_util.h"
#include "platform/child_process.h"
#include "platform/linux/nft_text.h"

namespace vnetd::platform::lnx {
namespace {

constexpr size_t kMaxDiagnostics = 4096;

// Runs nft with `args` (argv[0] included), `input` on its stdin; collects stdout+stderr.
// The shared child runner gives it nothing of the daemon's (environment: PATH only, so
// nft speaks the C locale that nftNatOf() below reads; descriptors 0-2 only) and kills it
// after kNftTimeoutMs: it runs with the state lock held.
Result<ChildExit> runNft(const std::vector<std::string>& args, const std::string& input, const std::string& what,
                         size_t max_output) {
  ChildSpec spec;
  spec.program = kNft;
  spec.argv = args;
  spec.input = input;
  spec.timeout = std::chrono::milliseconds(kNftTimeoutMs);
  spec.max_output = max_output;
  spec.name = "nft";
  auto run = runChild(spec);
  if (!run) {
    if (run.error().code == ENOENT) return withContext(run.error(), what + " (install nftables)");
    return withContext(run.error(), what);
  }
  return run;
}

// One line for the log from a failed run.
Error nftFailure(const ChildExit& run, const std::string& what) {
  std::string detail = trimWhitespace(run.output);
  for (char& c : detail)
    if (c == '\n') c = ';';
  std::string how = run.exited ? "exited with status " + std::to_string(run.status)
                               : "was killed by signal " + std::to_string(run.signal);
  return plainError(what + ": nft " + how + (detail.empty() ? std::string() : ": " + detail));
}

bool succeeded(const ChildExit& run) { return run.exited && run.status == 0; }

Result<void> runScript(const std::string& script, const std::string& what) {
  auto run = runNft({"nft", "-f", "-"}, script, what, kMaxDiagnostics);
  if (!run) return run.error();
  if (!succeeded(*run)) return nftFailure(*run, what);
  return success();
}

}  // namespace

Result<void> loadNftNat(const std::string& bridge, const std::string& egress, const std::vector<Cidr>& subnets) {
  auto script = nftNatLoadScript(bridge, egress, subnets);
  if (!script) return script.error();
  return runScript(*script, "load NAT rules for bridge " + bridge + " into nftables table ip vnetd");
}

Result<void> removeNftNat(const std::string& bridge) {
  auto script = nftNatRemoveScript(bridge);
  if (!script) return script.error();
  return runScript(*script, "remove the NAT rules of bridge " + bridge + " from nftables table ip vnetd");
}

Result<std::optional<BridgeNat>> nftNatOf(const std::string& bridge) {
  const std::string what = "read the NAT rules of bridge " + bridge + " (nft list table ip vnetd)";
  auto run = runNft({"nft", "-j", "list", "table", kNftFamily, kNftTable}, "", what, kMaxNftListing);
  if (!run) return run.error();
  if (!succeeded(*run)) {
    // No table yet (never loaded, or removed by `nft flush ruleset`): nothing loaded.
    // nft reports the kernel's ENOENT as "No such file or directory" (LC_ALL=C above).
    if (run->exited && run->status == 1 &&
        run->output.find("No such file or directory") != std::string::npos)
      return std::optional<BridgeNat>();
    return nftFailure(*run, what);
  }
  auto listing = decodeNftNatListing(run->output);
  if (!listing) return withContext(listing.error(), what);
  auto it = listing->find(bridge);
  if (it == listing->end()) return std::optional<BridgeNat>();
  return std::optional<BridgeNat>(it->second);
}

}  // namespace vnetd::platform::lnx
