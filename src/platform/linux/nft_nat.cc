#include "platform/linux/nft_nat.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "core/file_util.h"
#include "core/unique_fd.h"
#include "platform/linux/nft_text.h"

namespace vnetd::platform::lnx {
namespace {

constexpr size_t kMaxDiagnostics = 4096;

struct NftRun {
  int status = 0;      // waitpid status
  std::string output;  // stdout and stderr, bounded
};

// Runs nft with `args` (argv[0] included), `input` on its stdin; collects stdout+stderr.
// The child gets a fixed environment (nothing of the daemon's) and only fds 0-2; it is
// killed when it takes longer than kNftTimeoutMs.
Result<NftRun> runNft(const std::vector<std::string>& args, const std::string& input, const std::string& what,
                      size_t max_output) {
  // Everything the child needs is prepared before fork(): it only dup2()s, closes and execs.
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  static char kPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  static char kLang[] = "LC_ALL=C";  // messages in one known language for the log
  char* envp[] = {kPath, kLang, nullptr};

  // stdin is a socket so that writing to an nft that died early is EPIPE via MSG_NOSIGNAL,
  // not a SIGPIPE for the daemon.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return errnoError(what + ": socketpair");
  UniqueFd in_child(in[0]), in_parent(in[1]);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errnoError(what + ": pipe");
  UniqueFd out_parent(out[0]), out_child(out[1]);

  pid_t pid = ::fork();
  if (pid < 0) return errnoError(what + ": fork");
  if (pid == 0) {
    // dup2 clears close-on-exec on the copies; every other descriptor (the daemon's
    // sockets, the state lock) is closed before exec.
    ::dup2(in_child.get(), STDIN_FILENO);
    ::dup2(out_child.get(), STDOUT_FILENO);
    ::dup2(out_child.get(), STDERR_FILENO);
    ::syscall(SYS_close_range, 3u, ~0u, 0u);
    ::execve(kNft, argv.data(), envp);
    ::_exit(127);
  }
  in_child.reset();
  out_child.reset();

  // Scripts are a few hundred bytes: far below the socket buffer, so this never blocks
  // for long; a child that stops reading makes send fail, and its status says why.
  const char* p = input.data();
  size_t left = input.size();
  while (left > 0) {
    ssize_t n = ::send(in_parent.get(), p, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  in_parent.reset();

  NftRun run;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kNftTimeoutMs);
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left_ms.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out_parent.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left_ms.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    if (r < 0) break;
    ssize_t n = ::read(out_parent.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: nft closed its output (exited)
    if (run.output.size() < max_output)
      run.output.append(buf, std::min(static_cast<size_t>(n), max_output - run.output.size()));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  while (::waitpid(pid, &run.status, 0) < 0) {
    if (errno != EINTR) return errnoError(what + ": wait for nft");
  }
  if (timed_out)
    return plainError(what + ": nft did not finish within " + std::to_string(kNftTimeoutMs / 1000) +
                      " s and was killed");
  return run;
}

// One line for the log from a failed run.
Error nftFailure(const NftRun& run, const std::string& what) {
  std::string detail = trimWhitespace(run.output);
  for (char& c : detail)
    if (c == '\n') c = ';';
  if (WIFEXITED(run.status) && WEXITSTATUS(run.status) == 127 && detail.empty())
    return plainError(what + ": cannot run " + std::string(kNft) + " (install nftables)");
  std::string how = WIFEXITED(run.status) ? "exited with status " + std::to_string(WEXITSTATUS(run.status))
                                          : "was killed by signal " + std::to_string(WTERMSIG(run.status));
  return plainError(what + ": nft " + how + (detail.empty() ? std::string() : ": " + detail));
}

bool succeeded(const NftRun& run) { return WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0; }

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
    if (WIFEXITED(run->status) && WEXITSTATUS(run->status) == 1 &&
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
