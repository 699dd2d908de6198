// Running an external program from the daemon (FreeBSD: pfctl(8) for NAT anchors) so that
// it gets nothing of the daemon it does not need and can never hold the daemon up:
//   - argv vector and an absolute path, never a shell;
//   - a minimal environment: PATH=/sbin:/bin:/usr/sbin:/usr/bin and nothing else (the
//     daemon's environment may carry anything its starter had, e.g. LD_* or locale
//     variables that change how a tool parses its input);
//   - descriptors 0, 1, 2 only: stdin is a socket fed with `input`, stdout and stderr one
//     pipe read back; every other descriptor is closed in the child before exec, whether
//     or not it is close-on-exec (capture handles, the state lock, client sockets — a
//     child holding the state lock's descriptor would keep it locked after we die);
//   - default signal dispositions and an empty signal mask (SIG_IGN survives exec);
//   - its own process group, and a bounded wait: when the child has not exited within
//     `timeout`, the whole group is killed with SIGKILL, the child reaped, and the error
//     is "NAME did not finish in N s; killed" (code ETIMEDOUT).
// Callers run this with the state lock held, so the bound is what keeps a wedged tool
// from wedging every hook.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/result.h"

namespace vnetd::platform {

inline constexpr const char* kChildPath = "PATH=/sbin:/bin:/usr/sbin:/usr/bin";

struct ChildSpec {
  std::string program;            // absolute path, executed as is
  std::vector<std::string> argv;  // argv[0] included
  std::string input;              // written to the child's stdin, then EOF
  std::chrono::milliseconds timeout{30000};
  size_t max_output = 4096;  // stdout+stderr kept; more is read and discarded
  std::string name;          // for messages, e.g. "pfctl"; default: argv[0]
};

struct ChildExit {
  bool exited = false;  // exited normally (else killed by `signal`)
  int status = 0;       // exit status when exited
  int signal = 0;       // terminating signal otherwise
  std::string output;   // stdout and stderr, interleaved, at most max_output bytes
};

// Runs `spec` to completion. Errors: the child could not be started (pipe, fork, or exec:
// "cannot run PROGRAM: <strerror>" with exec's errno), or the timeout (ETIMEDOUT). A child
// that ran and failed is not an error: look at ChildExit. Never leaves a zombie. Any
// thread; blocks the calling thread for at most about `timeout`.
Result<ChildExit> runChild(const ChildSpec& spec);

// Closes every descriptor >= `lowfd` in a forked child, async-signal-safe. One
// implementation per OS (platform/<os>/child_fds.cc). `fallback_max`: where a loop of
// close(2) stops when the OS call is unavailable.
void closeDescriptorsFrom(int lowfd, int fallback_max) noexcept;

}  // namespace vnetd::platform
