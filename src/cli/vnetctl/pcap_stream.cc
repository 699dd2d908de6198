#include "cli/vnetctl/pcap_stream.h"

#include <algorithm>
#include <cstring>

namespace vnetd::cli {
namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;

uint32_t swap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

}  // namespace

uint32_t PcapStream::word(std::string_view b, size_t at) const {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return swapped_ ? swap32(v) : v;
}

Result<void> PcapStream::parseFileHeader(std::string_view h) {
  uint32_t magic;
  std::memcpy(&magic, h.data(), 4);
  if (magic == kMagicMicro || magic == kMagicNano) swapped_ = false;
  else if (swap32(magic) == kMagicMicro || swap32(magic) == kMagicNano) swapped_ = true;
  else return plainError("vnetd sent no pcap stream (bad magic number)");
  uint16_t major;
  std::memcpy(&major, h.data() + 4, 2);
  if (swapped_) major = static_cast<uint16_t>((major >> 8) | (major << 8));
  if (major != 2) return plainError("vnetd sent a pcap stream of unknown version " + std::to_string(major));
  snaplen_ = word(h, 16);
  linktype_ = word(h, 20);
  if (snaplen_ == 0) return plainError("vnetd sent a pcap stream with snapshot length 0");
  return success();
}

Result<size_t> PcapStream::feed(std::string_view in, std::string& out) {
  if (failed_) return plainError("the pcap stream was already malformed");
  buffer_.append(in);
  size_t done = 0, records = 0;
  auto fail = [&](Error e) -> Result<size_t> {
    failed_ = true;
    buffer_.erase(0, done);
    records_ += records;  // the whole ones before the error did go out
    return e;
  };
  std::string_view b = buffer_;
  if (!header_seen_) {
    if (b.size() < kFileHeaderBytes) return size_t{0};
    if (auto r = parseFileHeader(b.substr(0, kFileHeaderBytes)); !r) return fail(r.error());
    out.append(b.substr(0, kFileHeaderBytes));
    header_seen_ = true;
    done = kFileHeaderBytes;
  }
  const uint32_t limit = std::min(snaplen_, kMaxRecordBytes);
  while (b.size() - done >= kRecordHeaderBytes) {
    uint32_t caplen = word(b, done + 8), len = word(b, done + 12);
    if (caplen > limit)
      return fail(plainError("vnetd sent a pcap record of " + std::to_string(caplen) +
                             " bytes, more than the snapshot length " + std::to_string(limit)));
    if (caplen > len)
      return fail(plainError("vnetd sent a pcap record longer (" + std::to_string(caplen) +
                             " bytes) than its frame (" + std::to_string(len) + " bytes)"));
    size_t unit = kRecordHeaderBytes + caplen;
    if (b.size() - done < unit) break;
    out.append(b.substr(done, unit));
    done += unit;
    ++records;
  }
  buffer_.erase(0, done);
  records_ += records;
  return records;
}

}  // namespace vnetd::cli
