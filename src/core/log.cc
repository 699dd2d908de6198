#include "core/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace vnetd::log {
namespace {

std::atomic<Level> g_level{Level::Info};
std::atomic<Sink> g_sink{Sink::Stderr};
const char* g_ident = "vnetd";

int syslogPriority(Level level) {
  switch (level) {
    case Level::Error: return LOG_ERR;
    case Level::Warning: return LOG_WARNING;
    case Level::Info: return LOG_INFO;
    case Level::Debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

std::optional<Level> parseLevel(std::string_view text) {
  if (text == "error") return Level::Error;
  if (text == "warning") return Level::Warning;
  if (text == "info") return Level::Info;
  if (text == "debug") return Level::Debug;
  return std::nullopt;
}

const char* levelName(Level level) {
  switch (level) {
    case Level::Error: return "error";
    case Level::Warning: return "warning";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
  }
  return "info";
}

void init(Sink sink, Level level, const char* ident) {
  g_ident = ident;
  g_level = level;
  g_sink = sink;
  if (sink == Sink::Syslog) openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void setLevel(Level level) { g_level = level; }
Level level() { return g_level; }
bool enabled(Level level) { return static_cast<int>(level) <= static_cast<int>(g_level.load()); }

void write(Level lvl, const char* fmt, ...) {
  if (!enabled(lvl)) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_sink == Sink::Syslog) {
    syslog(syslogPriority(lvl), "%s", msg);
    return;
  }
  // One write(2) per line so concurrent threads never interleave within a line.
  char line[2200];
  int n = snprintf(line, sizeof line, "%s: %s%s\n", g_ident,
                   lvl == Level::Error     ? "error: "
                   : lvl == Level::Warning ? "warning: "
                                           : "",
                   msg);
  if (n > 0) {
    size_t len = static_cast<size_t>(n);
    if (len >= sizeof line) {  // truncated: keep the line terminated
      len = sizeof line - 1;
      line[len - 1] = '\n';
    }
    ssize_t ignored = ::write(STDERR_FILENO, line, len);
    (void)ignored;
  }
}

}  // namespace vnetd::log
