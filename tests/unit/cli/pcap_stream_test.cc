#include "cli/vnetctl/pcap_stream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "collectors/flight_recorder.h"

namespace vnetd::cli {
namespace {

using collectors::FrameMeta;

// A stream as the daemon writes it: file header + `n` records of sizes 60, 61, ...
std::string stream(int n, uint32_t snaplen = 128) {
  std::string s;
  collectors::appendPcapFileHeader(s, snaplen);
  for (int i = 0; i < n; ++i) {
    std::vector<std::byte> frame(60 + i, std::byte{static_cast<unsigned char>(i)});
    collectors::appendPcapRecord(s, FrameMeta{1700000000 + i, 0, static_cast<uint32_t>(frame.size()), 1500}, frame,
                                 snaplen);
  }
  return s;
}

TEST(PcapStream, WholeStreamPassesThroughAndRecordsAreCounted) {
  PcapStream p;
  std::string out, in = stream(5);
  auto n = p.feed(in, out);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(out, in);
  EXPECT_TRUE(p.headerSeen());
  EXPECT_EQ(p.snaplen(), 128u);
  EXPECT_EQ(p.linktype(), 1u);
  EXPECT_EQ(p.records(), 5u);
  EXPECT_EQ(p.pending(), 0u);
}

TEST(PcapStream, AnyCutOnlyEverReleasesWholeUnits) {
  const std::string in = stream(4);
  // Header 24 bytes, records of 16 + 60..63 bytes: unit boundaries.
  std::vector<size_t> bounds = {24};
  for (int i = 0; i < 4; ++i) bounds.push_back(bounds.back() + 16 + 60 + i);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    PcapStream p;
    std::string out;
    ASSERT_TRUE(p.feed(std::string_view(in).substr(0, cut), out));
    // What came out is the longest prefix ending on a unit boundary.
    size_t expect = 0;
    for (size_t b : bounds)
      if (b <= cut) expect = b;
    EXPECT_EQ(out, in.substr(0, expect)) << "cut at " << cut;
    EXPECT_EQ(p.pending(), cut - expect);
    ASSERT_TRUE(p.feed(std::string_view(in).substr(cut), out));
    EXPECT_EQ(out, in) << "cut at " << cut;
    EXPECT_EQ(p.records(), 4u);
  }
  // Byte by byte.
  PcapStream p;
  std::string out;
  for (char c : in) ASSERT_TRUE(p.feed(std::string_view(&c, 1), out));
  EXPECT_EQ(out, in);
  EXPECT_EQ(p.records(), 4u);
}

TEST(PcapStream, OtherByteOrderAndNanosecondFilesAreAccepted) {
  std::string be(24, '\0');
  const unsigned char h[] = {0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 1};
  std::memcpy(be.data(), h, sizeof h);
  const unsigned char r[] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 60};
  be.append(reinterpret_cast<const char*>(r), sizeof r);
  be.append("abc");
  PcapStream p;
  std::string out;
  auto n = p.feed(be, out);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(p.snaplen(), 64u);
  EXPECT_EQ(out, be);
}

TEST(PcapStream, MalformedStreamsAreOneLineErrorsAndKeepWhatWasWhole) {
  {
    PcapStream p;
    std::string out;
    auto r = p.feed(std::string(24, 'x'), out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "vnetd sent no pcap stream (bad magic number)");
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(p.feed(stream(1), out)) << "unusable after an error";
  }
  {
    std::string s = stream(2, 64);
    // Third record claims 65 bytes with snaplen 64.
    const uint32_t rec[4] = {1, 0, 65, 65};
    s.append(reinterpret_cast<const char*>(rec), sizeof rec);
    PcapStream p;
    std::string out;
    auto r = p.feed(s, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "vnetd sent a pcap record of 65 bytes, more than the snapshot length 64");
    EXPECT_EQ(out, stream(2, 64)) << "the whole records before it were released";
    EXPECT_EQ(p.records(), 2u) << "and counted";
  }
  {
    std::string s = stream(0);
    const uint32_t rec[4] = {1, 0, 10, 9};
    s.append(reinterpret_cast<const char*>(rec), sizeof rec);
    PcapStream p;
    std::string out;
    auto r = p.feed(s, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "vnetd sent a pcap record longer (10 bytes) than its frame (9 bytes)");
  }
  {
    std::string s = stream(0);
    s[4] = 3;  // version 3
    PcapStream p;
    std::string out;
    EXPECT_FALSE(p.feed(s, out));
  }
  {
    // A huge snaplen in the header still caps a record at kMaxRecordBytes.
    std::string s;
    collectors::appendPcapFileHeader(s, 0x7fffffff);
    const uint32_t rec[4] = {1, 0, PcapStream::kMaxRecordBytes + 1, PcapStream::kMaxRecordBytes + 1};
    s.append(reinterpret_cast<const char*>(rec), sizeof rec);
    PcapStream p;
    std::string out;
    EXPECT_FALSE(p.feed(s, out));
  }
}

}  // namespace
}  // namespace vnetd::cli
