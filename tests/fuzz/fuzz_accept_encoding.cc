// Fuzzes the Accept-Encoding parser of /metrics (exporters/http_encoding.h), the only part
// of a scrape request vnetd reads besides the path: any bytes give an answer, never a crash.
// The same bytes are gzipped and must decode to themselves (zlib's inflate is the judge).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "exporters/http_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool gzip = vnetd::exporters::acceptsGzip(text);
  // Properties: another coding listed after the rest changes nothing, nor does the case
  // of the letters (names and the q parameter are case-insensitive).
  if (vnetd::exporters::acceptsGzip(std::string(text) + ",identity") != gzip) std::abort();
  std::string upper(text);
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (vnetd::exporters::acceptsGzip(upper) != gzip) std::abort();
  auto gz = vnetd::exporters::gzipCompress(text);
  if (!gz) std::abort();
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) std::abort();
  std::string out(size + 1, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(gz->data());
  zs.avail_in = static_cast<uInt>(gz->size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  size_t produced = out.size() - zs.avail_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != size || out.compare(0, size, text) != 0) std::abort();
  return 0;
}
