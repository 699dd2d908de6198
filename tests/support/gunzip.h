// Test helper: the text of one whole gzip member (what /metrics sends to a client that
// accepts gzip), or a message saying why the bytes are not one.
#pragma once

#include <zlib.h>

#include <string>

namespace vnetd::testing {

inline std::string gunzip(const std::string& gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return "inflateInit2 failed";
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return "not one whole gzip member";
  if (zs.avail_in != 0) return "bytes after the gzip member";
  return out;
}

}  // namespace vnetd::testing
