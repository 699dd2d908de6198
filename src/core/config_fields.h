// Typed readers for one value of a TOML table: each returns the value, or reports what is
// wrong with it (type, range, syntax) at the value's FILE:LINE:COL and returns nothing, so
// that a bad value is left unset and causes no follow-up errors. Syntax rules owned by
// other modules are asked there (ip.h, naming.h, binary_amount.h); only their wording is
// the loader's.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config_errors.h"
#include "core/config_text.h"
#include "core/ip.h"

namespace vnetd {

Pos posOf(const toml::source_region& region);

// How messages name a table: "[capture]", "[jail.web] interface 0".
struct Scope {
  std::string name;
  std::string ref(std::string_view key) const { return name + " " + std::string(key); }
};

class FieldReader {
 public:
  explicit FieldReader(ConfigErrors& errors) : errors_(errors) {}

  // Position of `key` in `t`, or of the table when the key is absent.
  static Pos at(const toml::table& t, std::string_view key);

  void error(Pos pos, std::string message, std::string hint = {}) {
    errors_.add(pos, std::move(message), std::move(hint));
  }
  void typeError(const toml::node& node, std::string_view expected, const std::string& what,
                 std::string hint = {});
  // Every key of `t` not in `allowed`, with a suggestion.
  void checkKeys(const toml::table& t, const Scope& scope, config_text::Keys allowed);

  std::optional<std::string> getString(const toml::table& t, std::string_view key,
                                       const Scope& scope);
  // No key of the schema takes control characters; rejecting them here also keeps them
  // out of paths, names and messages.
  std::optional<std::string> checkedString(const std::string& value, Pos pos,
                                           const std::string& what);
  std::optional<int64_t> getInt(const toml::table& t, std::string_view key, const Scope& scope,
                                int64_t min, int64_t max);
  std::optional<uint32_t> getUint32(const toml::table& t, std::string_view key, const Scope& scope,
                                    int64_t min, int64_t max);
  std::optional<bool> getBool(const toml::table& t, std::string_view key, const Scope& scope);
  std::optional<std::string> getAbsolutePath(const toml::table& t, std::string_view key,
                                             const Scope& scope, const char* example);
  // naming.h interfaceNameProblem().
  std::optional<std::string> getInterfaceName(const toml::table& t, std::string_view key,
                                              const Scope& scope);
  // A host address with prefix length of `family` (a gateway on a bridge, a jail address):
  // not /0, not the network or broadcast address of an IPv4 subnet.
  std::optional<Cidr> getHostCidr(const toml::table& t, std::string_view key, const Scope& scope,
                                  IpFamily family);
  // An address of `family` without prefix length.
  std::optional<IpAddress> getAddress(const toml::table& t, std::string_view key,
                                      const Scope& scope, IpFamily family);
  // Bytes as an integer, or a string with a K/M/G suffix ("4M"), in min..max.
  std::optional<uint32_t> getSize(const toml::table& t, std::string_view key, const Scope& scope,
                                  int64_t min, int64_t max);

 private:
  std::optional<Cidr> parseHostCidr(const std::string& text, Pos pos, const std::string& what,
                                    std::string_view key, IpFamily family);

  ConfigErrors& errors_;
};

}  // namespace vnetd
