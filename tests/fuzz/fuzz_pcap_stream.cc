// Fuzzes vnetctl's pcap stream framing (src/cli/vnetctl/pcap_stream.h): arbitrary bytes,
// cut at an arbitrary point, never crash; what comes out is always a prefix of what went
// in, ends on a unit boundary (re-parsing it yields the same records and nothing
// pending), and does not depend on where the input was cut.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/vnetctl/pcap_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vnetd::cli::PcapStream;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = size ? data[0] % (size + 1) : 0;

  PcapStream whole;
  std::string out_whole;
  auto r = whole.feed(in, out_whole);

  PcapStream split;
  std::string out_split;
  auto a = split.feed(in.substr(0, cut), out_split);
  if (a) (void)split.feed(in.substr(cut), out_split);

  if (in.substr(0, out_whole.size()) != out_whole) std::abort();
  if (r && out_split != out_whole) std::abort();
  if (r && whole.pending() + out_whole.size() != size) std::abort();
  if (!r && r.error().message().find('\n') != std::string::npos) std::abort();

  PcapStream again;
  std::string out_again;
  auto b = again.feed(out_whole, out_again);
  if (!b || out_again != out_whole || again.pending() != 0 || again.records() != whole.records()) std::abort();
  return 0;
}
