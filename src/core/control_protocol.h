// The control protocol between vnetd-hook / vnetctl and the daemon: one JSON object per
// line, each way, versioned ({"v":1,...}).
//
// Requests come from local clients, but the daemon treats them as untrusted bytes: the
// decoder is a pure function that never throws, bounds the size, rejects unknown fields
// and validates names before anything acts on them. Fuzzed by tests/fuzz/fuzz_control.cc.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/jail_network.h"
#include "core/result.h"

namespace vnetd::control {

inline constexpr int kProtocolVersion = 1;
// A request is a few hundred bytes; anything near this is garbage or hostile.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

enum class Op { Ping, Hook, Status, Reload };
const char* opName(Op op);

struct Request {
  Op op = Op::Ping;
  std::optional<HookPhase> phase;  // Hook only
  std::string jail;                // Hook: required; Status: optional filter ("" = all)
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

}  // namespace vnetd::control
