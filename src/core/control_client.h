// The client side of the control socket: one request line out, one reply line back.
// Used by vnetd-hook (which falls back to standalone work when the daemon cannot answer)
// and vnetctl.
//
// Blocking, with one deadline for the whole exchange; any thread.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd::control {

enum class CallFailure {
  None,
  Unreachable,  // nothing listening: no socket file, ECONNREFUSED, EACCES on connect
  Lost,         // connected, but the connection ended before a whole reply line came
  Timeout,      // no whole reply before the deadline
};

struct CallResult {
  CallFailure failure = CallFailure::None;
  std::string reply;   // the reply line without its newline (failure == None)
  Error error;         // what went wrong, e.g. "connect /run/vnetd.sock: No such file or directory"
  bool ok() const { return failure == CallFailure::None; }
};

// A blocking connection to the daemon's socket (close-on-exec; no SIGPIPE where the
// platform has SO_NOSIGPIPE). For clients that speak more than one line and one reply,
// such as `vnetctl capture`, which reads a pcap stream after the reply line. An error
// here means the daemon is unreachable (CallFailure::Unreachable).
Result<UniqueFd> connectToDaemon(const std::string& socket_path);

// Sends `request` (one line, no newline) to the daemon at `socket_path` and waits for one
// reply line. Replies longer than `max_reply_bytes` are an error (Lost).
CallResult call(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                size_t max_reply_bytes = size_t{64} << 20);

}  // namespace vnetd::control
