// Where the configuration puts the control socket ([daemon] control_socket), read without
// the TOML library: the thin vnetd-hook looks up this one key before it talks to the
// daemon, and leaves every other question about the file to the full implementation.
//
// A scanner of outside bytes, and a deliberately conservative one: it answers only when it
// is sure that the configuration loader (core/config.h, toml++) would read the same from a
// file it accepts, and says Unsure for anything it does not fully follow — multi-line
// strings, escapes in keys or in the path, an inline `daemon = {...}` table, `[[daemon]]`,
// the key given twice, a path that is not absolute or too long for a socket, lexical
// oddities. The thin hook then hands the whole invocation to the standalone
// implementation, which loads the file as vnetd-hook always did. Pure; fuzzed against the
// real loader by tests/fuzz/fuzz_control_socket_scan.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vnetd {

struct ControlSocketScan {
  enum class Answer {
    Found,   // `path` is [daemon] control_socket
    Absent,  // the file does not set it: the compiled-in default applies
    Unsure,  // ask the configuration loader
  };
  Answer answer = Answer::Unsure;
  std::string path;  // Found only
};

// Files larger than this are not scanned (Unsure): a configuration is a few kilobytes.
inline constexpr size_t kMaxScannedConfigBytes = 1 << 20;

ControlSocketScan scanControlSocket(std::string_view toml);

}  // namespace vnetd
