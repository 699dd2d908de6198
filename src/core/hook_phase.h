// The five jail(8) hook phases vnetd-hook serves, and their names on the command line and
// in the control protocol. Apart from jail_network.h so that the thin vnetd-hook (which
// links no config, state or platform code) can name them.
#pragma once

#include <optional>
#include <string_view>

namespace vnetd {

// In jail(8)'s order.
enum class HookPhase { Prestart, Created, Poststart, Prestop, Poststop };
const char* hookPhaseName(HookPhase phase);
std::optional<HookPhase> parseHookPhase(std::string_view text);

}  // namespace vnetd
