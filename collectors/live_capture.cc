#include "collectors/live_capture.h"

#include <pcap.h>

#include <algorithm>
#include <climits>

namespace vnetd::collectors {
namespace {

// The handle's buffer: room for a few hundred full-size frames between two reads.
constexpr int kLiveBufferBytes = 2 << 20;
// Immediate mode delivers frames at once; the timeout only matters where it is ignored.
constexpr int kLiveTimeoutMs = 100;

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
using Pcap = std::unique_ptr<pcap_t, PcapCloser>;

// A compiled program, freed with its owner.
struct Program {
  bpf_program prog{};
  bool compiled = false;
  ~Program() {
    if (compiled) pcap_freecode(&prog);
  }
};

// Compiles `expression` on `p` (a live or a dead handle); the error is pcap's message.
Result<void> compile(pcap_t* p, const std::string& expression, Program& out) {
  if (pcap_compile(p, &out.prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    return plainError(std::string("invalid capture filter: ") + pcap_geterr(p));
  out.compiled = true;
  return success();
}

struct Sink {
  std::string* out;
  uint32_t snaplen;
};

void onFrame(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* sink = reinterpret_cast<Sink*>(user);
  FrameMeta meta{static_cast<int64_t>(h->ts.tv_sec), static_cast<uint32_t>(h->ts.tv_usec), h->caplen, h->len};
  appendPcapRecord(*sink->out, meta, std::span(reinterpret_cast<const std::byte*>(bytes), h->caplen),
                   sink->snaplen);
}

}  // namespace

struct LiveCapture::Handle {
  std::string bridge;
  Pcap pcap;
};

Result<std::unique_ptr<LiveCapture>> LiveCapture::open(const std::vector<std::string>& bridges, uint32_t snaplen,
                                                       const std::string& expression) {
  std::unique_ptr<LiveCapture> live(new LiveCapture());
  live->snaplen_ = snaplen;
  for (const auto& bridge : bridges) {
    char err[PCAP_ERRBUF_SIZE] = "";
    Pcap p(pcap_create(bridge.c_str(), err));
    if (!p) return plainError("capture on " + bridge + ": " + err);
    pcap_set_snaplen(p.get(), static_cast<int>(snaplen));
    pcap_set_promisc(p.get(), 1);
    pcap_set_immediate_mode(p.get(), 1);
    pcap_set_buffer_size(p.get(), kLiveBufferBytes);
    pcap_set_timeout(p.get(), kLiveTimeoutMs);
    int rc = pcap_activate(p.get());
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) return plainError("capture on " + bridge + ": the bridge does not exist");
    if (rc < 0)
      return plainError("capture on " + bridge + ": " + pcap_statustostr(rc) + ": " + pcap_geterr(p.get()));
    if (pcap_datalink(p.get()) != DLT_EN10MB)
      return plainError("capture on " + bridge + ": not an Ethernet interface (pcap link type " +
                        std::to_string(pcap_datalink(p.get())) + ")");
    // The kernel filter: frames of other jails never reach this process. libpcap drops
    // what the ring caught before the filter was set, so none leaks into the stream.
    Program prog;
    VNETD_TRY(compile(p.get(), expression, prog));
    if (pcap_setfilter(p.get(), &prog.prog) != 0)
      return plainError("capture on " + bridge + ": cannot set the filter: " + pcap_geterr(p.get()));
    if (pcap_setnonblock(p.get(), 1, err) != 0) return plainError("capture on " + bridge + ": " + err);
    int fd = pcap_get_selectable_fd(p.get());
    if (fd < 0) return plainError("capture on " + bridge + ": no descriptor to poll");
    live->fds_.push_back(fd);
    live->handles_.push_back(std::make_unique<Handle>(Handle{bridge, std::move(p)}));
  }
  return live;
}

LiveCapture::~LiveCapture() = default;

Result<size_t> LiveCapture::dispatch(std::string& out, size_t max_frames) {
  size_t total = 0;
  Sink sink{&out, snaplen_};
  for (auto& h : handles_) {
    if (total >= max_frames) break;
    int want = static_cast<int>(std::min<size_t>(max_frames - total, INT_MAX));
    int n = pcap_dispatch(h->pcap.get(), want, &onFrame, reinterpret_cast<u_char*>(&sink));
    if (n < 0) return plainError("capture on " + h->bridge + ": " + pcap_geterr(h->pcap.get()));
    total += static_cast<size_t>(n);
  }
  return total;
}

Result<void> checkCaptureFilter(const std::string& filter) {
  if (filter.empty()) return success();
  Pcap dead(pcap_open_dead(DLT_EN10MB, 65535));
  if (!dead) return plainError("cannot compile the capture filter: out of memory");
  Program prog;
  return compile(dead.get(), filter, prog);
}

Result<RecordedFrames> filterRecordedFrames(RecordedFrames frames, const std::string& filter) {
  if (filter.empty()) return frames;
  Pcap dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(std::max<uint32_t>(frames.snaplen, 1))));
  if (!dead) return plainError("cannot compile the capture filter: out of memory");
  Program prog;
  VNETD_TRY(compile(dead.get(), filter, prog));
  RecordedFrames kept;
  kept.snaplen = frames.snaplen;
  kept.sample = frames.sample;
  size_t offset = 0;
  for (const auto& m : frames.meta) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<decltype(h.ts.tv_sec)>(m.ts_sec);
    h.ts.tv_usec = static_cast<decltype(h.ts.tv_usec)>(m.ts_usec);
    h.caplen = m.caplen;
    h.len = m.len;
    const auto* bytes = frames.bytes.data() + offset;
    if (pcap_offline_filter(&prog.prog, &h, reinterpret_cast<const u_char*>(bytes)) != 0)
      kept.append(m, std::span(bytes, m.caplen));
    offset += m.caplen;
  }
  return kept;
}

}  // namespace vnetd::collectors
