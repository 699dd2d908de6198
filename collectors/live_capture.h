// The libpcap half of a troubleshooting capture (`vnetctl capture`; the sessions
// themselves — threads, sockets, limits — are src/daemon/capture_streams.h): live
// handles of its own on a jail's bridges, separate from the metrics capture (other
// snaplen, a BPF filter, immediate delivery), and BPF filtering of flight-recorder
// frames. Records come out already encoded as pcap records (flight_recorder.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectors/flight_recorder.h"
#include "core/result.h"

namespace vnetd::collectors {

class LiveCapture {
 public:
  // Opens a capture on each of `bridges`: promiscuous (a Linux bridge passes the frames it
  // forwards to a capture only then), immediate mode (a troubleshooting capture wants
  // each frame now, not per buffer), `snaplen`, non-blocking, with `expression` as its
  // kernel filter. Errors are one line naming the bridge, or, for an expression that does
  // not compile, "invalid capture filter: <pcap's message>". Any thread (it may take a
  // few milliseconds: not the loop's).
  static Result<std::unique_ptr<LiveCapture>> open(const std::vector<std::string>& bridges, uint32_t snaplen,
                                                   const std::string& expression);
  ~LiveCapture();
  LiveCapture(const LiveCapture&) = delete;
  LiveCapture& operator=(const LiveCapture&) = delete;

  // The descriptors to poll for readability, one per bridge.
  const std::vector<int>& fds() const { return fds_; }
  // Appends to `out` the records (flight_recorder.h's appendPcapRecord) of at most
  // `max_frames` frames ready now, from every bridge; never blocks. Returns how many, or
  // an error when a bridge's capture broke (the bridge was deleted).
  Result<size_t> dispatch(std::string& out, size_t max_frames);
  uint32_t snaplen() const { return snaplen_; }

 private:
  struct Handle;
  LiveCapture() = default;
  std::vector<std::unique_ptr<Handle>> handles_;
  std::vector<int> fds_;
  uint32_t snaplen_ = 0;
};

// Whether `filter` (pcap-filter(7)) compiles for Ethernet frames; "" does. Error:
// "invalid capture filter: <pcap's message>". Pure CPU, no handle opened. Any thread.
Result<void> checkCaptureFilter(const std::string& filter);
// The frames of `frames` that `filter` accepts ("" = all), in order. Errors as above.
Result<RecordedFrames> filterRecordedFrames(RecordedFrames frames, const std::string& filter);

}  // namespace vnetd::collectors
