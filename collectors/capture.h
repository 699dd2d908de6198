// Per-bridge packet capture: one libpcap capture thread per configured bridge, feeding a
// collectors::Aggregator (capture_aggregator.h), and the Prometheus Collectable that
// exports what those threads publish.
//
//   loop thread                          capture thread (one per bridge)
//   -----------                          -------------------------------
//   CaptureManager::setState ──MAC table──▶ picked up at most once per dispatch batch
//   (after every hook and pass)             pcap_dispatch → Aggregator::add per frame
//                                           (no allocation, no lock)
//   scrape: Collect() ◀──snapshot─────────  publishes a snapshot every kPublishPeriod
//                                           and when it stops
//   recorded() ──request slot + wake-up──▶  flight recorder: the last N frames per jail
//              ◀──RecorderReply (copy)────  (FlightRecorder, flight_recorder.h), copied
//                                           out between dispatch batches
// Both hand-overs are shared_ptr swaps (std::atomic_load/atomic_store): neither side
// ever waits for the other, and Collect() never touches the live counters. So capture
// metrics lag the wire by up to kPublishPeriod (plus the capture's 100 ms buffer
// timeout).
//
// The capture is opened with pcap_create + snaplen + buffer size + promiscuous mode (a
// Linux bridge without it passes none of the frames it forwards between its ports to a
// capture) + immediate mode off + a 100 ms buffer timeout. TPACKET_V3 is libpcap's
// default on Linux; BPF on FreeBSD. The buffer size is only a request (FreeBSD caps it
// at net.bpf.maxbufsize): what the kernel granted is read back at every opening,
// exported (vnetd_capture_buffer_bytes) and logged once when it is not the request. The
// thread dispatches non-blocking and waits in
// poll(2) on the capture's descriptor and a wake-up pipe (a blocking pcap_dispatch never
// returns on a quiet Linux bridge: see capture.cc), so publication is on time and a stop
// is immediate. A bridge that does not exist (yet: the first reconciliation creates it)
// is retried every second from the capture thread; a bridge deleted under the capture
// (pcap reports an error) is closed and reopened the same way, so a re-created bridge is
// captured again. Problems are logged once per distinct message.
//
// Spoofing guards: attribution is by MAC, and root in a jail can change its MAC. The
// bridge capture cannot tell which port a frame came in on (Linux: a packet socket on the
// bridge gets the frame after br_pass_frame_up made the bridge its device; FreeBSD: the
// bridge's BPF tap in bridge_forward/bridge_input carries the bridge's ifnet, not the
// member's), so the capture thread also holds one small capture per jail port (the host
// side of its pair), inbound only, whose kernel filter passes only frames whose source
// MAC is not the jail's recorded one. Each such frame is counted as
// vnetd_jail_spoofed_transmit_packets_total{jail} (logged once per jail) and remembered until
// the bridge capture sees the same frame, which then counts as that jail's transmit, not
// the MAC owner's (Aggregator::add's `sender`; docs/metrics.md, "Spoofed source MACs").
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/capture_aggregator.h"
#include "collectors/flight_recorder.h"
#include "core/config.h"
#include "core/result.h"
#include "core/state_store.h"
#include "platform/capture.h"

namespace vnetd::collectors {

inline constexpr std::chrono::milliseconds kPublishPeriod{1000};

// The answer to a flight-recorder request: the jail's frames (oldest first; none when the
// jail has no ring yet) or why there are none.
using RecorderReply = std::function<void(Result<RecordedFrames>)>;

// The hand-over point between the loop thread and one bridge's capture thread. Every
// method may be called from any thread; the attribution and snapshot hand-overs are one
// atomic shared_ptr load or store each.
class CaptureChannel {
 public:
  explicit CaptureChannel(std::string bridge) : bridge_(std::move(bridge)), attribution_(Attribution::build({})) {}
  const std::string& bridge() const { return bridge_; }

  void setAttribution(std::shared_ptr<const Attribution> table);
  std::shared_ptr<const Attribution> attribution() const;
  void publish(std::shared_ptr<const CaptureSnapshot> snapshot);
  std::shared_ptr<const CaptureSnapshot> snapshot() const;  // null before the first

  // Flight-recorder requests: the request slot. The loop thread queues (a mutex held for
  // a push_back); the capture thread looks at one atomic flag between dispatch batches
  // and takes the queue only when it is set — no lock is ever held per frame.
  struct RecorderRequest {
    std::string jail;
    RecorderReply done;
    std::chrono::steady_clock::time_point queued;
  };
  void queueRequest(RecorderRequest request);
  bool hasRequests() const { return has_requests_.load(std::memory_order_acquire); }
  std::vector<RecorderRequest> takeRequests();

 private:
  const std::string bridge_;
  std::shared_ptr<const Attribution> attribution_;  // only through std::atomic_load/store
  std::shared_ptr<const CaptureSnapshot> snapshot_;  // idem
  std::mutex requests_mutex_;
  std::vector<RecorderRequest> requests_;  // guarded by requests_mutex_
  std::atomic<bool> has_requests_{false};
};

// One bridge's capture thread. Construction starts it (a bridge that cannot be opened is
// retried; only a failure to make the wake-up pipe throws); destruction stops it (wakes
// the thread, joins) after a last publication. Construct and destroy on one thread.
class BridgeCapture {
 public:
  BridgeCapture(const CaptureConfig& config, std::shared_ptr<CaptureChannel> channel);
  ~BridgeCapture();
  BridgeCapture(const BridgeCapture&) = delete;
  BridgeCapture& operator=(const BridgeCapture&) = delete;

  // A capture waiting for its bridge tries again now rather than at the next retry (the
  // bridge may just have been created). Any thread; nothing happens while open.
  void poke();
  // Asks the capture thread for `jail`'s flight recorder (through the channel's request
  // slot and the wake-up pipe). `done` runs once, on the capture thread: one buffer
  // timeout after the request (so frames the kernel still held when it came are in the
  // copy), or with an error when the capture stops first. Any thread.
  void requestRecording(std::string jail, RecorderReply done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The captures of the configured bridges and their Collectable. Loop thread only
// (apply, setState, destruction and the collectable's Collect()).
class CaptureManager {
 public:
  CaptureManager();
  ~CaptureManager();  // stops every capture
  CaptureManager(const CaptureManager&) = delete;
  CaptureManager& operator=(const CaptureManager&) = delete;

  // Captures exactly the bridges of `config` ([bridge.X] interface) when [capture]
  // enabled, none otherwise: starts the missing, stops the extra (their series go). A
  // change of the other [capture] settings restarts every capture (counters start again).
  // A bridge's `private` setting goes into its MAC table (Attribution::isolating): a
  // change takes effect at once, counters carry on.
  void apply(const Config& config);
  // New MAC tables from the recorded state (nothing to do when it is the one seen last).
  // Series of jails no longer recorded disappear from the next scrape. Also has captures
  // that wait for their bridge try again at once: this follows hooks and reconciliation
  // passes, which create bridges.
  // Shared: the daemon hands over StateStore::snapshot()'s object, so following an
  // unchanged state is a pointer comparison, not a copy of every record.
  void setState(std::shared_ptr<const State> state);
  void setState(const State& state) { setState(std::make_shared<const State>(state)); }
  // Registered once with the metrics registry; empty output while nothing is captured.
  std::shared_ptr<prometheus::Collectable> collectable() const { return collector_; }

  // Active flows per jail name, summed over the bridges, from the latest snapshots
  // (status and `vnetctl top`); jails without a snapshot yet are absent.
  std::map<std::string, uint64_t> activeFlows() const;
  // [capture] sample in force (1: every frame): flows, flight recorder and per-frame
  // counters come from about 1 frame in this many.
  uint32_t sample() const { return config_.enabled ? config_.sample : 1; }

  // `jail`'s flight recorder on `bridges` (`vnetctl capture --last`): the capture thread
  // of each copies the jail's ring out; `done` runs exactly once with all of them merged
  // in time order, or with the first error — on a capture thread, or on this thread
  // before recorded() returns when no capture can answer (capture or recorder off, a
  // bridge not captured). The loop never waits for a capture thread.
  void recorded(const std::string& jail, const std::vector<std::string>& bridges, RecorderReply done);

 private:
  struct Board;
  struct Running {
    std::shared_ptr<CaptureChannel> channel;
    std::unique_ptr<BridgeCapture> capture;
  };
  void stopAll();
  // The MAC table of a captured bridge from the state known so far (empty before the first).
  std::shared_ptr<const Attribution> tableFor(const std::string& bridge) const;

  std::shared_ptr<Board> board_;  // channels the collector reads; shared with it
  std::shared_ptr<prometheus::Collectable> collector_;
  std::map<std::string, Running> running_;
  std::map<std::string, bool> isolating_;  // bridge interface → [bridge.X] private
  Attribution::ExposeConfig exposes_;      // issue 19: the configured jails' forwards
  CaptureConfig config_;
  std::shared_ptr<const State> state_;  // null until the first setState
};

// What to log when a capture's kernel buffer is not the one `[capture] buffer_size`
// asked for (captureBufferNote), or nothing when it is. `limit` is the kernel's cap, when
// the platform has one (platform/capture.h).
struct CaptureBufferNote {
  bool warning = false;  // smaller than asked: frames a larger buffer would hold are dropped
  std::string text;      // one line, without the "capture on BRIDGE: " prefix
};
// Pure. Smaller than requested and at the cap: a warning naming the setting and the
// command that raises it. Smaller otherwise (memory): a warning. Larger (rounded up to
// whole ring blocks): information.
std::optional<CaptureBufferNote> captureBufferNote(uint64_t requested, uint64_t effective,
                                                   const std::optional<platform::CaptureBufferLimit>& limit);

// Whether a capture can be opened on `bridge` now (`vnetctl doctor`): pcap_create +
// pcap_activate (not promiscuous: nothing about the interface changes), then closed at
// once. The error says why not, e.g. "no such interface" or libpcap's permission message.
// Any thread.
Result<void> probeCapture(const std::string& bridge);

}  // namespace vnetd::collectors
