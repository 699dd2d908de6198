// devd(8) event lines → platform-neutral InterfaceEvents. Pure, platform-neutral,
// unit-tested on Linux.
//
// devd sends one event per SOCK_SEQPACKET record: a prefix ('!' notify, '+' attach,
// '-' detach, '?' nomatch) then space-separated key=value pairs; a value may be
// "double-quoted" (with spaces inside). The kernel's notify format is
// "!system=%s subsystem=%s type=%s[ %s]\n". Device attach/detach/nomatch records have
// the form "+<device> at <key=value...> on <bus>" ('?' records have no device name).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "platform/events.h"

namespace vnetd::platform::fbsd {

struct DevdEvent {
  char kind = 0;  // '!', '+', '-', '?'
  // system, subsystem, type, ... For '+'/'-'/'?' records also "device-name" (the word
  // after the prefix, '+'/'-' only) and "bus" (the word after "on"), as devd names them.
  std::map<std::string, std::string> fields;
};

// Parses one devd record (one trailing newline optional). nullopt for anything that is
// not a well-formed devd record: empty, no prefix, no fields, an unterminated quote or
// text glued to a closing quote, a key without '=' (outside the device-record words
// above), a key outside [A-Za-z0-9_.-], NUL bytes or other control characters.
// A repeated key keeps its last value.
std::optional<DevdEvent> parseDevdRecord(std::string_view record);

// IFNET notifications → InterfaceEvent (source "devd", index 0: devd does not say), for
// the types the kernel sends only for the host's vnet (IS_DEFAULT_VNET in sys/net/if.c
// if_attach_internal, if_detach_internal, do_link_state_change): ATTACH → Arrived,
// DETACH → Departed, LINK_UP/LINK_DOWN. RENAME and ADDR_ADD/ADDR_DEL also arrive for
// every jail's vnet, indistinguishable from the host's, and give nullopt: renames and
// addresses are the routing socket's to report. Other systems and types, and interface
// names that fail isValidInterfaceName → nullopt.
std::optional<InterfaceEvent> devdInterfaceEvent(const DevdEvent& event);

}  // namespace vnetd::platform::fbsd
