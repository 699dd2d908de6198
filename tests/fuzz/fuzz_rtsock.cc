// Fuzzes the FreeBSD routing-socket decoders (pure code, built on every OS): the event
// translator (message splitting by msglen, the per-type minimum lengths, the sockaddr
// walk of address messages and the rename/link-state memory) and the RTM_GET reply
// decoder of default_route.h, whose result also goes through the default-route plan.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "platform/freebsd/default_route.h"
#include "platform/freebsd/rtsock_decode.h"

namespace {

namespace fb = vnetd::platform::fbsd;

void fuzzDefaultRouteReply(std::span<const std::byte> bytes, vnetd::IpFamily family) {
  // Match pid and sequence to the input's own, so the body decoding is reached.
  int32_t pid = 0, seq = 0;
  if (bytes.size() >= fb::kRtMsghdrSize) {
    std::memcpy(&pid, bytes.data() + fb::kRtmPidOffset, sizeof pid);
    std::memcpy(&seq, bytes.data() + fb::kRtmSeqOffset, sizeof seq);
  }
  fb::RouteReply reply = fb::decodeDefaultRouteReply(bytes, family, pid, seq);
  if (reply.kind != fb::RouteReply::Kind::Found) return;
  // Whatever the kernel may say is copied out of the message, never past it.
  if (reply.route.gateway_sockaddr.size() > bytes.size()) __builtin_trap();
  vnetd::IpAddress ours;
  ours.family = family;
  ours.bytes[0] = family == vnetd::IpFamily::V4 ? 198 : 0x20;
  auto plan = fb::planDefaultRoute(reply.route, ours);
  if (!plan) return;
  for (const fb::RouteOp& op : *plan) {
    // Deletes name the nexthop the reply named; adds and changes only ever use ours.
    if (op.kind != fb::RouteOp::Kind::Delete && op.gateway != fb::sockaddrOf(ours))
      __builtin_trap();
    (void)fb::encodeDefaultRouteRequest(fb::kRtmDelete, family, 1, op.gateway);
  }
  // "Nothing to do" only when the route already is ours.
  if (plan->empty() && (reply.route.multipath() || reply.route.gateway != ours))
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vnetd::platform::fbsd::RtsockEventTranslator;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  // Keeps state across inputs, like the daemon; a fresh one sees the first-sighting paths.
  static RtsockEventTranslator translator;
  RtsockEventTranslator fresh;
  std::vector<vnetd::platform::InterfaceEvent> events;
  translator.translate(bytes, events);
  fresh.translate(bytes, events);
  // The same bytes split in two, as if they had come in two recv()s.
  size_t half = size / 2;
  fresh.translate(bytes.first(half), events);
  fresh.translate(bytes.subspan(half), events);
  for (const auto& e : events) {
    // Every reported address must be a well-formed prefix.
    if (e.address && e.address->prefix > e.address->address.length() * 8) __builtin_trap();
  }
  fuzzDefaultRouteReply(bytes, vnetd::IpFamily::V4);
  fuzzDefaultRouteReply(bytes, vnetd::IpFamily::V6);
  return 0;
}
