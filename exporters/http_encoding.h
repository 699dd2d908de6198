// HTTP content coding for /metrics: does the client take gzip (its Accept-Encoding), and
// the gzip (RFC 1952) encoding of a body. Prometheus asks for gzip on every scrape
// (Accept-Encoding: gzip); at 1000 jails the text is ~5 MB and gzip makes it ~20 times
// smaller.
//
// Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace vnetd::exporters {

// RFC 9110 12.5.3: `header` (the value of Accept-Encoding; several headers joined with ",")
// is a list of codings, each with an optional weight ";q=VALUE". True when gzip (or its
// alias x-gzip) is listed with a weight above 0, or "*" is and gzip is not refused by name.
// Names are case-insensitive; anything malformed counts as not acceptable, never an error.
bool acceptsGzip(std::string_view header);

// zlib level 1 (the fastest: the daemon compresses on its event loop) by default.
inline constexpr int kGzipLevel = 1;

// The gzip member holding `text`. An error only when zlib fails (out of memory).
Result<std::string> gzipCompress(std::string_view text, int level = kGzipLevel);

}  // namespace vnetd::exporters
