// The toml++-free half of the configuration: messages, jail lookup and file reading.
// Parsing and validation live in config_loader.cc.
#include "core/config.h"

#include <cerrno>
#include <cstring>

#include "core/file_util.h"

namespace vnetd {
namespace {

// Big enough for any hand-written config, small enough that a wrong path (a log, a
// device) cannot make the daemon allocate without bound.
constexpr size_t kMaxConfigFileBytes = 1u << 20;

}  // namespace

std::string ConfigError::toString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": " + message;
  if (!hint.empty()) out += " (" + hint + ")";
  return out;
}

std::optional<std::string> uplinkVlanKey(std::string_view uplink) {
  constexpr std::string_view kPrefix = "vlan:";
  if (!uplink.starts_with(kPrefix)) return std::nullopt;
  return std::string(uplink.substr(kPrefix.size()));
}

std::optional<JailConfig> Config::jailFor(const std::string& name) const {
  if (auto it = jails.find(name); it != jails.end()) return it->second;
  // Defensive even though it is a precondition: interfaceName() must never see a bad name.
  if (!jail_defaults || !isValidJailName(name)) return std::nullopt;
  JailConfig jail = *jail_defaults;
  jail.name = name;
  // Everything else (gateways, mtu) was filled from the bridges at load time; only the
  // names depend on the jail, and [jail_defaults] cannot configure them.
  for (InterfaceConfig& iface : jail.interfaces) {
    iface.host_side_name = interfaceName(name, iface.index, Side::A);
    iface.jail_side_name = interfaceName(name, iface.index, Side::B);
  }
  return jail;
}

ConfigLoadResult loadConfigFile(const std::string& path) {
  Result<std::string> text = readSmallFile(path, kMaxConfigFileBytes);
  if (!text.ok()) {
    ConfigError error;
    error.file = path;
    error.message = "cannot read: ";
    if (text.error().code == EFBIG) {
      error.message += std::strerror(EFBIG);
      error.hint = "a config file is at most 1 MiB";
    } else if (text.error().code != 0) {
      error.message += std::strerror(text.error().code);
    } else {
      error.message += "not a regular file";
    }
    ConfigLoadResult result;
    result.errors.push_back(std::move(error));
    return result;
  }
  return parseConfig(*text, path);
}

bool natWanted(const BridgeConfig& b) {
  return !b.nat.empty() && b.address && b.address->address.family == IpFamily::V4;
}

}  // namespace vnetd
