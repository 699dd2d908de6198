#include "collectors/capture_aggregator.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <type_traits>

#include "collectors/metric_family.h"
#include "core/naming.h"
#include "core/ndp.h"

namespace vnetd::collectors {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t macKey(const MacBytes& mac) {
  // Byte order is irrelevant (a key is only compared with keys). Two loads into two
  // registers: a 6-byte memcpy into one 8-byte variable stalls store forwarding.
  uint32_t lo;
  uint16_t hi;
  std::memcpy(&lo, mac.data(), 4);
  std::memcpy(&hi, mac.data() + 4, 2);
  return uint64_t{lo} | uint64_t{hi} << 32 | uint64_t{1} << 48;  // never 0, the empty slot
}

size_t tableSize(size_t entries, size_t factor) { return std::bit_ceil(std::max<size_t>(entries * factor, 8)); }

uint64_t mix(uint64_t h) {  // murmur3's fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

bool sameKey(const FlowTable::Key& x, const FlowTable::Key& y) {
  return x.a[0] == y.a[0] && x.a[1] == y.a[1] && x.b[0] == y.b[0] && x.b[1] == y.b[1] && x.a_port == y.a_port &&
         x.b_port == y.b_port && x.family == y.family && x.protocol == y.protocol;
}

// Sets a key's ports, family and protocol. sameKey() compares these 6 bytes (and the 2 of
// padding, zero in every key) as one 8-byte load: written field by field they would be 4
// narrow stores that the load cannot be forwarded from, a stall of ~15 cycles on every
// lookup of a just-built key (measured: ~40 % of FlowTable::find). One 8-byte store
// forwards.
void setPortsAndKind(FlowTable::Key& key, uint16_t a_port, uint16_t b_port, uint8_t family, uint8_t protocol) {
  static_assert(offsetof(FlowTable::Key, b_port) == offsetof(FlowTable::Key, a_port) + 2 &&
                offsetof(FlowTable::Key, family) == offsetof(FlowTable::Key, a_port) + 4 &&
                offsetof(FlowTable::Key, protocol) == offsetof(FlowTable::Key, a_port) + 5 &&
                sizeof(FlowTable::Key) == offsetof(FlowTable::Key, a_port) + 8);
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t word = uint64_t{a_port} | uint64_t{b_port} << 16 | uint64_t{family} << 32 | uint64_t{protocol} << 40;
    std::memcpy(reinterpret_cast<unsigned char*>(&key) + offsetof(FlowTable::Key, a_port), &word, sizeof word);
  } else {
    key.a_port = a_port;
    key.b_port = b_port;
    key.family = family;
    key.protocol = protocol;
  }
}

}  // namespace

// ------------------------------------------------------------------------- Attribution

std::shared_ptr<const Attribution> Attribution::build(std::vector<std::pair<MacBytes, std::string>> macs,
                                                      bool isolating, std::vector<Port> ports,
                                                      std::vector<ExposeWatch> exposes) {
  std::shared_ptr<Attribution> a(new Attribution());
  a->isolating_ = isolating;
  std::sort(ports.begin(), ports.end(),
            [](const Port& x, const Port& y) { return x.interface < y.interface; });
  a->ports_ = std::move(ports);
  for (const auto& [mac, name] : macs) a->names_.push_back(name);
  std::sort(a->names_.begin(), a->names_.end());
  a->names_.erase(std::unique(a->names_.begin(), a->names_.end()), a->names_.end());
  // Load at most 1/4: a miss (most frames' destination, every unattributed source) ends
  // at the first empty slot after a short probe.
  size_t size = tableSize(macs.size(), 4);
  a->keys_.assign(size, 0);
  a->slots_.assign(size, kNoSlot);
  a->mask_ = size - 1;
  a->shift_ = 64 - std::countr_zero(size);
  for (const auto& [mac, name] : macs) {
    uint64_t key = macKey(mac);
    for (size_t i = (key * kGolden) >> a->shift_;; i = (i + 1) & a->mask_) {
      if (a->keys_[i] == key) break;  // claimed already: the first claim stays
      if (a->keys_[i] == 0) {
        a->keys_[i] = key;
        a->slots_[i] = a->slotOf(name);
        break;
      }
    }
  }
  for (ExposeWatch& w : exposes) {
    w.slot = a->slotOf(w.jail);
    if (w.slot != kNoSlot) a->exposes_.push_back(std::move(w));
  }
  return a;
}

std::shared_ptr<const Attribution> Attribution::fromState(const State& state, std::string_view bridge_interface,
                                                          bool isolating, const ExposeConfig* exposes) {
  std::vector<std::pair<MacBytes, std::string>> macs;
  std::vector<Port> ports;
  std::vector<ExposeWatch> watches;
  for (const auto& [name, rec] : state.jails)
    for (const auto& ir : rec.interfaces) {
      if (ir.bridge != bridge_interface) continue;
      auto mac = MacAddress::parse(ir.jail_mac);
      if (!mac) continue;
      macs.emplace_back(mac->bytes, name);
      if (!ir.host_name.empty()) ports.push_back({ir.host_name, mac->bytes, name});
      if (!exposes) continue;
      auto forwards = exposes->find(name);
      if (forwards == exposes->end()) continue;
      for (const auto& [index, rule] : forwards->second) {
        if (index != ir.index) continue;
        for (const std::string& text : ir.addresses) {
          auto c = Cidr::parse(text);
          if (!c) continue;
          const bool v6 = c->address.family == IpFamily::V6;
          if (v6 ? !rule.v6 : !rule.v4) continue;
          if (rule.address && rule.address->family != c->address.family) continue;
          ExposeWatch w;
          w.jail = name;
          w.expose = exposeString(rule);
          w.family = v6 ? Family::IPv6 : Family::IPv4;
          w.protocol = rule.proto == ExposeProto::Tcp ? Protocol::Tcp : Protocol::Udp;
          w.address = c->address.bytes;
          w.first = rule.jail.first;
          w.last = rule.jail.last;
          watches.push_back(std::move(w));
        }
      }
    }
  return build(std::move(macs), isolating, std::move(ports), std::move(watches));
}

uint32_t Attribution::slot(const MacBytes& mac) const noexcept {
  if (names_.empty()) return kNoSlot;
  uint64_t key = macKey(mac);
  for (size_t i = (key * kGolden) >> shift_;; i = (i + 1) & mask_) {
    if (keys_[i] == key) return slots_[i];
    if (keys_[i] == 0) return kNoSlot;
  }
}

uint32_t Attribution::slotOf(std::string_view jail) const noexcept {
  auto it = std::lower_bound(names_.begin(), names_.end(), jail);
  return it != names_.end() && *it == jail ? static_cast<uint32_t>(it - names_.begin()) : kNoSlot;
}

// --------------------------------------------------------------------------- FlowTable

static_assert(std::is_trivially_copyable_v<FlowTable::Flow>, "flows are moved with plain copies");

FlowTable::FlowTable(uint32_t max_flows) : max_(std::max<uint32_t>(max_flows, 1)) {
  // At most half full: probes stay short. calloc: the pages of a large, mostly empty
  // table are only backed by memory once a flow lands in them.
  size_t capacity = tableSize(max_, 2);
  table_ = static_cast<Flow*>(std::calloc(capacity, sizeof(Flow)));
  if (!table_) throw std::bad_alloc();
  mask_ = capacity - 1;
  // Per-table random multipliers: a jail choosing addresses and ports cannot aim at one
  // chain without knowing them.
  std::random_device rd;
  for (auto& k : seed_) k = ((uint64_t{rd()} << 32) ^ rd()) | 1;
}

FlowTable::~FlowTable() { std::free(table_); }

size_t FlowTable::home(const Key& k) const noexcept {
  // Independent multiplies (they run in parallel), one final mix: the hot path's hash.
  uint64_t meta = uint64_t{k.a_port} | uint64_t{k.b_port} << 16 | uint64_t{k.family} << 32 |
                  uint64_t{k.protocol} << 40;
  uint64_t h = (k.a[0] * seed_[0]) ^ (k.a[1] * seed_[1]) ^ (k.b[0] * seed_[2]) ^ (k.b[1] * seed_[3]) ^
               (meta * seed_[4]);
  return mix(h ^ seed_[5]) & mask_;
}

FlowTable::Flow* FlowTable::find(const Key& key) noexcept {
  if (last_ != SIZE_MAX && sameKey(table_[last_].key, key)) return &table_[last_];
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    Flow& f = table_[i];
    if (f.key.family == 0) return nullptr;
    if (sameKey(f.key, key)) {
      last_ = i;
      return &f;
    }
  }
}

FlowTable::Flow* FlowTable::insert(const Key& key) noexcept {
  if (size_ >= max_) return nullptr;
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    Flow& f = table_[i];
    if (f.key.family != 0) continue;
    f = Flow{};
    f.key = key;
    ++size_;
    last_ = i;
    return &f;
  }
}

void FlowTable::erase(size_t at) noexcept {
  // Backward-shift deletion: move later members of the cluster into the hole unless
  // their home lies cyclically in (hole, j] — then they are reachable as they are.
  last_ = SIZE_MAX;
  size_t hole = at;
  for (size_t j = (hole + 1) & mask_; table_[j].key.family != 0; j = (j + 1) & mask_) {
    size_t h = home(table_[j].key);
    bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = Flow{};  // family 0: empty
  --size_;
}

// --------------------------------------------------------------------------- PeerTable

PeerTable::PeerTable(size_t max_pairs) : max_(max_pairs) {
  entries_.resize(tableSize(max_pairs, 2));
  mask_ = entries_.size() - 1;
}

uint64_t* PeerTable::add(uint32_t jail, uint32_t peer, uint64_t bytes) noexcept {
  uint64_t key = (uint64_t{jail} + 1) << 32 | peer;
  if (entries_[last_].key == key) {
    entries_[last_].bytes += bytes;
    return &entries_[last_].bytes;
  }
  for (size_t i = (key * kGolden) >> 32 & mask_;; i = (i + 1) & mask_) {
    Entry& e = entries_[i];
    if (e.key == key) {
      e.bytes += bytes;
      last_ = i;
      return &e.bytes;
    }
    if (e.key == 0) {
      if (size_ >= max_) return nullptr;
      e.key = key;
      e.bytes = bytes;
      ++size_;
      last_ = i;
      return &e.bytes;
    }
  }
}

// -------------------------------------------------------------------------- Aggregator

namespace {
// Jails talk to the outside and a few others, not to every jail: room for 16 peers per
// jail (a full mesh of up to 127 jails), and never more than kMaxPeerPairs.
size_t peerPairs(size_t jails) {
  return std::min({jails * (jails + 1), std::max<size_t>(16384, 16 * jails), Aggregator::kMaxPeerPairs});
}
}  // namespace

Aggregator::Aggregator(uint32_t max_flows, uint32_t idle_timeout_seconds)
    : attribution_(Attribution::build({})),
      peers_(0),
      flows_(max_flows),
      idle_timeout_(std::max<uint32_t>(idle_timeout_seconds, 1)) {}

void Aggregator::setAttribution(std::shared_ptr<const Attribution> next) {
  if (!next) next = Attribution::build({});
  const Attribution& old = *attribution_;
  std::vector<uint32_t> remap(old.size());
  for (uint32_t s = 0; s < old.size(); ++s) remap[s] = next->slotOf(old.name(s));
  auto map = [&](uint32_t s) { return s == kNoSlot ? kNoSlot : remap[s]; };

  std::vector<JailTotals> jails(next->size());
  std::vector<uint32_t> active(next->size(), 0);
  for (uint32_t s = 0; s < old.size(); ++s)
    if (remap[s] != kNoSlot) {
      jails[remap[s]] = jails_[s];
      active[remap[s]] = active_[s];
    }
  // Every jail keeps its slot (the new ones sort after the old): peers and flows stay as
  // they are. Otherwise they are renumbered — a walk over the whole flow table (max_flows
  // entries, megabytes), which a jail start must not cost when there is nothing in it.
  bool same_slots = old.size() <= next->size();
  for (uint32_t s = 0; s < old.size() && same_slots; ++s) same_slots = remap[s] == s;
  if (!same_slots || peerPairs(next->size()) != peerPairs(old.size())) {
    PeerTable peers(peerPairs(next->size()));
    peers_.forEach([&](uint32_t jail, uint32_t peer, uint64_t bytes) {
      // A pair whose peer jail is gone goes with it; "external" (kNoSlot) stays external.
      uint32_t j = map(jail), p = map(peer);
      if (j != kNoSlot && (peer == kNoSlot || p != kNoSlot)) peers.add(j, p, bytes);
    });
    peers_ = std::move(peers);
  }
  if (!same_slots && flows_.size() > 0) {
    // Flows keep their endpoints' jails that remain; a flow left with none is dropped.
    // `active` was carried over per jail; a departed jail's share simply went with it.
    bool orphaned = false;
    flows_.forEach([&](FlowTable::Flow& f) {
      f.jail_a = map(f.jail_a);
      f.jail_b = map(f.jail_b);
      orphaned = orphaned || (f.jail_a == kNoSlot && f.jail_b == kNoSlot);
    });
    if (orphaned)
      flows_.sweep(flows_.capacity(),
                   [](const FlowTable::Flow& f) { return f.jail_a == kNoSlot && f.jail_b == kNoSlot; });
  }

  // A forward's count carries over when the new table watches the same (jail, forward,
  // family, address, ports).
  std::vector<uint64_t> exposes(next->exposes().size(), 0);
  for (size_t i = 0; i < exposes.size(); ++i) {
    const auto& w = next->exposes()[i];
    for (size_t k = 0; k < old.exposes().size() && k < exposes_.size(); ++k) {
      const auto& o = old.exposes()[k];
      if (o.jail == w.jail && o.expose == w.expose && o.family == w.family && o.address == w.address &&
          o.protocol == w.protocol && o.first == w.first && o.last == w.last)
        exposes[i] = exposes_[k];
    }
  }
  exposes_ = std::move(exposes);
  jails_ = std::move(jails);
  active_ = std::move(active);
  attribution_ = std::move(next);
  isolating_ = attribution_->isolating();
  src_hit_ = dst_hit_ = MacHit{};
  repeat_ = Repeat{};
}

uint32_t Aggregator::slotOf(const MacBytes& mac, MacHit& hit) noexcept {
  uint64_t key = macKey(mac);
  if (key != hit.key) hit = {key, attribution_->slot(mac)};
  return hit.slot;
}

void Aggregator::activate(const FlowTable::Flow& f, int delta) noexcept {
  if (f.jail_a != kNoSlot) active_[f.jail_a] += delta;
  if (f.jail_b != kNoSlot && f.jail_b != f.jail_a) active_[f.jail_b] += delta;
}

FrameSlots Aggregator::add(std::span<const std::byte> frame, uint32_t wire_len, uint32_t now,
                           uint32_t sender) noexcept {
  const FrameInfo& f = decoder_.decode(frame, wire_len);
  ++bridge_.packets;
  const bool by_port = sender < jails_.size();
  if (repeat_.flow && decoder_.repeated() && !by_port) {
    const Repeat& r = repeat_;
    if (r.tx) {
      r.tx->bytes += r.bytes;
      ++r.tx->packets;
      *r.broadcast += r.is_broadcast;
      *r.peer += r.bytes;
      bridge_.isolated += r.is_isolated;
    }
    if (r.rx) {
      r.rx->bytes += r.bytes;
      ++r.rx->packets;
    }
    if (r.expose) ++*r.expose;
    r.flow->last_seen = now;
    return r.slots;
  }
  repeat_.flow = nullptr;
  if (f.malformed) ++bridge_.malformed;
  uint32_t src = by_port ? sender : slotOf(f.src_mac, src_hit_), dst = slotOf(f.dst_mac, dst_hit_);
  // Router discovery (issue 19). Every other frame pays one compare of a byte decoded
  // anyway; ICMPv6 frames one more. Before the unattributed return: the bridge's own
  // multicast RAs are no jail's by MAC, yet every jail on the bridge receives them. (The
  // shortcut above never takes these frames: RepeatDecoder remembers TCP and UDP only, so
  // repeated() is false for every ICMPv6 frame.)
  if (f.protocol == Protocol::Icmp6) [[unlikely]] {
    if (f.icmp_type == ndp::kRouterSolicitation || f.icmp_type == ndp::kRouterAdvertisement)
      countRouterDiscovery(f, src, dst);
  }
  if (src == kNoSlot && dst == kNoSlot) {
    ++bridge_.unattributed;
    return {};
  }
  // An isolating bridge taps a frame before it decides not to deliver it. FreeBSD
  // (sys/net/if_bridge.c bridge_forward): ETHER_BPF_MTAP on the bridge for every unicast
  // frame, then `if (sbif->bif_flags & dbif->bif_flags & IFBIF_PRIVATE) goto drop` for a
  // known destination, and bridge_broadcast skips private members for an unknown one.
  // Linux (net/bridge/br_input.c br_handle_frame_finish): a promiscuous bridge passes
  // every frame up to its own device (the capture), whatever br_forward's should_deliver
  // (!br_skb_isolated) then decides for the isolated destination port. Either way the
  // jail at the destination MAC never receives it: its sender's transmit only. One
  // predictable branch on a bridge that is not private.
  uint64_t isolated = 0;
  if (isolating_ && src != kNoSlot && dst != kNoSlot) {
    dst = kNoSlot;
    isolated = 1;
    ++bridge_.isolated;
  }
  uint64_t bytes = std::max<uint64_t>(wire_len, frame.size());
  size_t fam = static_cast<size_t>(f.family), proto = static_cast<size_t>(f.protocol);
  bool tcp = f.protocol == Protocol::Tcp;
  auto count = [&](uint32_t slot, Direction d) {
    JailTotals& j = jails_[slot];
    TrafficCounter& t = j.traffic[d][fam][proto];
    t.bytes += bytes;
    ++t.packets;
    if (tcp) {
      j.tcp_syn[d] += (f.tcp_flags & kTcpSyn) != 0;
      j.tcp_rst[d] += (f.tcp_flags & kTcpRst) != 0;
      j.tcp_fin[d] += (f.tcp_flags & kTcpFin) != 0;
    }
    return &t;
  };
  Repeat next;
  if (src != kNoSlot) {
    next.tx = count(src, kTransmit);
    next.broadcast = &jails_[src].broadcast;
    *next.broadcast += f.broadcast;
    if (isolated) {
      // Not "external" either: the frame went nowhere.
      next.peer = &undelivered_peer_bytes_;
    } else {
      next.peer = peers_.add(src, dst, bytes);
      if (!next.peer) ++bridge_.peer_table_full;
    }
  }
  if (dst != kNoSlot) {
    next.rx = count(dst, kReceive);
    if (!exposes_.empty() && !f.malformed) next.expose = countExpose(f, dst);
  }
  // A malformed frame's fields cannot be trusted to name a flow.
  if (!f.malformed && (f.family == Family::IPv4 || f.family == Family::IPv6)) next.flow = track(f, src, dst, now);
  // Not for a frame attributed by its port: the next frame that looks the same (same
  // MACs) may be the honest owner's.
  if (shortcut_ && !by_port && next.flow && (!next.tx || next.peer)) {
    next.bytes = bytes;
    next.is_broadcast = f.broadcast;
    next.is_isolated = isolated;
    next.slots = {src, dst};
    repeat_ = next;
  }
  return {src, dst};
}

void Aggregator::countRouterDiscovery(const FrameInfo& f, uint32_t src, uint32_t dst) noexcept {
  // A malformed or truncated frame never gets here: the decoder sets icmp_type only from a
  // consistent, captured ICMPv6 header, the last header it reads (packet_decode.h).
  if (f.icmp_type == ndp::kRouterSolicitation) {
    // What the jail asked for; solicitations a jail receives (another jail's multicast
    // ones, for routers) are not counted: only routers act on them.
    if (src != kNoSlot) ++jails_[src].router_solicitations;
    return;
  }
  // A router advertisement. Sent by a jail: that jail is acting as a router on the
  // segment (a rogue RA, unless it is meant to be one).
  if (src != kNoSlot) ++jails_[src].router_advertisements[kTransmit];
  // From one jail on an isolating bridge: delivered to no other jail, multicast included
  // (FreeBSD sys/net/if_bridge.c bridge_broadcast skips a private destination when the
  // source member is private too; Linux net/bridge/br_forward.c should_deliver refuses
  // isolated-to-isolated, br_skb_isolated) — add() has the unicast case.
  if (isolating_ && src != kNoSlot) return;
  if (!f.broadcast && !f.multicast) {
    if (dst != kNoSlot) ++jails_[dst].router_advertisements[kReceive];
    return;
  }
  // Multicast (RFC 4861 6.2.6: to the all-nodes group ff02::1) or broadcast: every jail on
  // the bridge but the sender receives a copy. Unlike other multicasts (docs/metrics.md),
  // those copies are certain: FreeBSD's bridge does no multicast snooping (if_bridge.c
  // bridge_broadcast floods every multicast to every member), and a snooping Linux bridge
  // floods all-nodes traffic to every port (RFC 4541 section 3; net/bridge/br_multicast.c
  // br_multicast_ipv6_rcv restricts no non-MLD frame to ff02::1). One copy per jail, not per
  // interface: a jail with two interfaces on the bridge receives two (the kernel's
  // Icmp6InRouterAdvertisements counts both). This is the one fan-out in the capture: a loop over the
  // bridge's jails, which a frame on the hot path could not afford (1000 jails: 1000
  // counters per frame), but RAs are rare — a router sends one every few seconds at most
  // (RFC 4861 6.2.1, MinRtrAdvInterval >= 3 s; vnetd's every 10–30 s, plus answers to
  // solicitations) — and only type 134 frames come here.
  for (uint32_t s = 0; s < jails_.size(); ++s)
    if (s != src) ++jails_[s].router_advertisements[kReceive];
}

uint64_t* Aggregator::countExpose(const FrameInfo& f, uint32_t dst) noexcept {
  // Only a frame that opens a connection: a bare SYN (not a SYN-ACK, not a retransmitted
  // segment of an open one), or a datagram. A repeated SYN (the client's retransmission)
  // counts again, as it is another attempt on the wire.
  const bool syn = f.protocol == Protocol::Tcp && (f.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  if (!syn && f.protocol != Protocol::Udp) return nullptr;
  const auto& watches = attribution_->exposes();
  const size_t len = f.family == Family::IPv4 ? 4 : 16;
  for (size_t i = 0; i < watches.size(); ++i) {
    const auto& w = watches[i];
    if (w.slot != dst || w.protocol != f.protocol || w.family != f.family || f.dst_port < w.first ||
        f.dst_port > w.last || std::memcmp(w.address.data(), f.dst_ip.data(), len) != 0)
      continue;
    ++exposes_[i];
    // A datagram repeated by the shortcut counts there too; a SYN never takes it.
    return f.protocol == Protocol::Udp ? &exposes_[i] : nullptr;
  }
  return nullptr;
}

FlowTable::Flow* Aggregator::track(const FrameInfo& f, uint32_t src, uint32_t dst, uint32_t now) noexcept {
  FlowTable::Key key;
  key.family = static_cast<uint8_t>(f.family);
  key.protocol = static_cast<uint8_t>(f.protocol);
  uint64_t from[2], to[2];
  if (f.family == Family::IPv4) {
    // The same words as the 16-byte copies below give (bytes 4..15 are zero), from 4-byte
    // loads: the decoder has just stored the address with one 4-byte store, and an
    // 8-byte load spanning it and older stores would wait for both to retire.
    uint32_t s4, d4;
    std::memcpy(&s4, f.src_ip.data(), 4);
    std::memcpy(&d4, f.dst_ip.data(), 4);
    int shift = std::endian::native == std::endian::little ? 0 : 32;
    from[0] = uint64_t{s4} << shift;
    to[0] = uint64_t{d4} << shift;
    from[1] = to[1] = 0;
  } else {
    std::memcpy(from, f.src_ip.data(), sizeof from);
    std::memcpy(to, f.dst_ip.data(), sizeof to);
  }
  // Any total order will do, as long as both directions agree on it.
  bool from_a = from[0] != to[0] ? from[0] < to[0] : from[1] != to[1] ? from[1] < to[1] : f.src_port <= f.dst_port;
  const uint64_t* lo = from_a ? from : to;
  const uint64_t* hi = from_a ? to : from;
  key.a[0] = lo[0];
  key.a[1] = lo[1];
  key.b[0] = hi[0];
  key.b[1] = hi[1];
  setPortsAndKind(key, from_a ? f.src_port : f.dst_port, from_a ? f.dst_port : f.src_port, key.family,
                  key.protocol);

  bool tcp = f.protocol == Protocol::Tcp;
  bool rst = tcp && (f.tcp_flags & kTcpRst);
  bool fin = tcp && (f.tcp_flags & kTcpFin);
  bool bare_syn = tcp && (f.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  auto opened = [&](FlowTable::Flow& flow) {
    if (src != kNoSlot) ++jails_[src].flows_opened[kTransmit];
    if (dst != kNoSlot) ++jails_[dst].flows_opened[kReceive];
    activate(flow, +1);
  };

  FlowTable::Flow* flow = flows_.find(key);
  if (!flow) {
    if (rst) return nullptr;  // a reset of a connection never seen opens nothing
    flow = flows_.insert(key);
    if (!flow) {
      ++bridge_.flow_table_full;
      return nullptr;
    }
    flow->jail_a = from_a ? src : dst;
    flow->jail_b = from_a ? dst : src;
    opened(*flow);
  } else if (flow->closed && bare_syn) {
    // The same 5-tuple connecting again (a port reused after TIME_WAIT): a new flow.
    flow->closed = false;
    flow->fin = 0;
    opened(*flow);
  }
  flow->last_seen = now;
  if (flow->closed) return nullptr;
  if (fin) flow->fin |= from_a ? 1 : 2;
  if (rst || flow->fin == 3) {
    flow->closed = true;
    activate(*flow, -1);
  }
  // A SYN may reopen a closed flow, a FIN or RST close one: a repeat of such a frame
  // needs the whole path again.
  bool plain = !tcp || (f.tcp_flags & (kTcpSyn | kTcpFin | kTcpRst)) == 0;
  return plain ? flow : nullptr;
}

void Aggregator::expire(uint32_t now, size_t budget) {
  repeat_ = Repeat{};  // an erase moves flows
  uint32_t linger = std::min(kClosedLingerSeconds, idle_timeout_);
  flows_.sweep(budget, [&](const FlowTable::Flow& f) {
    uint32_t idle = now - f.last_seen;  // monotonic time: never negative
    if (idle < (f.closed ? linger : idle_timeout_)) return false;
    if (!f.closed) activate(f, -1);
    return true;
  });
}

CaptureSnapshot Aggregator::snapshot(bool capturing) const {
  CaptureSnapshot s;
  s.attribution = attribution_;
  s.jails = jails_;
  s.exposes = exposes_;
  for (uint32_t slot = 0; slot < s.jails.size(); ++slot) s.jails[slot].flows = active_[slot];
  s.peers.reserve(peers_.size());
  peers_.forEach([&](uint32_t jail, uint32_t peer, uint64_t bytes) { s.peers.push_back({jail, peer, bytes}); });
  s.bridge = bridge_;
  s.capturing = capturing;
  return s;
}

// ---------------------------------------------------------------------------- families

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr const char* kFamilyNames[kFamilies] = {"other", "ipv4", "ipv6"};
constexpr const char* kProtocolNames[kProtocols] = {"other", "tcp", "udp", "icmp", "icmp6", "arp"};

// Every (family, protocol) cell the decoder produces (collectors/packet_decode.cc: an IPv4
// protocol number becomes tcp, udp, icmp or other; an IPv6 next header tcp, udp, icmp6 or
// other; anything else is arp or other — a malformed frame keeps what was decoded so far,
// which is one of these too; tests/fuzz/fuzz_packet.cc checks exactly these invariants).
// Each is exported for every jail from 0.
constexpr std::pair<Family, Protocol> kTrafficCells[] = {
    {Family::IPv4, Protocol::Tcp},   {Family::IPv4, Protocol::Udp},   {Family::IPv4, Protocol::Icmp},
    {Family::IPv4, Protocol::Other}, {Family::IPv6, Protocol::Tcp},   {Family::IPv6, Protocol::Udp},
    {Family::IPv6, Protocol::Icmp6}, {Family::IPv6, Protocol::Other}, {Family::Other, Protocol::Arp},
    {Family::Other, Protocol::Other}};

constexpr bool isTrafficCell(size_t fam, size_t proto) {
  for (const auto& [f, p] : kTrafficCells)
    if (static_cast<size_t>(f) == fam && static_cast<size_t>(p) == proto) return true;
  return false;
}

using exposition::add;
using exposition::family;

void accumulate(JailTotals& into, const JailTotals& from) {
  for (size_t d = 0; d < 2; ++d) {
    for (size_t fam = 0; fam < kFamilies; ++fam)
      for (size_t p = 0; p < kProtocols; ++p) {
        into.traffic[d][fam][p].bytes += from.traffic[d][fam][p].bytes;
        into.traffic[d][fam][p].packets += from.traffic[d][fam][p].packets;
      }
    into.tcp_syn[d] += from.tcp_syn[d];
    into.tcp_rst[d] += from.tcp_rst[d];
    into.tcp_fin[d] += from.tcp_fin[d];
    into.flows_opened[d] += from.flows_opened[d];
  }
  into.broadcast += from.broadcast;
  into.router_solicitations += from.router_solicitations;
  into.router_advertisements[kReceive] += from.router_advertisements[kReceive];
  into.router_advertisements[kTransmit] += from.router_advertisements[kTransmit];
  into.spoofed += from.spoofed;
  into.flows += from.flows;
}

}  // namespace

std::vector<MetricFamily> captureFamilies(const std::vector<BridgeView>& bridges) {
  if (bridges.empty()) return {};
  // A jail on two captured bridges is one set of series: its counters are summed.
  std::map<std::string, JailTotals> jails;
  std::map<std::pair<std::string, std::string>, uint64_t> peers;
  std::map<std::pair<std::string, std::string>, uint64_t> exposes;  // (jail, forward) → frames
  const std::string external = "external";
  // Sampled capture ([capture] sample = N, one setting for every bridge): counts of
  // frames, bytes and per-frame events are estimates, the sampled counts x N, and every
  // such series carries sample="N" (docs/metrics.md, "Sampled capture"). Flows are
  // labelled but not scaled (a flow shows when one of its frames was sampled).
  uint32_t n = 1;
  for (const auto& v : bridges)
    if (v.snapshot) n = std::max(n, v.snapshot->sample);
  const std::string sample_text = std::to_string(n);
  auto labelled = [&](std::vector<ClientMetric::Label> labels) {
    if (n > 1) labels.push_back({"sample", sample_text});
    return labels;
  };
  auto scaled = [&](uint64_t v) { return static_cast<double>(v) * n; };

  MetricFamily packets = family("vnetd_capture_packets_total", "Frames the capture saw on the bridge.",
                                MetricType::Counter);
  MetricFamily dropped = family("vnetd_capture_dropped_packets_total",
                                "Frames the capture lost, as pcap_stats reports them: where=kernel (capture "
                                "buffer full), where=interface (dropped by the interface or its driver).",
                                MetricType::Counter);
  MetricFamily unattributed = family("vnetd_capture_unattributed_packets_total",
                                     "Frames on the bridge neither sent nor received by a jail vnetd records.",
                                     MetricType::Counter);
  MetricFamily malformed = family("vnetd_capture_malformed_packets_total",
                                  "Frames whose headers are impossible (lengths past the frame, bad versions).",
                                  MetricType::Counter);
  MetricFamily table_full = family("vnetd_capture_flow_table_full_packets_total",
                                   "Frames of new flows not tracked because the bridge's flow table was full "
                                   "([capture] max_flows).",
                                   MetricType::Counter);
  MetricFamily peer_full = family("vnetd_capture_peer_table_full_packets_total",
                                  "Frames whose bytes could not be counted per peer because the bridge's peer "
                                  "table was full.",
                                  MetricType::Counter);
  MetricFamily isolated = family("vnetd_capture_isolated_packets_total",
                                 "Frames from one jail to another on a bridge with private members: the bridge "
                                 "does not deliver them (counted as the sender's transmit only).",
                                 MetricType::Counter);
  MetricFamily up = family("vnetd_capture_up", "1 while the capture on the bridge is open, else 0.",
                           MetricType::Gauge);
  MetricFamily buffer = family("vnetd_capture_buffer_bytes",
                               "Kernel buffer the open capture on the bridge got (FreeBSD: each of BPF's two "
                               "buffers, capped by net.bpf.maxbufsize; Linux: the TPACKET ring); absent while "
                               "the capture is not open.",
                               MetricType::Gauge);
  MetricFamily sample = family("vnetd_capture_sample",
                               "[capture] sample: the kernel's filter passes about 1 frame in this many to the "
                               "capture (1: every frame); series with a sample label are estimates scaled by it.",
                               MetricType::Gauge);
  MetricFamily recorder = family("vnetd_flight_recorder_bytes",
                                 "Bytes allocated for the flight recorder's per-jail rings on the bridge "
                                 "(slots allocated x (snaplen + 24); a jail's ring grows to flight_recorder_packets).",
                                 MetricType::Gauge);

  for (const auto& v : bridges) {
    const CaptureSnapshot* s = v.snapshot.get();
    BridgeTotals b = s ? s->bridge : BridgeTotals{};
    std::vector<ClientMetric::Label> label = {{"bridge", v.bridge}};
    add(packets, label, static_cast<double>(b.packets));
    add(dropped, {{"bridge", v.bridge}, {"where", "kernel"}}, static_cast<double>(b.dropped_kernel));
    add(dropped, {{"bridge", v.bridge}, {"where", "interface"}}, static_cast<double>(b.dropped_interface));
    add(unattributed, labelled(label), scaled(b.unattributed));
    add(malformed, labelled(label), scaled(b.malformed));
    add(table_full, label, static_cast<double>(b.flow_table_full));
    add(peer_full, label, static_cast<double>(b.peer_table_full));
    add(isolated, labelled(label), scaled(b.isolated));
    add(sample, label, s ? s->sample : n);
    add(up, label, s && s->capturing ? 1 : 0);
    if (s && s->capture_buffer_bytes != 0) add(buffer, label, static_cast<double>(s->capture_buffer_bytes));
    add(recorder, label, s ? static_cast<double>(s->flight_recorder_bytes) : 0);

    const Attribution* now = v.current.get();
    if (now)
      for (const auto& name : now->names()) jails.try_emplace(name);
    if (!s) continue;
    const Attribution& then = *s->attribution;
    auto present = [&](uint32_t slot) { return now && now->slotOf(then.name(slot)) != kNoSlot; };
    for (uint32_t slot = 0; slot < s->jails.size(); ++slot)
      if (present(slot)) accumulate(jails[then.name(slot)], s->jails[slot]);
    for (const auto& p : s->peers) {
      if (!present(p.jail) || (p.peer != kNoSlot && !present(p.peer))) continue;
      peers[{then.name(p.jail), p.peer == kNoSlot ? external : then.name(p.peer)}] += p.bytes;
    }
    // Every forward the table in force watches is there from 0.
    if (now)
      for (const auto& w : now->exposes()) exposes.try_emplace({w.jail, w.expose}, 0);
    for (size_t i = 0; i < s->exposes.size() && i < then.exposes().size(); ++i) {
      const auto& w = then.exposes()[i];
      if (present(w.slot)) exposes[{w.jail, w.expose}] += s->exposes[i];
    }
  }

  MetricFamily traffic[2][2] = {
      {family("vnetd_jail_traffic_receive_bytes_total",
              "Bytes of frames the jail received, seen by the bridge capture (Ethernet header included; "
              "broadcasts and multicasts count for their sender only).",
              MetricType::Counter),
       family("vnetd_jail_traffic_receive_packets_total",
              "Frames the jail received, seen by the bridge capture (an offloaded super-frame is one).",
              MetricType::Counter)},
      {family("vnetd_jail_traffic_transmit_bytes_total",
              "Bytes of frames the jail sent, seen by the bridge capture (Ethernet header included).",
              MetricType::Counter),
       family("vnetd_jail_traffic_transmit_packets_total",
              "Frames the jail sent, seen by the bridge capture (an offloaded super-frame is one).",
              MetricType::Counter)}};
  // [direction][SYN, RST, FIN]
  MetricFamily tcp[2][3] = {
      {family("vnetd_jail_tcp_receive_syn_segments_total",
              "TCP segments with SYN set (SYN and SYN-ACK) the jail received.", MetricType::Counter),
       family("vnetd_jail_tcp_receive_rst_segments_total", "TCP segments with RST set the jail received.",
              MetricType::Counter),
       family("vnetd_jail_tcp_receive_fin_segments_total", "TCP segments with FIN set the jail received.",
              MetricType::Counter)},
      {family("vnetd_jail_tcp_transmit_syn_segments_total",
              "TCP segments with SYN set (SYN and SYN-ACK) the jail sent.", MetricType::Counter),
       family("vnetd_jail_tcp_transmit_rst_segments_total", "TCP segments with RST set the jail sent.",
              MetricType::Counter),
       family("vnetd_jail_tcp_transmit_fin_segments_total", "TCP segments with FIN set the jail sent.",
              MetricType::Counter)}};
  MetricFamily flows = family("vnetd_jail_flows", "Active 5-tuple flows the jail takes part in.", MetricType::Gauge);
  MetricFamily opens[2] = {
      family("vnetd_jail_flows_receive_opens_total",
             "Flows opened by a frame the jail received (the other end spoke first).", MetricType::Counter),
      family("vnetd_jail_flows_transmit_opens_total", "Flows opened by a frame the jail sent (it spoke first).",
             MetricType::Counter)};
  MetricFamily peer = family("vnetd_jail_peer_transmit_bytes_total",
                             "Bytes the jail sent to a peer: another jail on the bridge, or external.",
                             MetricType::Counter);
  MetricFamily broadcast = family("vnetd_jail_broadcast_transmit_packets_total",
                                  "Broadcast frames (to ff:ff:ff:ff:ff:ff) the jail sent.", MetricType::Counter);
  MetricFamily solicitations = family("vnetd_jail_router_solicitations_transmit_packets_total",
                                      "ICMPv6 router solicitations (type 133) the jail sent, seen by the bridge "
                                      "capture.",
                                      MetricType::Counter);
  MetricFamily advertisements[2] = {
      family("vnetd_jail_router_advertisements_receive_packets_total",
             "ICMPv6 router advertisements (type 134) the jail received, seen by the bridge capture: unicast to the "
             "jail, and each multicast or broadcast one on the bridge once for every jail but its sender.",
             MetricType::Counter),
      family("vnetd_jail_router_advertisements_transmit_packets_total",
             "ICMPv6 router advertisements (type 134) the jail sent: it acts as a router on the bridge (a rogue RA "
             "unless it is meant to).",
             MetricType::Counter)};
  MetricFamily spoofed = family("vnetd_jail_spoofed_transmit_packets_total",
                                "Frames the jail sent from its own port with a source MAC that is not the one "
                                "vnetd recorded for it (the jail changed its MAC); they count as its traffic "
                                "by port, not as the MAC owner's.",
                                MetricType::Counter);

  // Every series of every jail the capture knows is there from 0 (Prometheus's advice
  // for counters: a series born at its first event hides that event from increase() and
  // rate(), and an alert on the first TCP reset never fires). That is 54 series per jail;
  // exporters/text_exposition.h writes them fast enough (1000 jails: a few ms). Only the
  // (jail, peer) pairs appear with their first byte: a full mesh would be n^2 series.
  // Sampled (sample = N): every count that comes from sampled frames is an estimate,
  // scaled by N and labelled sample="N" (labelled(), scaled()).
  for (auto& f : traffic[0]) f.metric.reserve(jails.size() * std::size(kTrafficCells));
  for (auto& f : traffic[1]) f.metric.reserve(jails.size() * std::size(kTrafficCells));
  auto counter = [&](MetricFamily& f, std::vector<ClientMetric::Label> labels, uint64_t v) {
    add(f, labelled(std::move(labels)), scaled(v));
  };
  for (const auto& [name, t] : jails) {
    for (size_t d = 0; d < 2; ++d) {
      for (size_t fam = 0; fam < kFamilies; ++fam)
        for (size_t p = 0; p < kProtocols; ++p) {
          const TrafficCounter& c = t.traffic[d][fam][p];
          // A cell the decoder never produces (ARP over IPv6) only if it somehow counted.
          if (c.packets == 0 && !isTrafficCell(fam, p)) continue;
          std::vector<ClientMetric::Label> labels = {
              {"jail", name}, {"family", kFamilyNames[fam]}, {"protocol", kProtocolNames[p]}};
          labels = labelled(std::move(labels));
          add(traffic[d][0], labels, scaled(c.bytes));
          add(traffic[d][1], std::move(labels), scaled(c.packets));
        }
      counter(tcp[d][0], {{"jail", name}}, t.tcp_syn[d]);
      counter(tcp[d][1], {{"jail", name}}, t.tcp_rst[d]);
      counter(tcp[d][2], {{"jail", name}}, t.tcp_fin[d]);
      // Not scaled: a flow opens at its first *sampled* frame.
      add(opens[d], labelled({{"jail", name}}), static_cast<double>(t.flows_opened[d]));
    }
    add(flows, labelled({{"jail", name}}), static_cast<double>(t.flows));
    counter(broadcast, {{"jail", name}}, t.broadcast);
    // Sampled: estimates like the other per-frame counts (an RA every 10–30 s at 1 in N is
    // mostly 0 or N per frame sampled: docs/metrics.md says to alert on them unsampled).
    counter(solicitations, {{"jail", name}}, t.router_solicitations);
    counter(advertisements[kReceive], {{"jail", name}}, t.router_advertisements[kReceive]);
    counter(advertisements[kTransmit], {{"jail", name}}, t.router_advertisements[kTransmit]);
    // Exact: the spoofing guards are captures of their own, never sampled.
    add(spoofed, {{"jail", name}}, static_cast<double>(t.spoofed));
  }
  for (const auto& [key, bytes] : peers)
    add(peer, labelled({{"jail", key.first}, {"peer", key.second}}), scaled(bytes));
  MetricFamily expose = family("vnetd_jail_expose_connections_total",
                               "Connections arriving at a jail's port forward (expose), seen by the bridge capture: "
                               "TCP segments with SYN and no ACK, and UDP datagrams, to the jail's address and jail "
                               "port (forwarded or not).",
                               MetricType::Counter);
  for (const auto& [key, frames] : exposes) counter(expose, {{"jail", key.first}, {"expose", key.second}}, frames);

  std::vector<MetricFamily> out;
  for (auto& d : traffic)
    for (auto& f : d) out.push_back(std::move(f));
  for (auto& d : tcp)
    for (auto& f : d) out.push_back(std::move(f));
  for (auto* f : {&flows, &opens[0], &opens[1], &peer, &broadcast, &solicitations, &advertisements[kReceive],
                  &advertisements[kTransmit], &spoofed, &expose, &packets, &dropped, &unattributed,
                  &malformed, &table_full, &peer_full, &isolated, &up, &buffer, &sample, &recorder})
    out.push_back(std::move(*f));
  return out;
}

}  // namespace vnetd::collectors
