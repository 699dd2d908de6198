#include "core/hook_phase.h"

namespace vnetd {

const char* hookPhaseName(HookPhase phase) {
  switch (phase) {
    case HookPhase::Prestart: return "prestart";
    case HookPhase::Created: return "created";
    case HookPhase::Poststart: return "poststart";
    case HookPhase::Prestop: return "prestop";
    case HookPhase::Poststop: return "poststop";
  }
  return "?";
}

std::optional<HookPhase> parseHookPhase(std::string_view text) {
  for (HookPhase p : {HookPhase::Prestart, HookPhase::Created, HookPhase::Poststart, HookPhase::Prestop,
                      HookPhase::Poststop})
    if (text == hookPhaseName(p)) return p;
  return std::nullopt;
}

}  // namespace vnetd
