#include "platform/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "core/unique_fd.h"

namespace vnetd::platform {
namespace {

using Clock = std::chrono::steady_clock;

// Descriptor 3 in the child until exec: the write end of the exec-error pipe. It is
// close-on-exec, so a successful exec closes it (EOF for the parent) and the program
// starts with 0, 1, 2 only.
constexpr int kExecErrorFd = 3;

// Everything between fork() and exec: only async-signal-safe calls (the daemon has
// threads; another thread may have held malloc's lock at fork time).
[[noreturn]] void childMain(int in, int out, int exec_error, const char* program, char* const argv[],
                            char* const envp[], int fallback_max) noexcept {
  // Its own process group, so a timeout kills whatever it started too.
  ::setpgid(0, 0);
  // Everything to descriptors above the ones it will take first: a daemon started with
  // 0..2 closed gets its pipes there, and dup2 onto 0..2 would replace one with another.
  constexpr int kAbove = kExecErrorFd + 1;
  int in_fd = ::fcntl(in, F_DUPFD_CLOEXEC, kAbove);
  int out_fd = ::fcntl(out, F_DUPFD_CLOEXEC, kAbove);
  int err_fd = ::fcntl(exec_error, F_DUPFD_CLOEXEC, kAbove);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) ::_exit(127);
  // dup2 leaves the new descriptors without close-on-exec: the program keeps 0..2.
  ::dup2(in_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(out_fd, STDERR_FILENO);
  ::dup2(err_fd, kExecErrorFd);
  ::fcntl(kExecErrorFd, F_SETFD, FD_CLOEXEC);
  closeDescriptorsFrom(kAbove, fallback_max);
  // Dispositions set to SIG_IGN (SIGPIPE in the daemon) and the mask survive exec.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL for KILL/STOP: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(program, argv, envp);
  int e = errno;
  ssize_t ignored = ::write(kExecErrorFd, &e, sizeof e);
  (void)ignored;
  ::_exit(127);
}

std::string seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

int remainingMs(Clock::time_point deadline) {
  // Rounded up: poll(2) must not come back before the deadline and call it passed.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
}

}  // namespace

Result<ChildExit> runChild(const ChildSpec& spec) {
  const std::string name = !spec.name.empty() ? spec.name : !spec.argv.empty() ? spec.argv[0] : spec.program;
  if (spec.program.empty() || spec.program[0] != '/' || spec.argv.empty())
    return plainError("run " + name + ": needs an absolute program path and argv[0]");

  // Everything the child needs is made before fork(): it only dup2()s, closes and execs.
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>(kChildPath), nullptr};
  struct rlimit nofile {};
  int fallback_max = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    fallback_max = static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20));

  // stdin is a socket so that writing to a child that died early is EPIPE via
  // MSG_NOSIGNAL, not a SIGPIPE for the daemon.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return errnoError(name + ": socketpair");
  UniqueFd in_child(in[0]), in_parent(in[1]);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errnoError(name + ": pipe");
  UniqueFd out_parent(out[0]), out_child(out[1]);
  int ex[2];
  if (::pipe2(ex, O_CLOEXEC) != 0) return errnoError(name + ": pipe");
  UniqueFd exec_parent(ex[0]), exec_child(ex[1]);

  pid_t pid = ::fork();
  if (pid < 0) return errnoError(name + ": fork");
  if (pid == 0)
    childMain(in_child.get(), out_child.get(), exec_child.get(), spec.program.c_str(), argv.data(), envp,
              fallback_max);
  ::setpgid(pid, pid);  // also here: no window in which a kill(-pid) misses the group
  in_child.reset();
  out_child.reset();
  exec_child.reset();

  // From here on the child is reaped however this function returns.
  bool reaped = false;
  int status = 0;
  auto reap = [&](bool kill_first) {
    if (reaped) return;
    if (kill_first) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);  // in case it had not reached setpgid
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  };
  struct Guard {
    std::function<void()> fn;
    ~Guard() { fn(); }
  };
  Guard guard{[&] { reap(true); }};

  // exec's outcome: EOF (it ran) or its errno. Bounded like the rest.
  const auto deadline = Clock::now() + spec.timeout;
  auto timedOut = [&]() -> Error {
    reap(true);
    return Error{ETIMEDOUT, name + " did not finish in " + seconds(spec.timeout) + " s; killed"};
  };
  {
    pollfd p{exec_parent.get(), POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, remainingMs(deadline))) < 0 && errno == EINTR) {
    }
    if (n == 0) return timedOut();
    int e = 0;
    ssize_t r;
    while ((r = ::read(exec_parent.get(), &e, sizeof e)) < 0 && errno == EINTR) {
    }
    if (r == static_cast<ssize_t>(sizeof e)) {
      reap(false);
      return Error{e, "cannot run " + spec.program};
    }
  }

  // Feed stdin and drain stdout together: a child that writes a lot before reading all
  // its input must not deadlock against us.
  ::fcntl(out_parent.get(), F_SETFL, O_NONBLOCK);
  ChildExit result;
  size_t sent = 0;
  if (spec.input.empty()) in_parent.reset();
  char buf[4096];
  while (out_parent) {
    pollfd p[2];
    nfds_t n = 0;
    p[n++] = {out_parent.get(), POLLIN, 0};
    if (in_parent) p[n++] = {in_parent.get(), POLLOUT, 0};
    int ready = ::poll(p, n, remainingMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errnoError(name + ": poll");
    }
    if (ready == 0) return timedOut();
    if (n == 2 && p[1].revents != 0) {
      ssize_t w = ::send(in_parent.get(), spec.input.data() + sent, spec.input.size() - sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) sent += static_cast<size_t>(w);
      // EPIPE and the like: the child stopped reading; its exit status says why.
      if ((w < 0 && errno != EINTR && errno != EAGAIN) || sent == spec.input.size()) in_parent.reset();
    }
    if (p[0].revents != 0) {
      ssize_t r = ::read(out_parent.get(), buf, sizeof buf);
      if (r > 0) {
        size_t keep = std::min(static_cast<size_t>(r), spec.max_output - std::min(spec.max_output, result.output.size()));
        result.output.append(buf, keep);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_parent.reset();  // EOF: the child (and whatever it started) closed its output
      }
    }
  }
  in_parent.reset();

  // Output closed: normally the child has exited or is about to. No OS-neutral way waits
  // for a child with a timeout, so poll waitpid with a short, growing nap, bounded by
  // the same deadline.
  int nap_ms = 1;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      reaped = true;
      break;
    }
    if (r < 0 && errno != EINTR) {
      reaped = true;  // not ours any more (someone else reaped it): nothing to wait for
      return errnoError(name + ": wait");
    }
    int left = remainingMs(deadline);
    if (left == 0) return timedOut();
    ::poll(nullptr, 0, std::min(nap_ms, left));
    nap_ms = std::min(nap_ms * 2, 50);
  }
  result.exited = WIFEXITED(status);
  result.status = result.exited ? WEXITSTATUS(status) : 0;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  // Not a kill(-pid) now: once the leader is reaped its pid may name another group.
  return result;
}

}  // namespace vnetd::platform
