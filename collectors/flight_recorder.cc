#include "collectors/flight_recorder.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <queue>

namespace vnetd::collectors {

// ---------------------------------------------------------------------- RecordedFrames

void RecordedFrames::append(const FrameMeta& m, std::span<const std::byte> frame) {
  meta.push_back(m);
  bytes.insert(bytes.end(), frame.begin(), frame.end());
}

RecordedFrames RecordedFrames::merge(std::vector<RecordedFrames> parts) {
  RecordedFrames out;
  size_t total = 0, total_bytes = 0;
  for (const auto& p : parts) {
    out.snaplen = std::max(out.snaplen, p.snaplen);
    out.sample = std::max(out.sample, p.sample);
    total += p.meta.size();
    total_bytes += p.bytes.size();
  }
  out.meta.reserve(total);
  out.bytes.reserve(total_bytes);
  // k-way merge: each part is in time order already (a ring records in arrival order).
  struct Cursor {
    size_t part, index, offset;
  };
  auto later = [&](const Cursor& a, const Cursor& b) {
    const FrameMeta& x = parts[a.part].meta[a.index];
    const FrameMeta& y = parts[b.part].meta[b.index];
    if (x.ts_sec != y.ts_sec) return x.ts_sec > y.ts_sec;
    if (x.ts_usec != y.ts_usec) return x.ts_usec > y.ts_usec;
    return a.part > b.part;
  };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(later)> heads(later);
  for (size_t i = 0; i < parts.size(); ++i)
    if (!parts[i].meta.empty()) heads.push({i, 0, 0});
  while (!heads.empty()) {
    Cursor c = heads.top();
    heads.pop();
    const RecordedFrames& p = parts[c.part];
    const FrameMeta& m = p.meta[c.index];
    out.append(m, std::span(p.bytes).subspan(c.offset, m.caplen));
    if (c.index + 1 < p.meta.size()) heads.push({c.part, c.index + 1, c.offset + m.caplen});
  }
  return out;
}

void RecordedFrames::keepNewest(size_t n) {
  if (n == 0 || meta.size() <= n) return;
  size_t drop = meta.size() - n, drop_bytes = 0;
  for (size_t i = 0; i < drop; ++i) drop_bytes += meta[i].caplen;
  meta.erase(meta.begin(), meta.begin() + static_cast<ptrdiff_t>(drop));
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(drop_bytes));
}

// --------------------------------------------------------------------------- FrameRing

FrameRing::FrameRing(uint32_t frames, uint32_t snaplen)
    : frames_(std::max<uint32_t>(frames, 1)),
      snaplen_(snaplen),
      slots_(std::min(frames_, kInitialFrames)),
      limit_(frames_),
      meta_(new FrameMeta[slots_]),
      data_(new std::byte[size_t{slots_} * snaplen_]) {}

void FrameRing::grow() noexcept {
  // Full (count_ == slots_): the oldest frame is at next_. Lay the frames out oldest
  // first in the larger arrays, so the ring continues at count_.
  uint32_t bigger = frames_ / 2 < slots_ ? frames_ : slots_ * 2;
  std::unique_ptr<FrameMeta[]> meta;
  std::unique_ptr<std::byte[]> data;
  try {
    meta.reset(new FrameMeta[bigger]);
    data.reset(new std::byte[size_t{bigger} * snaplen_]);
  } catch (const std::bad_alloc&) {
    limit_ = slots_;  // keep the ring as it is (the oldest frame is replaced); no retries
    return;
  }
  for (uint32_t i = 0; i < count_; ++i) {
    uint32_t from = (next_ + i) % slots_;
    meta[i] = meta_[from];
    std::memcpy(&data[size_t{i} * snaplen_], &data_[size_t{from} * snaplen_], meta_[from].caplen);
  }
  meta_ = std::move(meta);
  data_ = std::move(data);
  next_ = count_;
  slots_ = bigger;
}

void FrameRing::copyTo(RecordedFrames& out) const {
  out.snaplen = std::max(out.snaplen, snaplen_);
  uint32_t first = (next_ + slots_ - count_) % slots_;
  for (uint32_t i = 0; i < count_; ++i) {
    uint32_t slot = (first + i) % slots_;
    const FrameMeta& m = meta_[slot];
    out.append(m, std::span(&data_[size_t{slot} * snaplen_], m.caplen));
  }
}

// ---------------------------------------------------------------------- FlightRecorder

FlightRecorder::FlightRecorder(uint32_t frames_per_jail, uint32_t snaplen)
    : frames_(frames_per_jail), snaplen_(snaplen) {}

void FlightRecorder::setAttribution(const Attribution& old, const Attribution& next) {
  std::vector<std::unique_ptr<FrameRing>> rings(next.size());
  for (uint32_t s = 0; s < old.size() && s < rings_.size(); ++s) {
    if (!rings_[s]) continue;
    uint32_t to = next.slotOf(old.name(s));
    if (to != kNoSlot) rings[to] = std::move(rings_[s]);
  }
  rings_ = std::move(rings);
}

size_t FlightRecorder::bytesAllocated() const {
  size_t bytes = 0;
  for (const auto& r : rings_)
    if (r) bytes += r->bytesAllocated();
  return bytes;
}

void FlightRecorder::recordFirst(uint32_t slot, const FrameMeta& meta, const std::byte* bytes) noexcept {
  if (slot >= rings_.size()) return;  // the table changed under a caller's slots: never here
  // The jail's first frame: the one allocation of its ring. Inside a pcap callback an
  // exception must not escape; a failed allocation is simply tried again next frame.
  std::unique_ptr<FrameRing>& ring = rings_[slot];
  try {
    ring = std::make_unique<FrameRing>(frames_, snaplen_);
  } catch (const std::bad_alloc&) {
    return;
  }
  ring->push(meta, bytes);
}

RecordedFrames FlightRecorder::copy(uint32_t slot) const {
  RecordedFrames out;
  out.snaplen = snaplen_;
  if (hasRing(slot)) rings_[slot]->copyTo(out);
  return out;
}

// ---------------------------------------------------------------------- pcap encoding

namespace {
template <class T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}
}  // namespace

void appendPcapFileHeader(std::string& out, uint32_t snaplen, uint32_t linktype) {
  put<uint32_t>(out, 0xa1b2c3d4);  // microsecond timestamps, in the writer's byte order
  put<uint16_t>(out, 2);           // version 2.4
  put<uint16_t>(out, 4);
  put<int32_t>(out, 0);  // thiszone: timestamps are UTC
  put<uint32_t>(out, 0);  // sigfigs
  put<uint32_t>(out, snaplen);
  put<uint32_t>(out, linktype);
}

void appendPcapRecord(std::string& out, const FrameMeta& meta, std::span<const std::byte> bytes, uint32_t snaplen) {
  uint32_t caplen = std::min<uint32_t>({meta.caplen, static_cast<uint32_t>(bytes.size()), snaplen});
  put<uint32_t>(out, static_cast<uint32_t>(meta.ts_sec));
  put<uint32_t>(out, meta.ts_usec);
  put<uint32_t>(out, caplen);
  put<uint32_t>(out, std::max(meta.len, caplen));
  out.append(reinterpret_cast<const char*>(bytes.data()), caplen);
}

}  // namespace vnetd::collectors
