#include "collectors/flight_recorder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace vnetd::collectors {
namespace {

// A frame whose bytes all equal `tag` (so a copy shows which frame it came from).
std::vector<std::byte> frame(uint8_t tag, size_t size) { return std::vector<std::byte>(size, std::byte{tag}); }

FrameMeta meta(int64_t sec, uint32_t usec, size_t caplen, uint32_t len = 0) {
  return FrameMeta{sec, usec, static_cast<uint32_t>(caplen), len ? len : static_cast<uint32_t>(caplen)};
}

// The tags of the frames in `r`, oldest first (first byte of each).
std::vector<int> tags(const RecordedFrames& r) {
  std::vector<int> out;
  size_t off = 0;
  for (const auto& m : r.meta) {
    out.push_back(m.caplen ? static_cast<int>(r.bytes[off]) : -1);
    off += m.caplen;
  }
  EXPECT_EQ(off, r.bytes.size());
  return out;
}

MacBytes mac(uint8_t last) { return MacBytes{0x02, 0, 0, 0, 0, last}; }

TEST(FrameRing, KeepsTheLastFramesInOrderAcrossWrapAround) {
  FrameRing ring(4, 64);
  RecordedFrames empty;
  ring.copyTo(empty);
  EXPECT_TRUE(empty.meta.empty());
  for (uint8_t i = 1; i <= 3; ++i) ring.push(meta(i, 0, 10), frame(i, 10).data());
  RecordedFrames three;
  ring.copyTo(three);
  EXPECT_EQ(tags(three), (std::vector<int>{1, 2, 3}));
  for (uint8_t i = 4; i <= 10; ++i) ring.push(meta(i, 0, 10 + i), frame(i, 10 + i).data());
  RecordedFrames last;
  ring.copyTo(last);
  EXPECT_EQ(ring.size(), 4u);
  EXPECT_EQ(tags(last), (std::vector<int>{7, 8, 9, 10}));
  ASSERT_EQ(last.meta.size(), 4u);
  EXPECT_EQ(last.meta[0].ts_sec, 7);
  EXPECT_EQ(last.meta[3].caplen, 20u);
  EXPECT_EQ(last.bytes.size(), 17u + 18 + 19 + 20);
}

TEST(FrameRing, TruncatesToSnaplenAndKeepsTheWireLength) {
  FrameRing ring(2, 16);
  auto big = frame(9, 100);
  ring.push(meta(1, 5, 100, 1500), big.data());
  RecordedFrames r;
  ring.copyTo(r);
  ASSERT_EQ(r.meta.size(), 1u);
  EXPECT_EQ(r.meta[0].caplen, 16u);
  EXPECT_EQ(r.meta[0].len, 1500u);
  EXPECT_EQ(r.meta[0].ts_usec, 5u);
  EXPECT_EQ(r.bytes.size(), 16u);
  EXPECT_EQ(r.snaplen, 16u);
}

TEST(FrameRing, MemoryIsSlotsTimesSnaplenPlusTheRecordHeader) {
  FrameRing ring(1000, 128);
  // A new ring has kInitialFrames slots: a jail that sent a few frames costs 16, not 1000.
  EXPECT_EQ(ring.allocatedFrames(), FrameRing::kInitialFrames);
  EXPECT_EQ(ring.bytesAllocated(), 16u * (128 + sizeof(FrameMeta)));
  EXPECT_EQ(FrameRing::bytesFor(16, 128), ring.bytesAllocated());
  EXPECT_EQ(sizeof(FrameMeta), 24u);  // docs/metrics.md states it
}

// The ring doubles when full until it holds `frames`, keeping every frame in order
// across each growth, and then wraps at exactly `frames`.
TEST(FrameRing, GrowsByDoublingToItsLimitKeepingEveryFrameInOrder) {
  FrameRing ring(40, 16);
  std::vector<int> expected;
  for (int i = 1; i <= 100; ++i) {
    ring.push(meta(i, 0, 16), frame(static_cast<uint8_t>(i), 16).data());
    expected.push_back(i);
    if (expected.size() > 40) expected.erase(expected.begin());
    uint32_t want = i <= 16 ? 16 : i <= 32 ? 32 : 40;
    ASSERT_EQ(ring.allocatedFrames(), want) << "after " << i << " frames";
    RecordedFrames r;
    ring.copyTo(r);
    ASSERT_EQ(tags(r), expected) << "after " << i << " frames";
  }
  EXPECT_EQ(ring.size(), 40u);
  EXPECT_EQ(ring.bytesAllocated(), FrameRing::bytesFor(40, 16));
}

TEST(FlightRecorder, AllocatesARingAtAJailsFirstFrameOnlyAndAccountsForIt) {
  auto table = Attribution::build({{mac(1), "a"}, {mac(2), "b"}, {mac(3), "c"}});
  FlightRecorder rec(8, 32);
  rec.setAttribution(*Attribution::build({}), *table);
  EXPECT_EQ(rec.bytesAllocated(), 0u);
  EXPECT_FALSE(rec.hasRing(0));
  auto f = frame(1, 60);
  // a → outside: only a's ring.
  rec.add(table->slotOf("a"), kNoSlot, meta(1, 0, 60), f.data());
  EXPECT_TRUE(rec.hasRing(table->slotOf("a")));
  EXPECT_FALSE(rec.hasRing(table->slotOf("b")));
  EXPECT_EQ(rec.bytesAllocated(), FrameRing::bytesFor(8, 32));  // 8 < kInitialFrames: all at once
  // a → b: both rings; c never sends or receives: no ring, no memory.
  auto g = frame(2, 60);
  rec.add(table->slotOf("a"), table->slotOf("b"), meta(2, 0, 60), g.data());
  EXPECT_EQ(rec.bytesAllocated(), 2 * FrameRing::bytesFor(8, 32));
  EXPECT_FALSE(rec.hasRing(table->slotOf("c")));
  EXPECT_EQ(tags(rec.copy(table->slotOf("a"))), (std::vector<int>{1, 2}));
  EXPECT_EQ(tags(rec.copy(table->slotOf("b"))), (std::vector<int>{2}));
  EXPECT_TRUE(rec.copy(table->slotOf("c")).meta.empty());
  EXPECT_TRUE(rec.copy(kNoSlot).meta.empty());
  // A jail talking to itself (same slot both ways) is recorded once.
  rec.add(table->slotOf("b"), table->slotOf("b"), meta(3, 0, 60), frame(3, 60).data());
  EXPECT_EQ(tags(rec.copy(table->slotOf("b"))), (std::vector<int>{2, 3}));
}

TEST(FlightRecorder, RingsFollowTheirJailAcrossAttributionChangesAndDepartedJailsFreeTheirs) {
  auto before = Attribution::build({{mac(1), "b"}, {mac(2), "c"}});
  FlightRecorder rec(4, 32);
  rec.setAttribution(*Attribution::build({}), *before);
  rec.add(before->slotOf("b"), kNoSlot, meta(1, 0, 40), frame(7, 40).data());
  rec.add(before->slotOf("c"), kNoSlot, meta(1, 0, 40), frame(8, 40).data());
  EXPECT_EQ(rec.bytesAllocated(), 2 * FrameRing::bytesFor(4, 32));
  // "a" arrives (shifting b's slot), "c" leaves.
  auto after = Attribution::build({{mac(3), "a"}, {mac(1), "b"}});
  rec.setAttribution(*before, *after);
  EXPECT_EQ(rec.bytesAllocated(), FrameRing::bytesFor(4, 32));
  EXPECT_EQ(tags(rec.copy(after->slotOf("b"))), (std::vector<int>{7}));
  EXPECT_TRUE(rec.copy(after->slotOf("a")).meta.empty());
}

TEST(FlightRecorder, OffRecordsNothingAndAllocatesNothing) {
  auto table = Attribution::build({{mac(1), "a"}});
  FlightRecorder rec(0, 128);
  rec.setAttribution(*Attribution::build({}), *table);
  EXPECT_FALSE(rec.enabled());
  rec.add(0, kNoSlot, meta(1, 0, 60), frame(1, 60).data());
  EXPECT_EQ(rec.bytesAllocated(), 0u);
  EXPECT_TRUE(rec.copy(0).meta.empty());
}

TEST(RecordedFrames, MergeKeepsTheSampleRate) {
  RecordedFrames x, y;
  x.sample = 64;
  EXPECT_EQ(RecordedFrames::merge({x, y}).sample, 64u);
  EXPECT_EQ(RecordedFrames::merge({y}).sample, 1u);
}

TEST(RecordedFrames, MergeIsInTimeOrderAndKeepNewestDropsTheOldest) {
  RecordedFrames x, y;
  x.snaplen = y.snaplen = 64;
  x.append(meta(1, 10, 3), frame(1, 3));
  x.append(meta(2, 0, 3), frame(3, 3));
  y.append(meta(1, 20, 5), frame(2, 5));
  y.append(meta(3, 0, 5), frame(4, 5));
  auto m = RecordedFrames::merge({x, y});
  EXPECT_EQ(tags(m), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(m.bytes.size(), 16u);
  m.keepNewest(2);
  EXPECT_EQ(tags(m), (std::vector<int>{3, 4}));
  m.keepNewest(0);
  EXPECT_EQ(m.meta.size(), 2u);
  EXPECT_TRUE(RecordedFrames::merge({}).meta.empty());
}

TEST(PcapEncoding, FileHeaderAndRecordsAreWhatLibpcapWrites) {
  std::string out;
  appendPcapFileHeader(out, 96);
  ASSERT_EQ(out.size(), kPcapFileHeaderBytes);
  uint32_t magic, snaplen, linktype;
  uint16_t major, minor;
  std::memcpy(&magic, out.data(), 4);
  std::memcpy(&major, out.data() + 4, 2);
  std::memcpy(&minor, out.data() + 6, 2);
  std::memcpy(&snaplen, out.data() + 16, 4);
  std::memcpy(&linktype, out.data() + 20, 4);
  EXPECT_EQ(magic, 0xa1b2c3d4u);
  EXPECT_EQ(major, 2);
  EXPECT_EQ(minor, 4);
  EXPECT_EQ(snaplen, 96u);
  EXPECT_EQ(linktype, kLinktypeEthernet);

  auto f = frame(5, 200);
  appendPcapRecord(out, meta(1700000000, 123456, 200, 1514), f, 96);
  ASSERT_EQ(out.size(), kPcapFileHeaderBytes + kPcapRecordHeaderBytes + 96);
  uint32_t rec[4];
  std::memcpy(rec, out.data() + kPcapFileHeaderBytes, sizeof rec);
  EXPECT_EQ(rec[0], 1700000000u);
  EXPECT_EQ(rec[1], 123456u);
  EXPECT_EQ(rec[2], 96u) << "cut to the file's snaplen";
  EXPECT_EQ(rec[3], 1514u);
}

}  // namespace
}  // namespace vnetd::collectors
