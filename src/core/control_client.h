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

// Whether the daemon can have the request is what a caller must know: vnetd-hook may do
// the work itself only when the daemon cannot be doing it too.
enum class CallFailure {
  None,
  // Not one byte of the request left this process, so the daemon cannot have it: nothing
  // listening (no socket file, ECONNREFUSED, EACCES on connect), or connected but the
  // connection failed or timed out before the first byte was written (EPIPE: the daemon
  // closed the connection unread).
  Unreachable,
  Lost,     // (part of) the request was sent, then the connection ended before a whole reply
  Timeout,  // (part of) the request was sent, and no whole reply came before the deadline
};

struct CallResult {
  CallFailure failure = CallFailure::None;
  std::string reply;   // the reply line without its newline (failure == None)
  Error error;         // what went wrong, e.g. "connect /run/vnetd.sock: No such file or directory"
  bool ok() const { return failure == CallFailure::None; }
  // The daemon may have the request (and may run it, or be running it): anything but
  // Unreachable.
  bool maybeReceived() const { return failure != CallFailure::Unreachable; }
};

// A blocking connection to the daemon's socket (close-on-exec; no SIGPIPE where the
// platform has SO_NOSIGPIPE). For clients that speak more than one line and one reply,
// such as `vnetctl capture`, which reads a pcap stream after the reply line. An error
// here means the daemon is unreachable (CallFailure::Unreachable). Connecting takes at
// most `timeout`, even when the daemon's listen backlog is full (it is stopped or not
// accepting): then the error says so, and nothing was sent.
Result<UniqueFd> connectToDaemon(const std::string& socket_path, std::chrono::milliseconds timeout);

// Sends `request` (one line, no newline) to the daemon at `socket_path` and waits for one
// reply line. Replies longer than `max_reply_bytes` are an error (Lost).
CallResult call(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                size_t max_reply_bytes = size_t{64} << 20);

// The exchange of call() on an already connected stream socket (`what` names the peer in
// errors). Failures follow the same rules: Unreachable exactly when not one byte of the
// request was written.
CallResult exchange(UniqueFd connected, const std::string& what, const std::string& request,
                    std::chrono::milliseconds timeout, size_t max_reply_bytes = size_t{64} << 20);

}  // namespace vnetd::control
