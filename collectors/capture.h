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
// Both hand-overs are shared_ptr swaps (std::atomic_load/atomic_store): neither side
// ever waits for the other, and Collect() never touches the live counters. So capture
// metrics lag the wire by up to kPublishPeriod (plus the capture's 100 ms buffer
// timeout).
//
// The capture is opened with pcap_create + snaplen + buffer size + promiscuous mode (a
// Linux bridge without it passes none of the frames it forwards between its ports to a
// capture) + immediate mode off + a 100 ms buffer timeout. TPACKET_V3 is libpcap's
// default on Linux; BPF on FreeBSD. The thread dispatches non-blocking and waits in
// poll(2) on the capture's descriptor and a wake-up pipe (a blocking pcap_dispatch never
// returns on a quiet Linux bridge: see capture.cc), so publication is on time and a stop
// is immediate. A bridge that does not exist (yet: the first reconciliation creates it)
// is retried every second from the capture thread; a bridge deleted under the capture
// (pcap reports an error) is closed and reopened the same way, so a re-created bridge is
// captured again. Problems are logged once per distinct message.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectors/capture_aggregator.h"
#include "core/config.h"
#include "core/state_store.h"

namespace vnetd::collectors {

inline constexpr std::chrono::milliseconds kPublishPeriod{1000};

// The hand-over point between the loop thread and one bridge's capture thread. Every
// method may be called from any thread; each is one atomic shared_ptr load or store.
class CaptureChannel {
 public:
  explicit CaptureChannel(std::string bridge) : bridge_(std::move(bridge)), attribution_(Attribution::build({})) {}
  const std::string& bridge() const { return bridge_; }

  void setAttribution(std::shared_ptr<const Attribution> table);
  std::shared_ptr<const Attribution> attribution() const;
  void publish(std::shared_ptr<const CaptureSnapshot> snapshot);
  std::shared_ptr<const CaptureSnapshot> snapshot() const;  // null before the first

 private:
  const std::string bridge_;
  std::shared_ptr<const Attribution> attribution_;  // only through std::atomic_load/store
  std::shared_ptr<const CaptureSnapshot> snapshot_;  // idem
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
  void apply(const Config& config);
  // New MAC tables from the recorded state (nothing to do when it is the one seen last).
  // Series of jails no longer recorded disappear from the next scrape. Also has captures
  // that wait for their bridge try again at once: this follows hooks and reconciliation
  // passes, which create bridges.
  void setState(const State& state);
  // Registered once with the metrics registry; empty output while nothing is captured.
  std::shared_ptr<prometheus::Collectable> collectable() const { return collector_; }

  std::vector<std::string> bridges() const;
  // Active flows per jail name, summed over the bridges, from the latest snapshots
  // (status and `vnetctl top`); jails without a snapshot yet are absent.
  std::map<std::string, uint64_t> activeFlows() const;

 private:
  struct Board;
  struct Running {
    std::shared_ptr<CaptureChannel> channel;
    std::unique_ptr<BridgeCapture> capture;
  };
  void stopAll();

  std::shared_ptr<Board> board_;  // channels the collector reads; shared with it
  std::shared_ptr<prometheus::Collectable> collector_;
  std::map<std::string, Running> running_;
  CaptureConfig config_;
  State state_;
  bool have_state_ = false;
};

}  // namespace vnetd::collectors
