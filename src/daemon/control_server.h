// ControlServer: the daemon's control socket, an AF_UNIX stream socket speaking the
// JSON-lines control protocol (core/control_protocol.h) to vnetd-hook and vnetctl.
//
// Clients are local but untrusted bytes: a peer's credentials are checked before any of
// its input is read, input is bounded per connection (one request line + one read chunk,
// a longer line is refused), output is bounded (a client that does not read its replies
// is dropped), silent connections time out, and running out of file descriptors pauses
// accepting instead of spinning the loop. One misbehaving client can therefore cost the
// daemon at most ~max_request_bytes of input, max_pending_output of output and one slot
// of max_connections for idle_timeout.
//
// Threading: everything runs on the Dispatcher's loop thread. create(), the destructor,
// connectionCount() and stats() are called on the loop thread (or before run() / after
// run() has returned); the handler is called on it. The Dispatcher must outlive the server.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/control_protocol.h"
#include "core/result.h"
#include "core/unique_fd.h"
#include "daemon/dispatcher.h"
#include "platform/peer_credentials.h"

namespace vnetd::daemon {

// Who is on the other end of a connection, as the kernel recorded it at connect time
// (uid, effective gid, pid and the process's real supplementary groups).
using PeerCredentials = platform::PeerCredentials;

// Who may talk to the daemon: root always; members of `group` when set.
struct AccessPolicy {
  std::optional<gid_t> group;  // nullopt: root only
};

// "" when `peer` may use the control socket, else a one-line reason such as
// "uid 65534 is not root and not in group wheel". Membership is the peer process's own:
// its effective gid or one of its supplementary groups (peer.groups) is `group`. What the
// user database says the user is in does not count: a process that dropped the group
// (setgroups) is not in it, one that was given it is. Naming the group in a refusal may
// look it up in the group database (NSS). Any thread.
std::string accessProblem(const PeerCredentials& peer, const AccessPolicy& policy);

struct ControlServerOptions {
  std::string path;  // socket path; its directory should not be writable by untrusted users
  AccessPolicy access;
  // A connection with no complete request for this long is closed (checked by a periodic
  // sweep every idle_timeout/4, clamped to [10 ms, 1 s], so closing may lag by that much).
  std::chrono::milliseconds idle_timeout{10000};
  size_t max_connections = 256;                         // beyond: accept, write one error line, close
  size_t max_request_bytes = control::kMaxRequestBytes;  // a longer line: error line, then close
  size_t max_pending_output = 16 << 20;                 // a client not reading its replies is dropped
};

class ControlServer {
 public:
  // Gets one decoded request and returns ONE response line WITHOUT the trailing newline
  // (a stray '\n' or '\r' in it is replaced by a space so framing cannot break).
  // Runs on the loop thread, synchronously: every other client waits while it runs, so
  // it must not block. It may call Dispatcher::exit() or post() work, but must NOT
  // destroy this ControlServer (post() the destruction instead). An exception thrown by
  // it is caught and answered with an "internal error" line.
  using Handler = std::function<std::string(const control::Request&, const PeerCredentials&)>;

  // Asynchronous form, for requests whose work runs elsewhere (the daemon's hook worker):
  // the handler returns at once and calls `reply` exactly once, later, ON THE LOOP THREAD
  // (post() it there), with the response line. Until then that connection's further
  // requests wait (replies stay in request order; its input is buffered, bounded, not
  // handled) and it is exempt from the idle timeout; other connections are served meanwhile. A
  // reply for a connection that has gone, or after the server was destroyed, is dropped.
  // Meanwhile the server keeps watching the connection, so Reply::abandoned() tells the
  // worker whether anybody still waits for the answer: work nobody waits for any more can
  // be skipped (a hook whose vnetd-hook gave up must not run later).
  //
  // Instead of a line, a reply may hand the connection over (streams such as `vnetctl
  // capture`: a header line, then bytes that are no JSON line): handOver(header, take)
  // queues `header` like a reply line and, once it and everything before it is written,
  // stops serving the connection — it leaves connectionCount() and the idle timeout, its
  // events are removed from the loop, bytes the client sent after the request are
  // discarded — and calls take(fd) with the connected socket (non-blocking, close-on-
  // exec), which from then on is the taker's to write and close. `take` is called exactly
  // once, on the loop thread: with the socket, or with an empty UniqueFd when the
  // connection ended first (client gone, server destroyed — then from the destructor —,
  // or a reply already given); in those cases possibly before handOver() returns. It must
  // not destroy the server.
  using Take = std::function<void(UniqueFd)>;

 private:
  class Liveness;  // what Reply::abandoned() reads; control_server.cc

 public:
  class Reply {
   public:
    Reply() = default;
    // A plain function as a reply (tests, adapters); handOver() then gives take() an
    // empty fd.
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Reply> &&
                                                std::is_invocable_v<F&, std::string>>>
    Reply(F f) : line_(std::move(f)) {}  // NOLINT(google-explicit-constructor): a Reply is "a function of a line"
    void operator()(std::string line) const {
      if (line_) line_(std::move(line));
    }
    void handOver(std::string header_line, Take take) const {
      if (hand_over_) hand_over_(std::move(header_line), std::move(take));
      else if (take) take(UniqueFd());
    }
    explicit operator bool() const { return static_cast<bool>(line_); }
    // True once the connection this reply is for has ended: the client closed it (it
    // gave up waiting; a client that only shut down its write side still waits), the
    // server dropped it, or the server is gone. Nobody can receive the reply then. Never
    // true for a plain function. Any thread (a worker checks it before starting a job).
    // While the request is pending this asks the kernel, not only the loop thread: after
    // a SIGSTOP/SIGCONT the worker may reach a queued job before the loop has read the
    // client's EOF among hundreds of ready connections, and must still see it left.
    bool abandoned() const;

   private:
    friend class ControlServer;
    std::function<void(std::string)> line_;
    std::function<void(std::string, Take)> hand_over_;
    std::shared_ptr<const Liveness> liveness_;
  };
  using AsyncHandler = std::function<void(const control::Request&, const PeerCredentials&, Reply)>;

  // Counters for metrics/status; monotonic for the server's lifetime.
  struct Stats {
    uint64_t accepted = 0;          // connections accepted (including the refused ones below)
    uint64_t refused_access = 0;    // closed because accessProblem() refused the peer
    uint64_t refused_too_many = 0;  // closed because max_connections were open
    uint64_t bad_requests = 0;      // lines that did not decode (answered with an error, kept open)
    uint64_t oversized = 0;         // lines over max_request_bytes (answered, then closed)
    uint64_t timeouts = 0;          // closed after idle_timeout without a request
    uint64_t dropped_slow = 0;      // closed because unread output exceeded max_pending_output
    uint64_t requests = 0;          // requests handed to the handler
    uint64_t handed_over = 0;       // connections given away by Reply::handOver
    uint64_t abandoned = 0;         // clients that left while a request of theirs was pending (or unread)
  };

  // Binds and listens on options.path.
  // - An existing socket file is removed first only if nothing answers on it (connect
  //   fails with ECONNREFUSED); if something answers: "control socket PATH is in use by
  //   another process". Anything else at the path (regular file, directory, symlink) is
  //   never removed: error.
  // - The socket file is mode 0600, or 0660 with group = access.group when a group is set.
  //   Mode and group are set after bind() but before listen(), so no client can connect
  //   while the file still has the process umask's mode.
  // - The listening fd is non-blocking and close-on-exec.
  // Loop thread (or before run()).
  static Result<std::unique_ptr<ControlServer>> create(Dispatcher& dispatcher, ControlServerOptions options,
                                                       Handler handler);
  // The same with an asynchronous handler.
  static Result<std::unique_ptr<ControlServer>> createAsync(Dispatcher& dispatcher, ControlServerOptions options,
                                                            AsyncHandler handler);
  // Closes every connection (replies not yet written are lost) and removes the socket file
  // if it is still the one we bound (same st_dev/st_ino), so a successor's socket at the
  // same path is left alone. Loop thread, and never from inside the handler.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Connections currently open and served (refused and closing ones are not counted).
  size_t connectionCount() const { return connections_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  // Where a connection is in its life. Transitions, all on the loop thread:
  //   Reading       --request line: handler called----------------> Awaiting
  //   Reading/Draining --request line, but the client has closed
  //                   the socket already: handler called, abandoned--> Closed
  //   Reading       --EOF: the lines already read are handled------> Draining
  //   Reading       --oversized line: error line queued------------> Draining
  //   Reading/Draining --idle_timeout with no request--------------> Closed
  //   Awaiting      --reply: the lines read meanwhile are handled--> Reading
  //   Awaiting      --EOF, the client still reads (SHUT_WR only)---> AwaitingAtEof
  //   Awaiting/AwaitingAtEof --the client is gone (reset, write
  //                   error, or EOF with the socket closed)--------> Closed (Reply::abandoned())
  //   AwaitingAtEof --reply: the rest of the lines is handled------> Draining
  //   Draining      --request line among the rest------------------> AwaitingAtEof
  //   Awaiting/AwaitingAtEof --Reply::handOver()-------------------> HandingOver
  //   HandingOver   --header and all before it written-------------> Handed
  //   Draining      --all output written---------------------------> Closed
  //   any but Closed/Handed --write error, unread output over
  //                   max_pending_output, server destroyed----------> Closed
  // Closed and Handed are final: the connection waits in closed_ for reap() (a Handed
  // one's socket then goes to the taker) and its callbacks do nothing. Reading and
  // Awaiting read the socket: Reading handles each line, Awaiting only buffers input
  // (bounded by max_request_bytes + one read chunk; at the bound it stops reading until
  // the reply) so that a client that closes is noticed before its request's work starts;
  // Reply::abandoned() also asks the kernel directly (Liveness), so a worker sees the
  // close even before the loop thread reads it, or while reading is paused at the bound.
  enum class State { Reading, Awaiting, AwaitingAtEof, HandingOver, Draining, Closed, Handed };

  struct Connection;
  using Clock = std::chrono::steady_clock;

  ControlServer(Dispatcher& dispatcher, ControlServerOptions options, AsyncHandler handler, UniqueFd listen_fd,
                dev_t dev, ino_t ino);

  void acceptReady();
  void pauseAccepting(int err);
  void resumeAccepting();
  void adopt(UniqueFd fd);
  void readReady(Connection* c);
  static bool peerStillReads(int fd);
  void clientGone(Connection* c);
  void processInput(Connection* c);
  // false when the line was refused (oversized): nothing after it is handled.
  bool handleLine(Connection* c, std::string_view line);
  void refuseOversized(Connection* c);
  void respond(Connection* c, std::string line);
  void complete(uint64_t id, std::string line);
  void handOver(uint64_t id, std::string header_line, Take take);
  void finishHandOver(Connection* c);
  void resumeReading(Connection* c);
  void flush(Connection* c);
  void stopReading(Connection* c);
  void close(Connection* c, State final_state = State::Closed);
  void sweepIdle();
  void retire(std::unique_ptr<Event> event);
  void scheduleReap();
  void reap();

  Dispatcher& dispatcher_;
  const ControlServerOptions options_;
  const AsyncHandler handler_;
  UniqueFd listen_fd_;
  const dev_t dev_;  // identity of the socket file we bound, checked before unlinking it
  const ino_t ino_;
  std::unique_ptr<Event> listen_event_;
  std::unique_ptr<Event> resume_timer_;  // re-enables accepting after fd exhaustion
  std::unique_ptr<Event> sweep_timer_;
  std::unique_ptr<Event> reap_timer_;
  bool accept_paused_ = false;
  bool reap_scheduled_ = false;
  bool fd_exhaustion_reported_ = false;
  Clock::time_point last_fd_exhaustion_log_{};
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::unordered_map<uint64_t, Connection*> by_id_;  // open connections, for late replies
  uint64_t next_id_ = 1;
  Connection* handling_ = nullptr;  // inside the handler for this one (a synchronous reply lands here)
  // Replies hold a weak reference: one arriving after destruction finds it expired.
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
  // Closed connections and retired events wait here until reap() on a later loop
  // iteration: an Event must never be destroyed from inside its own callback.
  std::vector<std::unique_ptr<Connection>> closed_;
  std::vector<std::unique_ptr<Event>> retired_;
  Stats stats_;
};

}  // namespace vnetd::daemon
