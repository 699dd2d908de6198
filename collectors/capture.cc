#include "collectors/capture.h"

#include "collectors/capture_filter.h"
#include "collectors/guard_worker.h"
#include "collectors/sample_filter.h"
#include "platform/capture_direction.h"
#include "platform/host.h"
#include "platform/sample_selection.h"

#include <fcntl.h>
#include <pcap.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "core/log.h"
#include "core/unique_fd.h"

namespace vnetd::collectors {
namespace {

// The kernel hands a partly filled capture buffer over after this long (TPACKET_V3 block
// retire timeout, BPF read timeout): the latency of frames on a quiet bridge.
constexpr int kBufferTimeoutMs = 100;
constexpr std::chrono::seconds kRetryPeriod{1};
constexpr int kSampledTickMs = 10;  // a sampled capture dispatches at most this often

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
using Pcap = std::unique_ptr<pcap_t, PcapCloser>;

// Installs the kernel filter of a sampled capture (collectors/sample_filter.h): the frames
// it drops are never copied into the capture buffer. The selection is the OS's
// (platform/sample_selection.h).
//   Random numbers (Linux): attached past libpcap (platform::attachKernelFilter says why:
//   libpcap would run the program over the first ring block in user space, where the
//   random load rejects every frame). The ring may still hold frames from before, taken
//   unsampled: `skip_before` is set to the time the filter was in place, and onFrame skips
//   frames stamped earlier. A kernel that refuses the random load gets the header hash.
//   Header hash: through pcap_setfilter — libpcap runs the same program in user space over
//   what the buffer held before (Linux) or the kernel discards it (FreeBSD BIOCSETF,
//   bpf_setf -> reset_d); where the OS can tell, the kernel's copy is checked (a refusal
//   would leave libpcap filtering in user space, after the copy).
// False with `problem` set when no filter could be installed.
bool installSampleFilter(pcap_t* p, const std::string& bridge, const CaptureConfig& c, std::string& problem,
                         timeval& skip_before) {
  skip_before = timeval{};
  if (platform::sampleSelection() == platform::SampleSelection::kKernelRandom) {
    std::vector<platform::ClassicInsn> code;
    for (const bpf_insn& i : sampleFilterRandom(c.sample, c.snaplen)) code.push_back({i.code, i.jt, i.jf, i.k});
    auto attached = platform::attachKernelFilter(pcap_fileno(p), code);
    if (attached) {
      ::gettimeofday(&skip_before, nullptr);  // the clock of pcap's timestamps (PCAP_TSTAMP_HOST)
      VNETD_LOG_INFO("capture on %s: sampling 1 frame in %u in the kernel, by a random number per frame",
                     bridge.c_str(), c.sample);
      return true;
    }
    VNETD_LOG_WARN("capture on %s: %s; sampling by a hash of the header bytes instead (docs/metrics.md, "
                   "\"Sampled capture\")",
                   bridge.c_str(), attached.error().message().c_str());
  }
  std::vector<bpf_insn> code = sampleFilterHash(c.sample, c.snaplen);
  bpf_program prog{static_cast<u_int>(code.size()), code.data()};
  if (pcap_setfilter(p, &prog) != 0) {
    problem = std::string("cannot install the sampling filter ([capture] sample = ") + std::to_string(c.sample) +
              "): " + pcap_geterr(p);
    return false;
  }
  auto held = platform::kernelFilterLength(pcap_fileno(p));
  if (held && *held && **held != code.size()) {
    problem = "the kernel did not take the sampling filter ([capture] sample = " + std::to_string(c.sample) +
              "; it holds " + std::to_string(**held) + " instructions, not " + std::to_string(code.size()) + ")";
    return false;
  }
  VNETD_LOG_INFO("capture on %s: sampling 1 frame in %u in the kernel, by a hash of its header bytes", bridge.c_str(),
                 c.sample);
  return true;
}

}  // namespace

bool installCaptureFilter(pcap_t* p, const std::string& bridge, const CaptureConfig& c, std::string& problem,
                          timeval& skip_before) {
  if (c.sample > 1) return installSampleFilter(p, bridge, c, problem, skip_before);
  skip_before = timeval{};
  // Every frame, cut to snaplen by the kernel: without a filter Linux copies each frame
  // whole into the ring (net/packet/af_packet.c tpacket_rcv: the copy is skb->len unless
  // a filter returns less, up to the ring's frame size), and with segmentation offload a
  // frame is a super-frame of up to 64 KiB — a TCP stream between two jails filled the
  // ring with them (3 % dropped, 0.35 s of capture CPU in 2 s, the stream 20-55 % slower;
  // with this filter: none dropped, 0.01 s). libpcap truncates only in user space there.
  // BPF platforms get the same program from libpcap at activation already
  // (pcap-bpf.c pcap_activate_bpf installs "accept everything" with the snapshot length;
  // FreeBSD sys/net/bpf.c catchpacket then copies min(what the filter returned, the
  // frame's length)): installing it again there changes nothing.
  bpf_insn keep{static_cast<u_short>(BPF_RET | BPF_K), 0, 0, c.snaplen};
  bpf_program prog{1, &keep};
  if (pcap_setfilter(p, &prog) != 0) {
    // Not fatal: the capture still counts every frame, at the cost above.
    VNETD_LOG_WARN("capture on %s: cannot have the kernel cut frames to %u bytes: %s", bridge.c_str(), c.snaplen,
                   pcap_geterr(p));
  }
  return true;
}

namespace {

// Opens a capture on `bridge`; on failure null, with `problem` set and `absent` telling
// whether the interface simply does not exist (yet).
// `skip_before`: frames stamped before it are from before the sampling filter (zero: none).
Pcap openBridge(const std::string& bridge, const CaptureConfig& c, std::string& problem, bool& absent,
                timeval& skip_before) {
  absent = false;
  char err[PCAP_ERRBUF_SIZE] = "";
  Pcap p(pcap_create(bridge.c_str(), err));
  if (!p) {
    problem = err;
    return nullptr;
  }
  pcap_set_snaplen(p.get(), static_cast<int>(c.snaplen));
  // A request: FreeBSD clamps it to net.bpf.maxbufsize without a word, TPACKET_V3 rounds
  // it to whole ring blocks. What the kernel granted is read back after activation
  // (Impl::readBuffer, platform::captureBufferBytes).
  pcap_set_buffer_size(p.get(), static_cast<int>(c.buffer_bytes));
  // A Linux bridge passes the frames it forwards between ports to a capture only when
  // promiscuous (measured). The membership ends with the capture.
  pcap_set_promisc(p.get(), 1);
  // Batches, not a wake-up per frame; the timeout bounds the delay on a quiet bridge.
  pcap_set_immediate_mode(p.get(), 0);
  pcap_set_timeout(p.get(), kBufferTimeoutMs);
  int rc = pcap_activate(p.get());
  if (rc < 0) {
    absent = rc == PCAP_ERROR_NO_SUCH_DEVICE;
    problem = absent ? "the interface does not exist"
                     : std::string(pcap_statustostr(rc)) + ": " + pcap_geterr(p.get());
    return nullptr;
  }
  if (rc > 0)
    VNETD_LOG_WARN("capture on %s: %s: %s", bridge.c_str(), pcap_statustostr(rc), pcap_geterr(p.get()));
  if (pcap_datalink(p.get()) != DLT_EN10MB) {
    problem = "not an Ethernet interface (pcap link type " + std::to_string(pcap_datalink(p.get())) + ")";
    return nullptr;
  }
  skip_before = timeval{};
  if (!installCaptureFilter(p.get(), bridge, c, problem, skip_before)) return nullptr;
  return p;
}

// Opens a spoofing guard on a jail's port `interface`: only frames coming IN from the jail
// (PCAP_D_IN: on the host side of the pair, what the jail transmits), and of those only the
// ones whose source MAC is not `mac` — the kernel filter drops every honest frame, so a
// guard costs nothing per frame until a jail changes its MAC. 64 bytes of each frame (the
// Ethernet header is all it reads), immediate delivery (a guard must see a frame before
// the bridge capture's buffer timeout hands the same frame over: see run()), a 32 KiB
// buffer (one per jail port: 500 jails hold 16 MiB and 500 descriptors), not promiscuous
// (a bridge port is promiscuous already). Null with `problem` set on failure.
Pcap openGuard(const std::string& interface, const MacBytes& mac, std::string& problem) {
  char err[PCAP_ERRBUF_SIZE] = "";
  Pcap p(pcap_create(interface.c_str(), err));
  if (!p) {
    problem = err;
    return nullptr;
  }
  pcap_set_snaplen(p.get(), 64);
  pcap_set_buffer_size(p.get(), 32 * 1024);  // hundreds of 64-byte frames; jails x this in all
  pcap_set_promisc(p.get(), 0);
  pcap_set_immediate_mode(p.get(), 1);
  int rc = pcap_activate(p.get());
  if (rc < 0) {
    problem = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "the interface does not exist"
                                              : std::string(pcap_statustostr(rc)) + ": " + pcap_geterr(p.get());
    return nullptr;
  }
  if (pcap_datalink(p.get()) != DLT_EN10MB) {
    problem = "not an Ethernet interface";
    return nullptr;
  }
  char text[64];
  std::snprintf(text, sizeof text, "not ether src %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  bpf_program prog{};
  if (pcap_setdirection(p.get(), PCAP_D_IN) != 0 ||
      pcap_compile(p.get(), &prog, text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    problem = pcap_geterr(p.get());
    return nullptr;
  }
  rc = pcap_setfilter(p.get(), &prog);
  pcap_freecode(&prog);
  // The frames the jail receives are not the guard's business: the kernel is told not to
  // hand them over at all (platform/capture_direction.h: on Linux each would otherwise be
  // cloned and copied into the guard's ring, for libpcap to drop). A kernel without the
  // option still works, at that cost.
  if (rc == 0) {
    if (auto r = platform::ignoreOutgoing(pcap_fileno(p.get())); !r)
      VNETD_LOG_DEBUG("spoofing guard on %s: %s", interface.c_str(), r.error().message().c_str());
  }
  if (rc != 0 || pcap_setnonblock(p.get(), 1, err) != 0 || pcap_get_selectable_fd(p.get()) < 0) {
    problem = rc != 0 ? pcap_geterr(p.get()) : "cannot poll the capture";
    return nullptr;
  }
  return p;
}

std::string macText(const MacBytes& m) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return text;
}


}  // namespace

// ---------------------------------------------------------------------- CaptureChannel

void CaptureChannel::setAttribution(std::shared_ptr<const Attribution> table) {
  std::atomic_store_explicit(&attribution_, std::move(table), std::memory_order_release);
}
std::shared_ptr<const Attribution> CaptureChannel::attribution() const {
  return std::atomic_load_explicit(&attribution_, std::memory_order_acquire);
}
void CaptureChannel::publish(std::shared_ptr<const CaptureSnapshot> snapshot) {
  std::atomic_store_explicit(&snapshot_, std::move(snapshot), std::memory_order_release);
}
std::shared_ptr<const CaptureSnapshot> CaptureChannel::snapshot() const {
  return std::atomic_load_explicit(&snapshot_, std::memory_order_acquire);
}
void CaptureChannel::queueRequest(RecorderRequest request) {
  std::lock_guard lock(requests_mutex_);
  requests_.push_back(std::move(request));
  has_requests_.store(true, std::memory_order_release);
}
std::vector<CaptureChannel::RecorderRequest> CaptureChannel::takeRequests() {
  std::lock_guard lock(requests_mutex_);
  has_requests_.store(false, std::memory_order_relaxed);
  return std::exchange(requests_, {});
}

// ----------------------------------------------------------------------- BridgeCapture

// Why the capture polls its descriptor itself instead of letting pcap_dispatch block:
// on Linux, libpcap waits for TPACKET_V3 blocks with an infinite poll timeout (the
// kernel's block timer is meant to wake it), so a blocking pcap_dispatch on a quiet
// bridge never returns — no publication, and counts of the last burst stuck until the
// next frame (measured). Non-blocking dispatch + poll(2) on the capture's selectable fd
// and a wake-up pipe: frames as the kernel hands them over (block timeout / BPF read
// timeout), publication on time, and a stop that never waits.
struct BridgeCapture::Impl {
  Impl(const CaptureConfig& c, std::shared_ptr<CaptureChannel> ch)
      : config(c),
        channel(std::move(ch)),
        aggregator(c.max_flows, c.flow_idle_timeout_seconds),
        recorder(c.flight_recorder_packets, c.snaplen),
        started(std::chrono::steady_clock::now()) {
    pending.reserve(kMaxPending);
    int fds[2];
    if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "capture wake-up pipe");
    wake_read.reset(fds[0]);
    wake_write.reset(fds[1]);
    for (int fd : fds) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }

  void run();
  void publish(bool capturing);
  void readStats();
  // Reads back the kernel buffer the open handle got (platform/capture.h) into
  // `buffer_bytes`, and says so when it is not the configured one — once per capture
  // start, not at every reopening of the bridge.
  void readBuffer();
  void close(const std::string& problem);
  // Waits for the capture fd (-1: none) or the wake-up pipe, at most `ms`. False when
  // stopping. Sets `fd_error` when poll reports the capture fd broken.
  bool wait(int fd, int ms, bool& fd_error);
  uint32_t seconds() const {
    return static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count());
  }
  void refreshAttribution() {
    auto table = channel->attribution();
    if (!table || table == aggregator.attribution()) return;
    recorder.setAttribution(*aggregator.attribution(), *table);  // slots of the old table → new
    aggregator.setAttribution(std::move(table));
    pending.clear();  // their slots are the old table's
    syncGuards();
  }
  // Spoofing guards: one per jail port of the table (Attribution::ports). Kept when the
  // port and MAC are unchanged, opened for new ones, closed for ports gone; a guard that
  // could not open (the pair is being made) or broke (the pair was destroyed) is tried
  // again with the next table and at every publication.
  struct Guard {
    Attribution::Port port;
    uint32_t slot = kNoSlot;
    Pcap handle;
    std::string problem;
    Impl* impl = nullptr;
    uint64_t ticket = 0;  // an open the guard worker has not answered yet; 0: none
  };
  void syncGuards();
  void reopenGuards();
  // Takes the guards the worker opened (GuardWorker); closes, through it, those of ports
  // that went away meanwhile.
  void collectGuards();
  // Closes a guard's handle through the worker (never on the capture thread).
  void dropGuard(Guard& g) { guard_worker.close(std::move(g.handle)); }
  // Every frame the guards hold now; never blocks.
  void drainGuards();
  // A spoofed frame a guard saw, until the bridge capture sees the same frame: that one is
  // then the guard's jail's transmit, whatever its source MAC (Aggregator::add's
  // `sender`). Matched by source MAC, wire length and a hash of the first kPendingPrefix
  // bytes (what both captures hold). The guard sees a frame first (its tap is on the
  // port, before the bridge; it delivers at once, the bridge capture per buffer timeout;
  // run() drains the guards before the bridge), so a frame finds its entry; entries
  // whose frame the bridge capture never saw (its buffer was full) go after 2 s.
  static constexpr size_t kPendingPrefix = 64, kMaxPending = 256;
  struct PendingSpoof {
    MacBytes src{};
    uint32_t wire_len = 0, sender = kNoSlot;
    uint64_t hash = 0;
    int64_t seconds = 0;  // capture timestamp
  };
  static uint64_t prefixHash(const u_char* bytes, uint32_t caplen) {
    uint64_t h = 14695981039346656037ull;  // FNV-1a
    for (uint32_t i = 0; i < std::min<uint32_t>(caplen, kPendingPrefix); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
  }
  // The sender of a frame the bridge capture got, when a guard saw it (removing the
  // entry); kNoSlot otherwise. No allocation.
  uint32_t takePending(const pcap_pkthdr* h, const u_char* bytes) {
    if (pending.empty() || h->caplen < 12) return kNoSlot;
    uint64_t hash = prefixHash(bytes, h->caplen);
    for (size_t i = 0; i < pending.size(); ++i) {
      const PendingSpoof& e = pending[i];
      if (e.wire_len == h->len && e.hash == hash && std::memcmp(e.src.data(), bytes + 6, 6) == 0) {
        uint32_t sender = e.sender;
        pending[i] = pending.back();
        pending.pop_back();
        return sender;
      }
    }
    // Entries whose frame never came (the bridge capture dropped it) must not wait for an
    // honest look-alike.
    std::erase_if(pending, [&](const PendingSpoof& e) { return e.seconds + 2 < h->ts.tv_sec; });
    return kNoSlot;
  }
  static void onSpoofed(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* g = reinterpret_cast<Guard*>(user);
    g->impl->aggregator.addSpoofed(g->slot);
    if (h->caplen >= 12 && g->slot != kNoSlot) {
      auto& pending = g->impl->pending;
      if (pending.size() == kMaxPending) pending.erase(pending.begin());  // the oldest goes
      PendingSpoof e;
      std::memcpy(e.src.data(), bytes + 6, 6);
      e.wire_len = h->len;
      e.sender = g->slot;
      e.hash = prefixHash(bytes, h->caplen);
      e.seconds = h->ts.tv_sec;
      pending.push_back(e);
    }
    if (g->impl->spoof_logged.insert(g->port.jail).second) {
      MacBytes src{};
      if (h->caplen >= 12) std::memcpy(src.data(), bytes + 6, 6);
      VNETD_LOG_WARN("capture on %s: jail %s sends frames with source MAC %s from its port %s, not its recorded MAC %s "
                     "(it changed its MAC): counted as its own traffic by port and in "
                     "vnetd_jail_spoofed_transmit_packets_total{jail=\"%s\"} (logged once per jail)",
                     g->impl->channel->bridge().c_str(), g->port.jail.c_str(), macText(src).c_str(),
                     g->port.interface.c_str(), macText(g->port.mac).c_str(), g->port.jail.c_str());
    }
  }
  // Answers the flight-recorder requests that are due: those older than one buffer
  // timeout while the capture is open (the kernel may still have held frames from before
  // the request), all of them otherwise. Returns the earliest time one is due, or
  // time_point::max() when none waits.
  std::chrono::steady_clock::time_point serveRequests(bool all);
  static void onFrame(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* self = reinterpret_cast<Impl*>(user);
    if (self->skip_before.tv_sec != 0) {
      // The ring's frames from before the sampling filter was attached (unsampled): skip
      // them; the first frame stamped later was filtered, and so were those after it.
      if (timercmp(&h->ts, &self->skip_before, <)) return;
      self->skip_before = timeval{};
    }
    const auto* frame = reinterpret_cast<const std::byte*>(bytes);
    FrameSlots who = self->aggregator.add(std::span(frame, h->caplen), h->len, self->now, self->takePending(h, bytes));
    // The recorder's per-frame cost: a memcpy of caplen into each ring (both jails' when
    // the frame goes from one to the other).
    if (self->recorder.enabled() && (who.src != kNoSlot || who.dst != kNoSlot))
      self->recorder.add(who.src, who.dst,
                         FrameMeta{static_cast<int64_t>(h->ts.tv_sec), static_cast<uint32_t>(h->ts.tv_usec),
                                   h->caplen, h->len},
                         frame);
  }

  const CaptureConfig config;
  const std::shared_ptr<CaptureChannel> channel;
  Aggregator aggregator;  // capture thread only
  FlightRecorder recorder;  // capture thread only
  std::vector<CaptureChannel::RecorderRequest> waiting;  // taken from the channel, not yet due
  const std::chrono::steady_clock::time_point started;
  uint32_t now = 0;  // seconds since `started`, set once per batch

  // Capture thread only.
  Pcap handle;
  timeval skip_before{};  // installSampleFilter's; zero once a later frame came
  uint32_t last_drop = 0, last_ifdrop = 0;  // pcap_stats of `handle` so far (32-bit, wrap)
  std::string last_problem;
  uint64_t buffer_bytes = 0;  // the open handle's kernel buffer; 0 when unknown
  std::optional<std::string> last_buffer_note;  // what readBuffer() logged last ("" = nothing)
  std::vector<std::unique_ptr<Guard>> guards;  // by port interface name
  std::set<std::string> spoof_logged;           // jails whose spoofing was logged
  std::vector<PendingSpoof> pending;            // reserved kMaxPending: no allocation per frame
  std::vector<pollfd> poll_fds;                 // wait()'s, reused
  std::vector<Guard*> polled_guards;            // poll_fds[2 + i] is polled_guards[i]'s
  std::vector<pollfd> guard_fds;                // drainGuards()'s, reused
  std::vector<Guard*> drained_guards;           // guard_fds[i] is drained_guards[i]'s

  std::atomic<bool> stop{false};
  std::atomic<bool> open{false};   // `handle` is open (for poke)
  UniqueFd wake_read, wake_write;  // a byte written = look at `stop`, or retry now
  uint64_t guard_tickets = 0;      // the last GuardWorker ticket handed out
  // Declared after the pipe: destroyed first, its thread still writes to the pipe.
  GuardWorker<Pcap> guard_worker{openGuard, [this] {
    char byte = 1;
    (void)!::write(wake_write.get(), &byte, 1);  // a full pipe has a wake-up pending already
  }};
  std::thread thread;
};

void BridgeCapture::Impl::readStats() {
  pcap_stat st{};
  if (!handle || pcap_stats(handle.get(), &st) != 0) return;
  // pcap's counters are 32-bit and cumulative per handle: add the (wrapping) difference.
  BridgeTotals& b = aggregator.bridge();
  b.dropped_kernel += static_cast<uint32_t>(st.ps_drop - last_drop);
  b.dropped_interface += static_cast<uint32_t>(st.ps_ifdrop - last_ifdrop);
  last_drop = st.ps_drop;
  last_ifdrop = st.ps_ifdrop;
}

void BridgeCapture::Impl::syncGuards() {
  const Attribution& table = *aggregator.attribution();
  std::vector<std::unique_ptr<Guard>> next;
  for (const auto& port : table.ports()) {
    std::unique_ptr<Guard> g;
    for (auto& old : guards)
      if (old && old->port == port) g = std::move(old);
    if (!g) {
      g = std::make_unique<Guard>();
      g->port = port;
      g->impl = this;
    }
    g->slot = table.slotOf(port.jail);
    next.push_back(std::move(g));
  }
  for (auto& old : guards)
    if (old) dropGuard(*old);  // a port gone (or its MAC changed)
  guards = std::move(next);
  reopenGuards();
}

void BridgeCapture::Impl::collectGuards() {
  for (GuardWorker<Pcap>::Opened& o : guard_worker.take()) {
    Guard* g = nullptr;
    for (auto& candidate : guards)
      if (candidate->ticket == o.ticket) g = candidate.get();
    if (!g) {
      guard_worker.close(std::move(o.handle));  // its port went away meanwhile
      continue;
    }
    g->ticket = 0;
    g->handle = std::move(o.handle);
    if (!g->handle && o.problem != g->problem)
      VNETD_LOG_INFO("capture on %s: no spoofing guard on %s (jail %s) yet: %s; retrying every second",
                     channel->bridge().c_str(), g->port.interface.c_str(), g->port.jail.c_str(), o.problem.c_str());
    g->problem = g->handle ? std::string() : o.problem;
  }
}

void BridgeCapture::Impl::reopenGuards() {
  collectGuards();
  for (auto& g : guards) {
    if (g->handle || g->ticket) continue;
    g->ticket = ++guard_tickets;
    guard_worker.open(g->ticket, g->port.interface, g->port.mac);
  }
}

void BridgeCapture::Impl::drainGuards() {
  // One poll(2) over every guard, then dispatch only those holding frames (or an error):
  // a guard almost never has any (its filter drops every honest frame), and dispatching
  // each one costs a system call of its own (libpcap polls a non-blocking ring that has
  // nothing) — hundreds per batch at hundreds of jails. The poll is here, not in wait():
  // frames a guard got after wait() returned must be drained before the bridge batch that
  // may hold their copies (see PendingSpoof).
  std::vector<pollfd>& p = guard_fds;  // reused: no allocation per batch once grown
  p.clear();
  drained_guards.clear();
  for (auto& g : guards)
    if (g->handle) {
      p.push_back({pcap_get_selectable_fd(g->handle.get()), POLLIN, 0});
      drained_guards.push_back(g.get());
    }
  if (p.empty() || ::poll(p.data(), p.size(), 0) <= 0) return;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].revents == 0) continue;
    Guard* g = drained_guards[i];
    int n;
    while ((n = pcap_dispatch(g->handle.get(), -1, &Impl::onSpoofed, reinterpret_cast<u_char*>(g))) > 0) {
    }
    if (n < 0 || (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)))
      dropGuard(*g);  // the pair went away; reopened at the next publication
  }
}

void BridgeCapture::Impl::readBuffer() {
  const std::string& bridge = channel->bridge();
  auto got = platform::captureBufferBytes(pcap_fileno(handle.get()));
  std::string note;
  bool warning = false;
  if (!got) {
    buffer_bytes = 0;
    note = "cannot tell the size of the kernel's capture buffer: " + got.error().message();
  } else {
    buffer_bytes = *got;
    std::optional<platform::CaptureBufferLimit> limit;
    if (buffer_bytes < config.buffer_bytes)
      if (auto l = platform::readCaptureBufferLimit()) limit = *l;
    if (auto n = captureBufferNote(config.buffer_bytes, buffer_bytes, limit)) {
      note = n->text;
      warning = n->warning;
    }
  }
  if (note == last_buffer_note) return;
  last_buffer_note = note;
  if (note.empty()) return;
  if (warning) VNETD_LOG_WARN("capture on %s: %s", bridge.c_str(), note.c_str());
  else VNETD_LOG_INFO("capture on %s: %s", bridge.c_str(), note.c_str());
}

void BridgeCapture::Impl::publish(bool capturing) {
  readStats();
  if (capturing) reopenGuards();
  // Expiry walks the flow table a slice per period, the whole of it in about a quarter
  // of the idle timeout (at most 15 s): a flow ends between timeout and 1.25 timeout.
  size_t cycle = std::clamp<size_t>(config.flow_idle_timeout_seconds / 4, 1, 15);
  aggregator.expire(seconds(), aggregator.flowCapacity() / cycle + 1);
  CaptureSnapshot snapshot = aggregator.snapshot(capturing);
  snapshot.flight_recorder_bytes = recorder.bytesAllocated();
  snapshot.capture_buffer_bytes = capturing ? buffer_bytes : 0;
  snapshot.sample = config.sample;
  channel->publish(std::make_shared<const CaptureSnapshot>(std::move(snapshot)));
}

std::chrono::steady_clock::time_point BridgeCapture::Impl::serveRequests(bool all) {
  using Clock = std::chrono::steady_clock;
  if (channel->hasRequests())
    for (auto& r : channel->takeRequests()) waiting.push_back(std::move(r));
  auto next = Clock::time_point::max();
  if (waiting.empty()) return next;
  const auto now = Clock::now();
  const std::chrono::milliseconds settle(kBufferTimeoutMs);
  for (auto it = waiting.begin(); it != waiting.end();) {
    if (!all && now < it->queued + settle) {
      next = std::min(next, it->queued + settle);
      ++it;
      continue;
    }
    if (!recorder.enabled()) {
      it->done(plainError("the flight recorder is off ([capture] flight_recorder_packets = 0)"));
    } else {
      // A jail the table does not know (yet) has no frames: an empty copy, not an error.
      auto frames = recorder.copy(aggregator.attribution()->slotOf(it->jail));
      frames.sample = config.sample;  // a sampled capture's ring holds ~1 frame in N
      it->done(std::move(frames));
    }
    it = waiting.erase(it);
  }
  return next;
}

void BridgeCapture::Impl::close(const std::string& problem) {
  if (problem != last_problem)
    VNETD_LOG_WARN("capture on %s: %s; closed, retrying every second", channel->bridge().c_str(), problem.c_str());
  last_problem = problem;
  readStats();
  handle.reset();
  open = false;
  publish(false);
}

bool BridgeCapture::Impl::wait(int fd, int ms, bool& fd_error) {
  std::vector<pollfd>& p = poll_fds;  // reused: no allocation per wait once grown
  p.assign({{wake_read.get(), POLLIN, 0}, {fd, POLLIN, 0}});
  polled_guards.clear();
  if (fd >= 0)
    for (const auto& g : guards)
      if (g->handle) {
        p.push_back({pcap_get_selectable_fd(g->handle.get()), POLLIN, 0});
        polled_guards.push_back(g.get());
      }
  int n = ::poll(p.data(), fd >= 0 ? p.size() : 1, ms);
  // A guard whose port went away reports an error at once, every time: close it here
  // (reopened at the next publication) rather than spin on it.
  if (n > 0)
    for (size_t i = 2; i < p.size(); ++i)
      if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) dropGuard(*polled_guards[i - 2]);
  if (n > 0 && (p[0].revents & POLLIN)) {
    char buf[64];
    while (::read(wake_read.get(), buf, sizeof buf) > 0) {
    }
  }
  fd_error = fd >= 0 && n > 0 && (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
  return !stop;
}

void BridgeCapture::Impl::run() {
  // Signals are the loop thread's business.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  using Clock = std::chrono::steady_clock;
  const std::string& bridge = channel->bridge();
  const int retry_ms = static_cast<int>(std::chrono::milliseconds(kRetryPeriod).count());
  auto next_publish = Clock::now();
  int fd = -1;
  bool fd_error = false;
  while (!stop) {
    refreshAttribution();
    collectGuards();
    // Open: frames from before a request may still sit in the kernel's buffer for up to
    // one buffer timeout. Closed: nothing is coming; answer at once.
    auto request_due = serveRequests(!handle);
    if (!handle) {
      std::string problem;
      bool absent = false;
      timeval skip{};
      Pcap p = openBridge(bridge, config, problem, absent, skip);
      char err[PCAP_ERRBUF_SIZE] = "";
      if (p && (pcap_setnonblock(p.get(), 1, err) != 0 || pcap_get_selectable_fd(p.get()) < 0)) {
        problem = std::string("cannot poll the capture: ") + (err[0] ? err : "no selectable descriptor");
        p.reset();
      }
      if (!p) {
        // Once per distinct problem: a bridge that a hook will create later is normal.
        if (problem != last_problem) {
          if (absent) VNETD_LOG_INFO("capture on %s: %s yet; retrying every second", bridge.c_str(), problem.c_str());
          else VNETD_LOG_WARN("capture on %s: %s; retrying every second", bridge.c_str(), problem.c_str());
          last_problem = problem;
        }
        publish(false);  // attribution changes show even while the bridge is missing
        if (!wait(-1, retry_ms, fd_error)) break;
        continue;
      }
      handle = std::move(p);
      skip_before = skip;
      open = true;
      fd = pcap_get_selectable_fd(handle.get());
      last_drop = last_ifdrop = 0;
      last_problem.clear();
      next_publish = Clock::now();
      readBuffer();
      VNETD_LOG_INFO("capture on %s: open (snaplen %u, buffer %llu bytes)", bridge.c_str(), config.snaplen,
                     static_cast<unsigned long long>(buffer_bytes ? buffer_bytes : config.buffer_bytes));
    }
    now = seconds();
    // The guards first: a frame is tapped on its port before the bridge sees it, the
    // guards deliver at once and the bridge capture per buffer timeout, so a spoofed
    // frame is counted by its guard no later than the bridge capture counts it.
    drainGuards();
    // Non-blocking: every frame the kernel has handed over, nothing more.
    int n = pcap_dispatch(handle.get(), -1, &Impl::onFrame, reinterpret_cast<u_char*>(this));
    if (n < 0 || (n == 0 && fd_error)) {
      // The bridge went away (deleted, or down): close, and reopen once it is back.
      close(n < 0 ? pcap_geterr(handle.get()) : "the capture descriptor reports an error");
      fd_error = false;
      if (!wait(-1, retry_ms, fd_error)) break;
      continue;
    }
    auto t = Clock::now();
    if (t >= next_publish) {
      publish(true);
      next_publish = t + kPublishPeriod;
    }
    // Sampled ([capture] sample > 1): the kernel hands over ~1 frame in N, and waking
    // for each trickle costs more than the frames (measured: the capture thread woke
    // ~18 000 times a second, 12 % of a core, at 1 in 64 on the accuracy test's
    // traffic; unsampled it wakes ~7 000 times a second for ~11 %). At most one dispatch
    // per kSampledTickMs instead: frames wait in the ring that much longer (the buffer
    // timeout is 100 ms anyway), and the ring, sized for every frame, holds 1/N of them.
    if (config.sample > 1) {
      bool no_fd_error = false;
      if (!wait(-1, kSampledTickMs, no_fd_error)) break;
    }
    if (n > 0) continue;  // more may be ready
    auto until =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::min(next_publish, request_due) - Clock::now())
            .count();
    if (!wait(fd, static_cast<int>(std::clamp<int64_t>(until, 1, 1000)), fd_error)) break;
  }
  // The last word: what was counted up to the stop. Requests still waiting are answered
  // (nobody may be left waiting for a stopped capture).
  handle.reset();
  guards.clear();
  publish(false);
  for (auto& r : channel->takeRequests()) waiting.push_back(std::move(r));
  for (auto& r : waiting) r.done(plainError("the capture on " + bridge + " stopped"));
  waiting.clear();
}

BridgeCapture::BridgeCapture(const CaptureConfig& config, std::shared_ptr<CaptureChannel> channel)
    : impl_(std::make_unique<Impl>(config, std::move(channel))) {
  impl_->thread = std::thread([impl = impl_.get()] {
    platform::nameThisThread("vnetd-capture");
    impl->run();
  });
}

void BridgeCapture::poke() {
  if (impl_->open) return;
  char byte = 1;
  (void)!::write(impl_->wake_write.get(), &byte, 1);  // a full pipe has a wake-up pending already
}

void BridgeCapture::requestRecording(std::string jail, RecorderReply done) {
  impl_->channel->queueRequest({std::move(jail), std::move(done), std::chrono::steady_clock::now()});
  char byte = 1;
  (void)!::write(impl_->wake_write.get(), &byte, 1);  // a full pipe has a wake-up pending already
}

BridgeCapture::~BridgeCapture() {
  impl_->stop = true;
  char byte = 1;
  (void)!::write(impl_->wake_write.get(), &byte, 1);
  impl_->thread.join();
}

// ---------------------------------------------------------------------- CaptureManager

struct CaptureManager::Board {
  std::vector<std::shared_ptr<CaptureChannel>> channels;  // loop thread only
};

namespace {

class CaptureCollector final : public prometheus::Collectable {
 public:
  explicit CaptureCollector(std::shared_ptr<const std::vector<std::shared_ptr<CaptureChannel>>> channels)
      : channels_(std::move(channels)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<BridgeView> views;
    for (const auto& c : *channels_) views.push_back({c->bridge(), c->snapshot(), c->attribution()});
    return captureFamilies(views);
  }

 private:
  std::shared_ptr<const std::vector<std::shared_ptr<CaptureChannel>>> channels_;
};

bool sameSettings(const CaptureConfig& a, const CaptureConfig& b) {
  return a.snaplen == b.snaplen && a.buffer_bytes == b.buffer_bytes &&
         a.flow_idle_timeout_seconds == b.flow_idle_timeout_seconds && a.max_flows == b.max_flows &&
         a.flight_recorder_packets == b.flight_recorder_packets && a.sample == b.sample;
}

}  // namespace

CaptureManager::CaptureManager() : board_(std::make_shared<Board>()) {
  // The collector sees the board's channel list (aliasing shared_ptr: it keeps the board alive).
  collector_ = std::make_shared<CaptureCollector>(
      std::shared_ptr<const std::vector<std::shared_ptr<CaptureChannel>>>(board_, &board_->channels));
}

CaptureManager::~CaptureManager() { stopAll(); }

void CaptureManager::stopAll() {
  running_.clear();  // each BridgeCapture joins its thread
  board_->channels.clear();
}

std::shared_ptr<const Attribution> CaptureManager::tableFor(const std::string& bridge) const {
  auto it = isolating_.find(bridge);
  bool isolating = it != isolating_.end() && it->second;
  return state_ ? Attribution::fromState(*state_, bridge, isolating, &exposes_) : Attribution::build({}, isolating);
}

void CaptureManager::apply(const Config& config) {
  std::set<std::string> wanted;
  isolating_.clear();
  exposes_.clear();  // issue 19: watched per bridge by the tables built below
  for (const auto& [name, jail] : config.jails)
    for (const InterfaceConfig& ic : jail.interfaces)
      for (const ExposeRule& rule : ic.expose) exposes_[name].emplace_back(ic.index, rule);
  if (config.capture.enabled)
    for (const auto& [key, br] : config.bridges) {
      wanted.insert(br.interface);
      isolating_[br.interface] = br.private_members;
    }
  if (!sameSettings(config_, config.capture) && !running_.empty()) {
    VNETD_LOG_INFO("capture: settings changed; restarting %zu captures", running_.size());
    stopAll();
  }
  config_ = config.capture;
  for (auto it = running_.begin(); it != running_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    VNETD_LOG_INFO("capture on %s: stopped (no longer configured)", it->first.c_str());
    it = running_.erase(it);
  }
  for (const auto& bridge : wanted) {
    auto table = tableFor(bridge);
    if (auto it = running_.find(bridge); it != running_.end()) {
      // `private` changed by a reload: the same jails, now (not) isolated.
      if (!table->sameAs(*it->second.channel->attribution())) it->second.channel->setAttribution(std::move(table));
      continue;
    }
    auto channel = std::make_shared<CaptureChannel>(bridge);
    channel->setAttribution(std::move(table));
    running_[bridge] = {channel, std::make_unique<BridgeCapture>(config_, channel)};
  }
  board_->channels.clear();
  for (const auto& [bridge, r] : running_) board_->channels.push_back(r.channel);
}

void CaptureManager::setState(std::shared_ptr<const State> state) {
  for (const auto& [bridge, r] : running_) r.capture->poke();
  if (!state || (state_ && (state == state_ || *state == *state_))) return;
  state_ = std::move(state);
  for (const auto& [bridge, r] : running_) {
    auto table = tableFor(bridge);
    // Most saves (a phase, a timestamp) change no MAC: the capture keeps its table.
    if (!table->sameAs(*r.channel->attribution())) r.channel->setAttribution(std::move(table));
  }
}

std::map<std::string, uint64_t> CaptureManager::activeFlows() const {
  std::map<std::string, uint64_t> flows;
  for (const auto& [bridge, r] : running_) {
    auto snap = r.channel->snapshot();
    if (!snap) continue;
    for (uint32_t slot = 0; slot < snap->jails.size() && slot < snap->attribution->size(); ++slot)
      flows[snap->attribution->name(slot)] += snap->jails[slot].flows;
  }
  return flows;
}

void CaptureManager::recorded(const std::string& jail, const std::vector<std::string>& bridges,
                              RecorderReply done) {
  if (!config_.enabled)
    return done(plainError("packet capture is off ([capture] enabled = false): there is no flight recorder"));
  if (config_.flight_recorder_packets == 0)
    return done(plainError("the flight recorder is off ([capture] flight_recorder_packets = 0)"));
  if (bridges.empty()) return done(plainError("jail " + jail + " is on no bridge"));
  for (const auto& b : bridges)
    if (!running_.count(b))
      return done(plainError("bridge " + b + " is not captured by vnetd (not a configured bridge)"));
  // The last capture thread to answer merges and calls `done`.
  struct Gather {
    std::mutex mutex;
    size_t remaining = 0;
    std::vector<RecordedFrames> parts;
    std::optional<Error> error;
    RecorderReply done;
  };
  auto g = std::make_shared<Gather>();
  g->remaining = bridges.size();
  g->parts.resize(bridges.size());
  g->done = std::move(done);
  for (size_t i = 0; i < bridges.size(); ++i) {
    running_.at(bridges[i]).capture->requestRecording(jail, [g, i](Result<RecordedFrames> r) {
      std::unique_lock lock(g->mutex);
      if (r) g->parts[i] = std::move(*r);
      else if (!g->error) g->error = r.error();
      if (--g->remaining != 0) return;
      lock.unlock();
      if (g->error) g->done(*g->error);
      else g->done(RecordedFrames::merge(std::move(g->parts)));
    });
  }
}

// ------------------------------------------------------------------- captureBufferNote

std::optional<CaptureBufferNote> captureBufferNote(uint64_t requested, uint64_t effective,
                                                   const std::optional<platform::CaptureBufferLimit>& limit) {
  if (effective == requested) return std::nullopt;
  std::string got = "the kernel gave the capture a " + std::to_string(effective) + "-byte buffer";
  std::string asked = std::to_string(requested) + " bytes of [capture] buffer_size";
  if (effective > requested) return CaptureBufferNote{false, got + " for the " + asked + " (rounded up)"};
  if (limit && requested > limit->bytes && effective <= limit->bytes)
    return CaptureBufferNote{true, got + ", not the " + asked + ": " + limit->sysctl + " caps it at " +
                                       std::to_string(limit->bytes) + "; raise it (then restart vnetd): " +
                                       platform::raiseCaptureBufferLimitCommand(*limit, requested)};
  return CaptureBufferNote{true, got + ", less than the " + asked + " (short of memory?)"};
}

// ------------------------------------------------------------------------ probeCapture

Result<void> probeCapture(const std::string& bridge) {
  char err[PCAP_ERRBUF_SIZE] = "";
  std::unique_ptr<pcap_t, void (*)(pcap_t*)> p(pcap_create(bridge.c_str(), err), pcap_close);
  if (!p) return plainError("capture on " + bridge + ": " + err);
  pcap_set_snaplen(p.get(), 64);
  int rc = pcap_activate(p.get());
  if (rc == PCAP_ERROR_NO_SUCH_DEVICE) return plainError("capture on " + bridge + ": no such interface");
  if (rc < 0) return plainError("capture on " + bridge + ": " + pcap_statustostr(rc) + ": " + pcap_geterr(p.get()));
  if (pcap_datalink(p.get()) != DLT_EN10MB)
    return plainError("capture on " + bridge + ": not an Ethernet interface (pcap link type " +
                      std::to_string(pcap_datalink(p.get())) + ")");
  return success();
}

}  // namespace vnetd::collectors
