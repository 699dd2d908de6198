// The control protocol between vnetd-hook / vnetctl and the daemon: one JSON object per
// line, each way, versioned ({"v":1,...}).
//
// Requests come from local clients, but the daemon treats them as untrusted bytes: the
// decoder is a pure function that never throws, bounds the size, rejects unknown fields
// and validates names before anything acts on them. Fuzzed by tests/fuzz/fuzz_control.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/jail_network.h"
#include "core/result.h"

namespace vnetd::control {

inline constexpr int kProtocolVersion = 1;
// A request is a few hundred bytes; anything near this is garbage or hostile.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

enum class Op { Ping, Hook, Status, Reload, Capture };
const char* opName(Op op);

// Bounds of a capture request (op capture), checked by decodeRequest.
inline constexpr uint32_t kMaxCaptureCount = 10'000'000;  // frames
inline constexpr uint32_t kMaxCaptureSeconds = 86'400;    // one day
inline constexpr uint32_t kMaxCaptureSnaplen = 262'144;   // libpcap's largest snapshot length
inline constexpr size_t kMaxCaptureFilterBytes = 1024;    // a BPF expression, printable ASCII

struct Request {
  Op op = Op::Ping;
  std::optional<HookPhase> phase;  // Hook only
  std::string jail;                // Hook, Capture: required; Status: optional filter ("" = all)
  // Capture only. A live capture ends after `count` frames or `seconds`, whichever comes
  // first (0 = that bound is off; not both). `last`: the jail's flight recorder instead of
  // a live capture — `count` then keeps only the newest frames (0 = all) and `seconds`
  // must be 0. `snaplen`: bytes kept per frame (0 = the daemon's default). `filter`: a
  // pcap-filter(7) expression, "" = none.
  uint32_t count = 0;
  uint32_t seconds = 0;
  uint32_t snaplen = 0;
  std::string filter{};  // (initialised: aggregate-initialised Requests may stop before it)
  bool last = false;
  friend bool operator==(const Request&, const Request&) = default;
};

// One request line (without the trailing newline). Errors are one line, meant to be
// sent back to the client as they are.
Result<Request> decodeRequest(std::string_view line);
// The canonical line for a request (no newline); decodeRequest(encodeRequest(r)) == r.
std::string encodeRequest(const Request& request);
// {"v":1,"ok":false,"error":"..."} (no newline).
std::string encodeError(std::string_view message);

// Replies. Every reply is one line {"v":1,"ok":true|false,...}; ok:false carries "error".
// {"v":1,"ok":true,"changed":bool,"jail_side_names":[...]}
std::string encodeHookReply(const HookOutcome& outcome);
// The hook reply as the client sees it: ok:false becomes an Error carrying the daemon's
// message as it is (vnetd-hook prints it like its own); a malformed line is an error too.
Result<HookOutcome> decodeHookReply(std::string_view line);
// Any reply: ok:true → success; ok:false → Error(message); malformed → Error.
Result<void> decodeReplyStatus(std::string_view line);

// The first line of a successful capture reply; the raw pcap stream (file header, then
// records: the bytes of a pcap file) follows it on the connection until the daemon
// closes it. {"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":262144}; `bridge`
// names the captured bridges, comma-separated when the jail is on several.
struct CaptureHeader {
  std::string bridge;
  uint32_t linktype = 0;  // pcap LINKTYPE_ (1 = Ethernet)
  uint32_t snaplen = 0;
  uint32_t sample = 1;  // flight recorder of a sampled capture: about 1 frame in this many
  friend bool operator==(const CaptureHeader&, const CaptureHeader&) = default;
};
std::string encodeCaptureHeader(const CaptureHeader& header);
// ok:false → Error(the daemon's message); malformed (a bridge list that is not interface
// names, snaplen out of bounds) → Error.
Result<CaptureHeader> decodeCaptureHeader(std::string_view line);

}  // namespace vnetd::control
