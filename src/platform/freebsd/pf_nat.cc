#include "platform/freebsd/pf_nat.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "core/file_util.h"
#include "core/unique_fd.h"
#include "platform/freebsd/pf_show.h"
#include "platform/freebsd/policy_text.h"

namespace vnetd::platform::fbsd {
namespace {

constexpr size_t kMaxPfConf = 4u << 20;
constexpr size_t kMaxDiagnostics = 4096;
constexpr size_t kMaxShowOutput = size_t{1} << 20;

// Makes `fd` the child's descriptor `target` (without close-on-exec).
void become(int fd, int target) {
  if (fd == target)
    ::fcntl(target, F_SETFD, 0);
  else
    ::dup2(fd, target);
}

// Runs pfctl with `args` (argv[0] included), feeding `input` on stdin. Its stdout and
// stderr are collected: the error message on failure, the output on success.
Result<std::string> runPfctl(const std::vector<std::string>& args, const std::string& input,
                             const std::string& what, size_t max_output = kMaxDiagnostics) {
  // Everything the child needs is prepared before fork(): it only dup2()s and execs.
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // stdin is a socket so that writing to a pfctl that died early is EPIPE via
  // MSG_NOSIGNAL, not a SIGPIPE for the daemon.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
    return errnoError(what + ": socketpair");
  UniqueFd in_child(in[0]), in_parent(in[1]);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errnoError(what + ": pipe");
  UniqueFd out_parent(out[0]), out_child(out[1]);

  pid_t pid = ::fork();
  if (pid < 0) return errnoError(what + ": fork");
  if (pid == 0) {
    become(in_child.get(), STDIN_FILENO);
    become(out_child.get(), STDOUT_FILENO);
    become(out_child.get(), STDERR_FILENO);
    ::execv(kPfctl, argv.data());
    ::_exit(127);
  }
  in_child.reset();
  out_child.reset();

  const char* p = input.data();
  size_t left = input.size();
  while (left > 0) {
    ssize_t n = ::send(in_parent.get(), p, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // pfctl stopped reading; its exit status and messages say why
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  in_parent.reset();  // EOF: pfctl parses and loads

  std::string diagnostics;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(out_parent.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (diagnostics.size() < max_output) diagnostics.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errnoError(what + ": wait for pfctl");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return diagnostics;

  std::string detail = trimWhitespace(diagnostics);
  for (char& c : detail)
    if (c == '\n') c = ';';  // one line per error, as everywhere in vnetd
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && detail.empty())
    return plainError(what + ": cannot run " + std::string(kPfctl));
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return plainError(what + ": pfctl " + how + (detail.empty() ? std::string() : ": " + detail));
}

}  // namespace

Result<void> loadNatAnchor(const std::string& bridge, const std::string& egress,
                           const std::vector<Cidr>& subnets) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto rules = pfNatRules(egress, subnets);
  if (!rules) return rules.error();
  auto r = runPfctl({"pfctl", "-a", *anchor, "-f", "-"}, *rules, "load NAT rules into pf anchor " + *anchor);
  if (!r) return r.error();
  return success();
}

Result<void> clearNatAnchor(const std::string& bridge) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto r = runPfctl({"pfctl", "-a", *anchor, "-f", "-"}, "", "clear pf anchor " + *anchor);
  if (!r) return r.error();
  return success();
}

Result<std::string> pfctlShow(const std::string& anchor, const std::string& what) {
  std::vector<std::string> args = {"pfctl"};
  if (!anchor.empty()) args.insert(args.end(), {"-a", anchor});
  args.insert(args.end(), {"-s", what});
  return runPfctl(args, "", "pfctl -s " + what, kMaxShowOutput);
}

Result<std::optional<BridgeNat>> natAnchorRules(const std::string& bridge) {
  auto anchor = pfAnchorName(bridge);
  if (!anchor) return anchor.error();
  auto shown = pfctlShow(*anchor, "nat");
  if (!shown) {
    // An anchor pf does not have (never loaded, or gone with `pfctl -F all`): the kernel's
    // DIOCGETRULES answers EINVAL when pf_find_kruleset() finds no such ruleset
    // (sys/netpfil/pf/pf_ioctl.c, case DIOCGETRULES), and pfctl_show_nat() only warns
    // "DIOCGETRULES" (sbin/pfctl/pfctl.c). Nothing is loaded then; any other failure is one.
    if (shown.error().message().find("DIOCGETRULES: Invalid argument") != std::string::npos)
      return std::optional<BridgeNat>();
    return shown.error();
  }
  return pfNatLoaded(*shown);
}

Result<bool> natAnchorConfigured(const std::string& pf_conf) {
  auto text = readSmallFile(pf_conf, kMaxPfConf);
  if (!text) {
    if (text.error().code == ENOENT) return false;
    return text.error();
  }
  return pfConfHasVnetdNatAnchor(*text);
}

}  // namespace vnetd::platform::fbsd
