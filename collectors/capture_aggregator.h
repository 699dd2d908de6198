// The pure half of the per-bridge capture: frames in, per-jail aggregates out. No
// kernel, no pcap, no thread — collectors/capture.h feeds it from a capture thread, the
// unit tests from hand-built frames.
//
//   Attribution   immutable MAC → jail table of one bridge (the jail-side MACs the state
//                 store recorded for interfaces on that bridge). Jails get dense slots
//                 0..n-1 in name order; every counter array is indexed by slot.
//   Aggregator    counters of one bridge, owned by one thread (the capture thread): add()
//                 once per frame, allocation-free and lock-free; setAttribution() when
//                 the table changed (counters of jails still present carry over, keyed by
//                 name); snapshot() for publication (allocates: once per period, not per
//                 frame).
//   captureFamilies  the Prometheus families of the latest snapshots of all bridges.
//
// Counting rule (docs/metrics.md): a frame counts with its length on the wire as the
// capture reports it (pcap's pkthdr.len): the Ethernet header (and VLAN tags) included,
// no FCS. With segmentation offload a "frame" can be a ~48 KB super-frame that the wire
// would carry as many: packet counts are frames as seen on the bridge.
//
// Attribution of one frame, from the jail's point of view: source MAC = a jail's → that
// jail transmitted it; destination MAC = a jail's → that jail received it; both (jail to
// jail on the bridge) → it counts for each. Neither → unattributed (the bridge's own
// traffic, uplinks, other hosts).
//
// Except on an isolating bridge ([bridge.X] private = true: every jail member is
// IFBIF_PRIVATE on FreeBSD, an isolated port on Linux): the kernel drops a frame from one
// jail to another after the capture saw it, so such a frame is the sender's transmit and
// nobody's receive, and no peer bytes (Aggregator::add says where in the kernel).
//
// Broadcasts and multicasts are their sender's transmit and nobody's receive, with one
// exception in counters of its own: an ICMPv6 router advertisement to a multicast or the
// broadcast address is received by every jail on the bridge but its sender
// (JailTotals::router_advertisements; Aggregator::countRouterDiscovery).
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <map>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/packet_decode.h"
#include "core/expose.h"
#include "core/state_store.h"

namespace vnetd::collectors {

inline constexpr uint32_t kNoSlot = UINT32_MAX;

// Immutable once built; shared between the loop thread (which builds it) and the capture
// thread (which looks MACs up in it) without a lock.
class Attribution {
 public:
  // `macs`: (jail-side MAC, jail name) pairs. A jail may have several MACs (several
  // interfaces on one bridge); a MAC claimed by two jails keeps the first claim.
  // `isolating`: the bridge delivers no frame from one jail to another (private members).
  // A jail's port on the bridge: the host side of its pair, and the jail-side MAC vnetd
  // recorded for it (what the jail's frames should carry as their source).
  struct Port {
    std::string interface;  // host side, e.g. e0a_web
    MacBytes mac{};         // recorded jail-side MAC
    std::string jail;
    bool operator==(const Port&) const = default;
  };
  // Issue 19: a port forward of a jail on this bridge. The Aggregator counts the frames
  // the jail receives for `address` and a port in first..last that open a connection:
  // TCP segments with SYN and no ACK, every UDP datagram.
  struct ExposeWatch {
    std::string jail;
    std::string expose;  // the forward's canonical text (core/expose.h exposeString): the label
    Family family = Family::IPv4;
    Protocol protocol = Protocol::Tcp;
    std::array<uint8_t, 16> address{};  // the jail's address, network order (IPv4: first 4 bytes)
    uint16_t first = 0, last = 0;       // the jail ports
    uint32_t slot = kNoSlot;            // the jail's slot (build() fills it)
    bool operator==(const ExposeWatch&) const = default;
  };
  // Forwards by jail name: (interface index, forward) as the configuration lists them.
  using ExposeConfig = std::map<std::string, std::vector<std::pair<unsigned, ExposeRule>>>;
  static std::shared_ptr<const Attribution> build(std::vector<std::pair<MacBytes, std::string>> macs,
                                                  bool isolating = false, std::vector<Port> ports = {},
                                                  std::vector<ExposeWatch> exposes = {});
  // Every recorded interface on `bridge_interface` (InterfaceRecord::bridge) whose
  // jail_mac parses, and its port (host_name); `isolating` as above (the bridge's
  // `private` setting); a watch per forward of `exposes` and recorded address of the
  // interface in a family the forward is for.
  static std::shared_ptr<const Attribution> fromState(const State& state, std::string_view bridge_interface,
                                                      bool isolating = false, const ExposeConfig* exposes = nullptr);

  // The jail slot of a MAC, kNoSlot when it is no jail's. Hot path: no allocation, a
  // short linear probe.
  uint32_t slot(const MacBytes& mac) const noexcept;
  // The slot of a jail name (binary search), kNoSlot when absent.
  uint32_t slotOf(std::string_view jail) const noexcept;
  size_t size() const { return names_.size(); }
  const std::string& name(uint32_t slot) const { return names_[slot]; }
  const std::vector<std::string>& names() const { return names_; }
  bool isolating() const { return isolating_; }
  // The jails' ports, for the spoofing guards (collectors/capture.h).
  const std::vector<Port>& ports() const { return ports_; }
  const std::vector<ExposeWatch>& exposes() const { return exposes_; }
  // Same jails, MACs, ports, isolation and forwards (tables built from the same records are equal).
  bool sameAs(const Attribution& other) const {
    return names_ == other.names_ && keys_ == other.keys_ && slots_ == other.slots_ &&
           isolating_ == other.isolating_ && ports_ == other.ports_ && exposes_ == other.exposes_;
  }

 private:
  Attribution() = default;
  std::vector<std::string> names_;  // sorted; the index is the slot
  std::vector<uint64_t> keys_;      // open addressing: (1 << 48) | MAC, 0 = empty
  std::vector<uint32_t> slots_;
  uint64_t mask_ = 0;
  int shift_ = 64;  // 64 - log2(table size): Fibonacci hashing
  bool isolating_ = false;
  std::vector<Port> ports_;
  std::vector<ExposeWatch> exposes_;  // only watches of jails in the table
};

enum Direction : uint8_t { kReceive = 0, kTransmit = 1 };
inline constexpr size_t kFamilies = 3;   // Family::Other, IPv4, IPv6
inline constexpr size_t kProtocols = 6;  // Protocol::Other, Tcp, Udp, Icmp, Icmp6, Arp

struct TrafficCounter {
  uint64_t bytes = 0, packets = 0;
  bool operator==(const TrafficCounter&) const = default;
};

// One jail's counters on one bridge, from the jail's point of view. [Direction] indexes.
struct JailTotals {
  TrafficCounter traffic[2][kFamilies][kProtocols] = {};
  uint64_t tcp_syn[2] = {}, tcp_rst[2] = {}, tcp_fin[2] = {};
  uint64_t flows_opened[2] = {};
  uint64_t broadcast = 0;  // broadcast frames the jail sent
  // ICMPv6 router discovery (issue 19; RFC 4861 4.1, 4.2): solicitations (type 133) the
  // jail sent, and advertisements (type 134) [Direction] — received includes each
  // multicast or broadcast RA on the bridge (Aggregator::countRouterDiscovery).
  uint64_t router_solicitations = 0;
  uint64_t router_advertisements[2] = {};
  uint64_t spoofed = 0;    // frames from the jail's port whose source MAC is not its recorded one
  uint64_t flows = 0;      // gauge: active flows the jail takes part in
  bool operator==(const JailTotals&) const = default;
};

// Per-bridge counters. The drop counters come from pcap_stats (the capture sets them).
struct BridgeTotals {
  uint64_t packets = 0, unattributed = 0, malformed = 0, flow_table_full = 0, peer_table_full = 0;
  uint64_t isolated = 0;  // jail-to-jail frames an isolating bridge does not deliver
  uint64_t dropped_kernel = 0, dropped_interface = 0;
  bool operator==(const BridgeTotals&) const = default;
};

// Bytes `jail` sent to `peer` (a slot, or kNoSlot = external).
struct PeerBytes {
  uint32_t jail = 0, peer = kNoSlot;
  uint64_t bytes = 0;
  bool operator==(const PeerBytes&) const = default;
};

// What the capture thread publishes: immutable once published.
struct CaptureSnapshot {
  std::shared_ptr<const Attribution> attribution;  // names of jails[slot]; never null
  std::vector<JailTotals> jails;                   // by slot
  std::vector<PeerBytes> peers;                    // non-zero pairs only
  std::vector<uint64_t> exposes;                   // by attribution->exposes() index
  BridgeTotals bridge;
  bool capturing = false;  // the bridge was open when the snapshot was taken
  uint64_t flight_recorder_bytes = 0;  // set by the capture: its rings' allocation
  uint64_t capture_buffer_bytes = 0;   // set by the capture: the open handle's kernel buffer
                                       // (platform/capture.h); 0 when closed or unknown
  uint32_t sample = 1;  // [capture] sample: the kernel passed about 1 frame in this many
};

// The jail slots one frame was attributed to (kNoSlot: none).
struct FrameSlots {
  uint32_t src = kNoSlot, dst = kNoSlot;
  bool operator==(const FrameSlots&) const = default;
};

// Bounded 5-tuple flow table: open addressing (linear probing, backward-shift deletion),
// at most `max_flows` entries, allocated once. A flow is keyed by both endpoints in a
// canonical order, so both directions are one flow. Exposed for tests; used only by the
// Aggregator.
class FlowTable {
 public:
  struct Key {
    uint64_t a[2] = {}, b[2] = {};     // the addresses' bytes as words (IPv4: first 4 bytes);
                                       // canonical order: (a, a_port) < (b, b_port)
    uint16_t a_port = 0, b_port = 0;
    uint8_t family = 0, protocol = 0;  // family != 0 (flows are IP)
  };
  struct Flow {
    Key key;
    uint8_t fin = 0;      // bit 0: FIN seen from a, bit 1: from b
    bool closed = false;  // RST, or FIN both ways: not active, lingers briefly for stragglers
    uint32_t last_seen = 0;
    uint32_t jail_a = kNoSlot, jail_b = kNoSlot;  // the jails owning the endpoints
  };

  explicit FlowTable(uint32_t max_flows);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // The flow, or nullptr when absent. No allocation.
  Flow* find(const Key& key) noexcept;
  // Inserts a flow known to be absent; nullptr when the table holds max_flows already.
  Flow* insert(const Key& key) noexcept;
  // Removes every flow `remove(flow)` is true for, visiting at most `budget` slots from
  // where the previous sweep stopped (the whole table when budget >= capacity()).
  // `remove` must not change a flow's key.
  template <class Remove>
  void sweep(size_t budget, Remove&& remove);
  // Calls fn(flow&) for every flow (may change anything but the key).
  template <class Fn>
  void forEach(Fn&& fn) {
    for (size_t i = 0; i <= mask_; ++i)
      if (table_[i].key.family != 0) fn(table_[i]);
  }
  size_t size() const { return size_; }
  size_t maxFlows() const { return max_; }
  size_t capacity() const { return mask_ + 1; }

 private:
  size_t home(const Key& key) const noexcept;
  void erase(size_t at) noexcept;

  Flow* table_ = nullptr;  // calloc'd: an all-zero Flow is an empty slot (family 0)
  size_t mask_ = 0, size_ = 0, max_ = 0, cursor_ = 0;
  // The slot of the flow found or inserted last: frames come in trains of one flow, and
  // comparing a key is cheaper than hashing it. Reset by every erase (entries move).
  size_t last_ = SIZE_MAX;
  uint64_t seed_[6] = {};  // odd multipliers, random per table
};

template <class Remove>
void FlowTable::sweep(size_t budget, Remove&& remove) {
  // An erase shifts later entries of the cluster back into `cursor_`: look at it again.
  // Entries only ever move towards the cursor, so none is skipped.
  for (size_t seen = 0; seen < budget && seen <= mask_; ++seen) {
    while (table_[cursor_].key.family != 0 && remove(table_[cursor_])) erase(cursor_);
    cursor_ = (cursor_ + 1) & mask_;
  }
}

// Sparse (jail, peer) → bytes, bounded; allocated when the attribution changes.
class PeerTable {
 public:
  explicit PeerTable(size_t max_pairs);
  // The pair's byte counter after adding `bytes`; nullptr (nothing counted) when the pair
  // is new and the table is full. Valid until the table is replaced (entries never move).
  uint64_t* add(uint32_t jail, uint32_t peer, uint64_t bytes) noexcept;
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (const auto& e : entries_)
      if (e.key != 0) fn(static_cast<uint32_t>((e.key >> 32) - 1), static_cast<uint32_t>(e.key), e.bytes);
  }
  size_t size() const { return size_; }

 private:
  struct Entry {
    uint64_t key = 0;  // ((jail + 1) << 32) | peer; 0 = empty
    uint64_t bytes = 0;
  };
  std::vector<Entry> entries_;
  size_t mask_ = 0, size_ = 0, max_ = 0;
  // The entry added to last: frames come in trains of one pair. Entries never move.
  size_t last_ = 0;
};

class Aggregator {
 public:
  // Most (jail, peer) pairs tracked per bridge: n jails have at most n*(n+1); the table
  // has room for max(16384, 16 n) of them, at most this many.
  static constexpr size_t kMaxPeerPairs = 65536;
  // A closed TCP flow (RST, or FIN both ways) stays this long (at most the idle timeout)
  // so that the last ACK or a retransmitted FIN does not open a new flow.
  static constexpr uint32_t kClosedLingerSeconds = 5;

  Aggregator(uint32_t max_flows, uint32_t idle_timeout_seconds);

  // Replaces the MAC table; counters, peers and flows of jails present in both tables
  // (by name) carry over, those of jails gone are dropped. Allocates. Never null.
  void setAttribution(std::shared_ptr<const Attribution> next);
  const std::shared_ptr<const Attribution>& attribution() const { return attribution_; }

  // One captured frame: `frame` the captured bytes, `wire_len` pkthdr.len, `now` a
  // monotonic time in seconds. No allocation, no lock. Returns the jails it counted for
  // (the flight recorder keeps the frame for the same ones): on an isolating bridge a
  // jail-to-jail frame counts for its sender only.
  // `sender`: the jail that sent the frame when its port is known (a spoofing guard saw
  // it come in from that jail: collectors/capture.h); it then counts as that jail's
  // transmit whatever its source MAC says. kNoSlot: by source MAC.
  FrameSlots add(std::span<const std::byte> frame, uint32_t wire_len, uint32_t now,
                 uint32_t sender = kNoSlot) noexcept;
  // A frame the jail in `slot` sent from its port with a source MAC that is not its
  // recorded one (a spoofing guard saw it; collectors/capture.h). No allocation.
  void addSpoofed(uint32_t slot) noexcept {
    if (slot < jails_.size()) ++jails_[slot].spoofed;
  }

  // Expires flows idle for idle_timeout (closed ones after the linger), visiting at most
  // `budget` flow-table slots (default: all).
  void expire(uint32_t now, size_t budget = SIZE_MAX);

  BridgeTotals& bridge() { return bridge_; }
  const JailTotals& jail(uint32_t slot) const { return jails_[slot]; }
  size_t flowCapacity() const { return flows_.capacity(); }
  size_t activeFlows(uint32_t slot) const { return active_[slot]; }
  // On by default: a frame that repeats the previous one (below) reuses its effect. Off:
  // every frame takes the whole path — the tests compare the two.
  void shortcutRepeats(bool on) {
    shortcut_ = on;
    repeat_ = Repeat{};
  }

  // Copies everything (allocates).
  CaptureSnapshot snapshot(bool capturing) const;

 private:
  // Returns the flow the frame was counted in when the frame left it open and changed
  // nothing but its last_seen (no SYN, FIN or RST); nullptr otherwise.
  FlowTable::Flow* track(const FrameInfo& f, uint32_t src, uint32_t dst, uint32_t now) noexcept;
  void activate(const FlowTable::Flow& flow, int delta) noexcept;
  // An ICMPv6 router solicitation or advertisement (f.icmp_type 133 or 134) between `src`
  // and `dst` (slots as add() found them, before its isolation rule): see the definition.
  void countRouterDiscovery(const FrameInfo& f, uint32_t src, uint32_t dst) noexcept;

  // The last MAC looked up as a source and as a destination, with its slot: frames come
  // in trains, and comparing a key is cheaper than the table's dependent loads.
  // Reset with the attribution (key 0 is no MAC's).
  struct MacHit {
    uint64_t key = 0;
    uint32_t slot = kNoSlot;
  };
  uint32_t slotOf(const MacBytes& mac, MacHit& hit) noexcept;

  std::shared_ptr<const Attribution> attribution_;
  RepeatDecoder decoder_;  // frames come in trains of one flow: those are decoded once
  MacHit src_hit_, dst_hit_;
  // The effect of the previous frame, kept when a frame the decoder reads as the same
  // (same MACs, addresses, ports, flags and lengths) would have exactly that effect
  // again: add its bytes to the same counters, touch the same flow. Only for attributed
  // frames that change no other state: well-formed, no SYN/FIN/RST, the flow open and
  // tracked, the peer pair counted. Set by the whole path, used while the decoder says
  // "repeated"; cleared by whatever may move what it points at (setAttribution, expire).
  // In a stream of one flow that is nearly every frame: the two MAC lookups, the counter
  // indexing, the flow key and the peer and flow comparisons are skipped. Measured with
  // CAPTURE_RATE=100000 bench/capture: 95 → 66 ns of capture CPU per frame.
  struct Repeat {
    FlowTable::Flow* flow = nullptr;  // null: no shortcut
    TrafficCounter* tx = nullptr;     // the sender's cell (null: not a jail)
    TrafficCounter* rx = nullptr;     // the receiver's cell (null: not a jail, or not delivered)
    uint64_t* peer = nullptr;         // the sender's peer-pair bytes (with tx)
    uint64_t* broadcast = nullptr;    // the sender's broadcast count (with tx)
    uint64_t* expose = nullptr;       // a forward's count a repeated UDP datagram adds to
    uint64_t bytes = 0, is_broadcast = 0, is_isolated = 0;
    FrameSlots slots;
  };
  Repeat repeat_;
  bool shortcut_ = true;
  bool isolating_ = false;  // attribution_->isolating(), at hand
  // Where the peer bytes of undelivered jail-to-jail frames go: counted nowhere, but the
  // shortcut adds to a peer counter without asking whether there is one.
  uint64_t undelivered_peer_bytes_ = 0;
  // Frames for each forward (issue 19), by attribution_->exposes() index; counted by
  // countExpose() on the whole path, and by a repeated UDP datagram's shortcut.
  uint64_t* countExpose(const FrameInfo& f, uint32_t dst) noexcept;
  std::vector<uint64_t> exposes_;
  std::vector<JailTotals> jails_;
  std::vector<uint32_t> active_;  // active flows per slot
  PeerTable peers_;
  FlowTable flows_;
  uint32_t idle_timeout_;
  BridgeTotals bridge_;
};

// One captured bridge as the exporter sees it: the latest snapshot (null before the
// first) and the attribution in force now. Jails of the snapshot that are no longer in
// `current` are left out (their series disappear at once); jails of `current` the
// snapshot does not know yet show zeros.
struct BridgeView {
  std::string bridge;
  std::shared_ptr<const CaptureSnapshot> snapshot;
  std::shared_ptr<const Attribution> current;
};

// The capture metric families (docs/metrics.md), per jail summed over its bridges. Pure.
std::vector<prometheus::MetricFamily> captureFamilies(const std::vector<BridgeView>& bridges);

}  // namespace vnetd::collectors
