#include "exporters/http_encoding.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace vnetd::exporters {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == (y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
         });
}

// RFC 9110 12.4.2 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
// thousandths; -1 when malformed.
int qvalue(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int whole = v[0] - '0';
  if (v.size() == 1) return whole * 1000;
  if (v[1] != '.' || v.size() > 5) return -1;
  int frac = 0, digits = 0;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return -1;
    frac = frac * 10 + (c - '0');
    ++digits;
  }
  for (; digits < 3; ++digits) frac *= 10;
  if (whole == 1 && frac != 0) return -1;
  return whole * 1000 + frac;
}

// The weight of one list element "coding *( OWS ";" OWS name=value )": 1000 without q,
// 0 when any parameter is malformed (not acceptable rather than a guess).
int weight(std::string_view params) {
  int q = 1000;
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.empty()) continue;
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) return 0;
    if (iequals(trim(p.substr(0, eq)), "q")) {
      q = qvalue(trim(p.substr(eq + 1)));
      if (q < 0) return 0;
    }
  }
  return q;
}

}  // namespace

bool acceptsGzip(std::string_view header) {
  int gzip = -1, star = -1;  // the highest weight each is listed with; -1: not listed
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view element = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    size_t semi = element.find(';');
    std::string_view coding = trim(element.substr(0, semi));
    if (coding.empty()) continue;
    int q = weight(semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) gzip = std::max(gzip, q);
    else if (coding == "*") star = std::max(star, q);
  }
  return gzip > 0 || (gzip < 0 && star > 0);
}

Result<std::string> gzipCompress(std::string_view text, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer (zlib.h deflateInit2) instead of zlib's.
  // memLevel 9: zlib's fastest (its default, 8, saves 128 KiB at some speed).
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return plainError(std::string("gzip: deflateInit2 failed: ") + (zs.msg ? zs.msg : "out of memory"));
  struct End {
    z_stream* s;
    ~End() { deflateEnd(s); }
  } end{&zs};
  std::string out;
  // deflateBound: a size deflate never needs more than (zlib.h); its pages are only
  // touched as far as the output reaches.
  out.resize(deflateBound(&zs, static_cast<uLong>(text.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  // avail_in/avail_out are 32-bit: feed at most 1 GiB per call.
  constexpr size_t kStep = size_t{1} << 30;
  size_t in_left = text.size();
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.avail_in = static_cast<uInt>(std::min(in_left, kStep));
      in_left -= zs.avail_in;
    }
    size_t out_left = out.size() - static_cast<size_t>(reinterpret_cast<char*>(zs.next_out) - out.data());
    if (out_left == 0) return plainError("gzip: output larger than deflateBound");
    zs.avail_out = static_cast<uInt>(std::min(out_left, kStep));
    rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
  }
  if (rc != Z_STREAM_END) return plainError(std::string("gzip: deflate failed: ") + (zs.msg ? zs.msg : "error"));
  out.resize(zs.total_out);
  out.shrink_to_fit();  // the bound is ~the input's size; the member is ~1/20 of it
  return out;
}

}  // namespace vnetd::exporters
