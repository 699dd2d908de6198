// The flight recorder: the last N frames of each jail, kept by the bridge's capture
// thread so that `vnetctl capture JAIL --last` can show "what just happened" without a
// capture running beforehand. Pure ring logic (no pcap, no thread): collectors/capture.cc
// feeds it from the capture thread; the unit tests from hand-built frames.
//
//   FrameRing       one jail's ring of up to `frames` slots of `snaplen` bytes plus a
//                   FrameMeta each. It starts with kInitialFrames slots and doubles when
//                   full until it holds `frames`: a jail that only ever sent a few frames
//                   (a router solicitation, an ARP probe) costs 16 slots, not 1000 — at
//                   1000 mostly idle jails that is 2.4 MB instead of 152 MB. So a ring
//                   allocates at most log2(frames / 16) + 1 times in its life; every
//                   other push() is a memcpy of the captured bytes (truncated to
//                   snaplen) and a 24-byte header write.
//   FlightRecorder  the rings of one bridge, indexed by the Attribution's jail slots. A
//                   ring is allocated at its jail's first frame (a jail that never sends
//                   costs nothing); a frame between two jails goes in both rings; rings of
//                   jails that stay across a new Attribution carry over by name.
//
// Memory: bytesAllocated() = the slots allocated × (snaplen + sizeof(FrameMeta)), at most
// (jails with a ring) × frames × (snaplen + sizeof(FrameMeta)); exported as
// vnetd_flight_recorder_bytes{bridge} (docs/metrics.md).
//
// Also here: the pcap stream encoding (file header, records) that the daemon's capture
// sessions write for live captures and recorder dumps alike.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "collectors/capture_aggregator.h"

namespace vnetd::collectors {

// One recorded frame's pcap record header, as the capture reported it.
struct FrameMeta {
  int64_t ts_sec = 0;
  uint32_t ts_usec = 0;
  uint32_t caplen = 0;  // bytes kept (≤ the ring's snaplen)
  uint32_t len = 0;     // length on the wire (pkthdr.len)
};

// A copy of recorded frames, oldest first: meta[i] describes bytes
// [offset(i), offset(i) + meta[i].caplen) of `bytes`, the frames laid end to end.
struct RecordedFrames {
  uint32_t snaplen = 0;
  uint32_t sample = 1;  // [capture] sample: the frames are about 1 in this many
  std::vector<FrameMeta> meta;
  std::vector<std::byte> bytes;
  void append(const FrameMeta& m, std::span<const std::byte> frame);
  // Frames of `parts` (each oldest first) merged by timestamp; ties keep `parts` order.
  static RecordedFrames merge(std::vector<RecordedFrames> parts);
  // The newest `n` frames only (n = 0: all).
  void keepNewest(size_t n);
};

class FrameRing {
 public:
  static constexpr uint32_t kInitialFrames = 16;
  static constexpr uint32_t kPrefetchAhead = 4;

  // Allocates min(frames, kInitialFrames) slots; throws std::bad_alloc.
  FrameRing(uint32_t frames, uint32_t snaplen);
  FrameRing(const FrameRing&) = delete;
  FrameRing& operator=(const FrameRing&) = delete;

  // Keeps the frame, truncated to snaplen, replacing the oldest when `frames` are held.
  // Allocates only when the ring is full below `frames` (it doubles; if that fails the
  // oldest frame is replaced instead).
  // Inline: the capture's callback builds `meta` just before, and a call would read it
  // back from the stack before its stores retire (a store-forwarding stall, measured at
  // ~45 % of this function's time).
  void push(const FrameMeta& meta, const std::byte* bytes) noexcept {
    if (count_ == slots_ && slots_ < limit_) grow();
    uint32_t caplen = std::min(meta.caplen, snaplen_);
    FrameMeta& m = meta_[next_];
    m.ts_sec = meta.ts_sec;
    m.ts_usec = meta.ts_usec;
    m.caplen = caplen;
    m.len = meta.len;
    std::memcpy(&data_[size_t{next_} * snaplen_], bytes, caplen);
    next_ = next_ + 1 == slots_ ? 0 : next_ + 1;
    if (count_ < slots_) ++count_;
    // A full ring writes over its oldest slot, last written `frames` frames ago: by then
    // the line has usually left the cache, and every write to it waits for it to be read
    // back first. Asking for a slot a few frames ahead lets that read overlap the frames
    // in between (bench/capture at 100k frames/s on a busy host: the recorder cost
    // ~40 ns/frame without this).
    uint32_t ahead = next_ + kPrefetchAhead;
    if (ahead >= slots_) ahead -= slots_;
    if (ahead < slots_) {  // not with a ring of fewer than kPrefetchAhead slots
      __builtin_prefetch(&data_[size_t{ahead} * snaplen_], 1);
      __builtin_prefetch(&meta_[ahead], 1);
    }
  }
  // Appends the frames held, oldest first, to `out` (allocates: not per packet).
  void copyTo(RecordedFrames& out) const;
  size_t size() const { return count_; }
  uint32_t capacity() const { return frames_; }       // the most frames it will hold
  uint32_t allocatedFrames() const { return slots_; }  // the slots it has now
  size_t bytesAllocated() const { return bytesFor(slots_, snaplen_); }
  static size_t bytesFor(uint32_t frames, uint32_t snaplen) {
    return size_t{frames} * (snaplen + sizeof(FrameMeta));
  }

 private:
  void grow() noexcept;

  const uint32_t frames_, snaplen_;
  uint32_t slots_;                     // allocated: kInitialFrames, doubling up to limit_
  uint32_t limit_;                     // frames_, or slots_ once growing failed (no retry per frame)
  std::unique_ptr<FrameMeta[]> meta_;
  std::unique_ptr<std::byte[]> data_;  // slot i at i * snaplen_
  uint32_t next_ = 0;                  // the slot written next
  uint32_t count_ = 0;
};

class FlightRecorder {
 public:
  // frames = 0: off (add() does nothing, nothing is ever allocated).
  FlightRecorder(uint32_t frames_per_jail, uint32_t snaplen);

  bool enabled() const { return frames_ > 0; }
  uint32_t snaplen() const { return snaplen_; }
  // Re-indexes the rings for `next` (old slots are `old`'s): rings of jails in both carry
  // over by name, those of jails gone are freed. Allocates (not per packet).
  void setAttribution(const Attribution& old, const Attribution& next);
  // One frame sent by slot `src` and/or received by slot `dst` (kNoSlot: not a jail's).
  // Allocates a jail's ring at its first frame, otherwise only copies. A ring that cannot
  // be allocated is retried at the jail's next frame; the frame is not recorded.
  void add(uint32_t src, uint32_t dst, const FrameMeta& meta, const std::byte* bytes) noexcept {
    if (frames_ == 0) return;
    if (src != kNoSlot) record(src, meta, bytes);
    if (dst != kNoSlot && dst != src) record(dst, meta, bytes);
  }
  // A copy of `slot`'s frames, oldest first (empty when it has no ring).
  RecordedFrames copy(uint32_t slot) const;
  size_t bytesAllocated() const;  // sums the rings (called once per publication)
  bool hasRing(uint32_t slot) const { return slot < rings_.size() && rings_[slot] != nullptr; }

 private:
  // Inline for the common case (the jail has its ring); the rest out of line.
  void record(uint32_t slot, const FrameMeta& meta, const std::byte* bytes) noexcept {
    if (slot < rings_.size() && rings_[slot]) rings_[slot]->push(meta, bytes);
    else recordFirst(slot, meta, bytes);
  }
  void recordFirst(uint32_t slot, const FrameMeta& meta, const std::byte* bytes) noexcept;

  const uint32_t frames_, snaplen_;
  std::vector<std::unique_ptr<FrameRing>> rings_;  // by slot; null until the jail's first frame
};

// pcap stream encoding (the libpcap file format, native byte order, microsecond
// timestamps): what a pcap file holds, as the daemon streams it to vnetctl.
inline constexpr uint32_t kLinktypeEthernet = 1;
inline constexpr size_t kPcapFileHeaderBytes = 24;
inline constexpr size_t kPcapRecordHeaderBytes = 16;
void appendPcapFileHeader(std::string& out, uint32_t snaplen, uint32_t linktype = kLinktypeEthernet);
// The record of one frame, its captured bytes cut to `snaplen` (the file header's).
void appendPcapRecord(std::string& out, const FrameMeta& meta, std::span<const std::byte> bytes, uint32_t snaplen);

}  // namespace vnetd::collectors
