// The client's view of a pcap byte stream (`vnetctl capture`): the daemon sends the bytes
// of a pcap file — a 24-byte file header, then records of a 16-byte header and caplen
// bytes each — over the control socket, cut wherever the socket cuts it. This parser
// frames it so that vnetctl writes only whole records (a file cut by Ctrl-C or a dying
// daemon still opens in tcpdump -r) and counts them.
//
// Pure and incremental: bytes in, complete units out. Outside bytes: validated (magic,
// version, snapshot length, record lengths) and fuzzed (tests/fuzz/fuzz_pcap_stream.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace vnetd::cli {

class PcapStream {
 public:
  // The largest record accepted whatever the file header says (libpcap's own maximum
  // snapshot length): a corrupt length cannot make us buffer gigabytes.
  static constexpr uint32_t kMaxRecordBytes = 262144;
  static constexpr size_t kFileHeaderBytes = 24;
  static constexpr size_t kRecordHeaderBytes = 16;

  // Consumes `in`; appends to `out` every unit it completes (the file header, whole
  // records) exactly as received, and returns how many records that was. Bytes of an
  // unfinished unit wait inside for the next call. Errors (one line) leave `out` as it
  // was after the last complete unit; the stream is unusable afterwards.
  Result<size_t> feed(std::string_view in, std::string& out);

  bool headerSeen() const { return header_seen_; }
  uint64_t records() const { return records_; }
  uint32_t snaplen() const { return snaplen_; }
  uint32_t linktype() const { return linktype_; }
  // Bytes held of an unfinished unit (what a cut stream loses).
  size_t pending() const { return buffer_.size(); }

 private:
  Result<void> parseFileHeader(std::string_view h);
  uint32_t word(std::string_view b, size_t at) const;

  std::string buffer_;
  bool header_seen_ = false, swapped_ = false, failed_ = false;
  uint32_t snaplen_ = 0, linktype_ = 0;
  uint64_t records_ = 0;
};

}  // namespace vnetd::cli
