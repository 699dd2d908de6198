// The two lines of the control protocol (core/control_protocol.h) that vnetd-hook speaks
// on the daemon path — its request and the daemon's hook reply — without a JSON library,
// so that the thin vnetd-hook links nothing but libc and the C++ runtime.
//
// The decoder reads outside bytes (whatever answers on the control socket): pure, never
// throws, no recursion (any nesting depth is fine), and it gives exactly the answer of
// control::decodeHookReply (nlohmann JSON) for every input, messages included — which
// tests/fuzz/fuzz_hook_wire.cc checks by decoding every input with both.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/hook_phase.h"
#include "core/result.h"

namespace vnetd::control {

// {"jail":"web","op":"hook","phase":"prestart","v":1} — byte for byte what
// encodeRequest(Request{Op::Hook, phase, jail}) writes (nlohmann orders keys).
// Precondition: isValidJailName(jail) (nothing in a valid name needs escaping).
std::string encodeHookRequestLine(HookPhase phase, std::string_view jail);

struct HookReply {
  bool changed = false;
  std::vector<std::string> jail_side_names;  // valid interface names
};
// A hook reply line (without its newline): ok:true → the reply; ok:false → Error(the
// daemon's message as it is); anything else → Error (one line, the same as
// decodeHookReply's).
Result<HookReply> decodeHookReplyLine(std::string_view line);

}  // namespace vnetd::control
