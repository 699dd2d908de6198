// Minimal logging: stderr when in the foreground, syslog(3) when daemonised.
//
// Not for hot paths (capture loop, per-event decoding): formatting and the write
// happen synchronously on the calling thread. Thread-safe: each line is emitted
// with a single write/syslog call.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vnetd::log {

enum class Level { Error = 0, Warning = 1, Info = 2, Debug = 3 };

enum class Sink { Stderr, Syslog };

// Parses "error" | "warning" | "info" | "debug" (case-sensitive, as in the config file).
std::optional<Level> parseLevel(std::string_view text);
const char* levelName(Level level);

// Process-wide setup; call from main() before starting threads. `ident` is the
// syslog identity (program name).
void init(Sink sink, Level level, const char* ident);
void setLevel(Level level);
Level level();
bool enabled(Level level);

// printf-style; a trailing newline is added.
void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace vnetd::log

#define VNETD_LOG_ERROR(...) ::vnetd::log::write(::vnetd::log::Level::Error, __VA_ARGS__)
#define VNETD_LOG_WARN(...) ::vnetd::log::write(::vnetd::log::Level::Warning, __VA_ARGS__)
#define VNETD_LOG_INFO(...)                                                              \
  do {                                                                                   \
    if (::vnetd::log::enabled(::vnetd::log::Level::Info))                                \
      ::vnetd::log::write(::vnetd::log::Level::Info, __VA_ARGS__);                       \
  } while (0)
#define VNETD_LOG_DEBUG(...)                                                             \
  do {                                                                                   \
    if (::vnetd::log::enabled(::vnetd::log::Level::Debug))                               \
      ::vnetd::log::write(::vnetd::log::Level::Debug, __VA_ARGS__);                      \
  } while (0)
