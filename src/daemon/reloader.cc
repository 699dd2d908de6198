#include "daemon/reloader.h"

#include "core/log.h"

namespace vnetd::daemon {
namespace {

struct RestartOnlyKey {
  const char* name;
  std::string& (*field)(Config&);
};

// The list in reloader.h.
constexpr RestartOnlyKey kRestartOnly[] = {
    {"[daemon] control_socket", [](Config& c) -> std::string& { return c.daemon.control_socket; }},
    {"[daemon] control_group", [](Config& c) -> std::string& { return c.daemon.control_group; }},
    {"[daemon] state_dir", [](Config& c) -> std::string& { return c.daemon.state_dir; }},
    {"[daemon] pidfile", [](Config& c) -> std::string& { return c.daemon.pidfile; }},
    {"[daemon] host_id", [](Config& c) -> std::string& { return c.daemon.host_id; }},
    {"[metrics] listen", [](Config& c) -> std::string& { return c.metrics.listen; }},
    {"[metrics] path", [](Config& c) -> std::string& { return c.metrics.path; }},
};

// Read access through the same accessors (they only select a member).
const std::string& value(const RestartOnlyKey& key, const Config& c) { return key.field(const_cast<Config&>(c)); }

}  // namespace

std::vector<RestartOnlyChange> restartOnlyChanges(const Config& running, const Config& fresh) {
  std::vector<RestartOnlyChange> out;
  for (const auto& key : kRestartOnly)
    if (value(key, running) != value(key, fresh)) out.push_back({key.name, value(key, running), value(key, fresh)});
  return out;
}

void keepRestartOnly(const Config& running, Config& fresh) {
  for (const auto& key : kRestartOnly) key.field(fresh) = value(key, running);
}

Result<Config> Reloader::read(const Config& running) const {
  ConfigLoadResult loaded = loadConfigFile(path_);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) VNETD_LOG_ERROR("reload: %s", e.toString().c_str());
    return plainError("configuration not reloaded: " + loaded.errors.front().toString() +
                      (loaded.errors.size() > 1 ? " (and " + std::to_string(loaded.errors.size() - 1) + " more)" : "") +
                      "; the previous configuration stays in effect");
  }
  Config fresh = std::move(*loaded.config);
  // Saying so beats ignoring the change silently.
  for (const auto& c : restartOnlyChanges(running, fresh))
    VNETD_LOG_WARN("reload: %s changed (%s -> %s); takes effect at the next restart", c.key.c_str(), c.before.c_str(),
                   c.after.c_str());
  keepRestartOnly(running, fresh);
  return fresh;
}

}  // namespace vnetd::daemon
