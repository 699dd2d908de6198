// Troubleshooting captures streamed over the control socket (`vnetctl capture`, op
// capture): a live capture of one jail's traffic, or a dump of its flight recorder.
//
//   loop thread                          session thread (one per capture, at most 4)
//   -----------                          ------------------------------------------
//   handle(): resolve jail → bridges,    live: opens its OWN pcap handle on each of the
//   MACs (from the state); start ───────▶ jail's bridges (promiscuous: a Linux bridge
//                                        passes forwarded frames to a capture only then),
//                                        filter "(ether host M1 or ...) and (FILTER)"
//   reply: error line  ◀──opened / error─ (a filter that does not compile: pcap's message)
//   or Reply::handOver(header) ──fd────▶ streams the pcap file header, then one record per
//                                        frame, until count or seconds, the client going
//                                        away, or a client not reading for 10 s; closes
//   finished: join ◀──────────────────── the connection (the client sees EOF)
//
//   --last: CaptureManager::recorded() copies the jail's rings out of the capture
//   threads (never waiting on them); the loop filters and encodes the frames, hands the
//   connection over, and a session thread writes them out and closes.
//
// A jail with interfaces on several bridges: every one of them is captured (live: one
// pcap handle per bridge in the one session; --last: the rings of every bridge, merged in
// time order); the header's "bridge" lists them, comma-separated. Frames are the jail's
// when their source or destination MAC is one of its interfaces' (host or jail side) —
// broadcasts from others are not; the same rule as the metrics' attribution.
//
// The session thread never touches the loop's objects: it talks to the loop only by
// Dispatcher::post (guarded by a token that expires with CaptureStreams), and the loop
// hands it the socket through a mutex-guarded slot plus its wake-up pipe.
//
// Threading: loop thread only (construction, handle(), destruction).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectors/capture.h"
#include "core/control_protocol.h"
#include "core/result.h"
#include "core/state_store.h"
#include "daemon/control_server.h"
#include "daemon/dispatcher.h"

namespace vnetd::daemon {

// What a capture of one jail looks at, from the recorded state.
struct CaptureTarget {
  std::vector<std::string> bridges;  // the bridges of its bridged interfaces, in interface order, no repeats
  std::vector<std::string> macs;     // host- and jail-side MACs of those interfaces, as recorded
};
// Errors (one line): the jail is not recorded; it has no interface on a bridge. Pure.
Result<CaptureTarget> resolveCaptureTarget(const State& state, const std::string& jail);
// "(ether host M1 or ether host M2 ...)", then " and (FILTER)" when `filter` is not
// empty. Pure.
std::string captureFilterExpression(const std::vector<std::string>& macs, const std::string& filter);

inline constexpr size_t kMaxCaptureStreams = 4;
inline constexpr uint32_t kDefaultLiveSnaplen = control::kMaxCaptureSnaplen;  // whole frames, like tcpdump
// A client that takes no byte of its stream for this long ends its session.
inline constexpr std::chrono::seconds kStalledClientTimeout{10};

class CaptureStreams {
 public:
  CaptureStreams(Dispatcher& dispatcher, collectors::CaptureManager& capture);
  // Ends every session (their clients see EOF after the records already sent) and joins
  // the threads. Loop thread.
  ~CaptureStreams();
  CaptureStreams(const CaptureStreams&) = delete;
  CaptureStreams& operator=(const CaptureStreams&) = delete;

  // Answers an op capture request whose peer the caller has checked (root only: a capture
  // shows other hosts' frames too): an error line (jail unknown, too many sessions, filter
  // that does not compile, bridge that cannot be opened, recorder off), or the header line
  // and the pcap stream. Never blocks: opening the capture is the session thread's job.
  void handle(const control::Request& request, const State& state, ControlServer::Reply reply);
  size_t running() const { return sessions_.size(); }

 private:
  struct Session;
  using SessionPtr = std::shared_ptr<Session>;

  SessionPtr add(const control::Request& request, ControlServer::Reply reply, std::string bridges);
  // The session thread's report: header (handed over) or error (replied).
  void opened(uint64_t id, Result<control::CaptureHeader> header);
  void recorded(uint64_t id, Result<collectors::RecordedFrames> frames);
  void finished(uint64_t id);
  // Dispatcher::post from any thread, dropped once this object is gone.
  void postToLoop(std::function<void(CaptureStreams&)> fn);

  Dispatcher& dispatcher_;
  collectors::CaptureManager& capture_;
  std::map<uint64_t, SessionPtr> sessions_;
  uint64_t next_id_ = 1;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
};

}  // namespace vnetd::daemon
