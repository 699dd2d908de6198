// Fuzzes the thin vnetd-hook's reply decoder (core/hook_wire.h) against the protocol's JSON
// decoder (control_protocol.cc, nlohmann): for every line both give the same answer — the
// same interface names and changed flag, or the same message — and never crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/control_protocol.h"
#include "core/hook_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::control;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto thin = decodeHookReplyLine(line);
  auto full = decodeHookReply(line);
  if (thin.ok() != full.ok()) std::abort();
  if (full) {
    if (thin->changed != full->changed || thin->jail_side_names != full->jail_side_names) std::abort();
  } else if (thin.error().message() != full.error().message()) {
    std::abort();
  }
  return 0;
}
