// TOML text -> validated Config, or every problem found, one line each: the orchestration.
//
// The only place in vnetd where exceptions are allowed: toml++ reports syntax errors by
// throwing, and everything is caught in parseConfig() so that nothing escapes to callers.
//
// Loading runs in two phases. The first (config_sections.h, through the typed readers of
// config_fields.h) walks the TOML tree table by table and checks what a single value can
// tell (type, range, syntax, unknown keys). The second (config_validate.h) checks
// relations between tables (references, subnets, duplicates, name collisions). A value
// that failed the first phase is left unset so that it does not cause follow-up errors in
// the second: one mistake, one line. Every error goes to one ConfigErrors list
// (config_errors.h) and comes back in file order.
#include <toml++/toml.h>

#include <cstdio>
#include <exception>
#include <utility>

#include "core/config.h"
#include "core/config_errors.h"
#include "core/config_fields.h"
#include "core/config_positions.h"
#include "core/config_sections.h"
#include "core/config_text.h"
#include "core/config_validate.h"
#include "core/hash.h"
#include "vnetd/build_config.h"

namespace vnetd {
namespace {

constexpr size_t kMaxSyntaxErrorLength = 400;

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)), errors_(source_) {}

  ConfigLoadResult run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(source_));
    } catch (const toml::parse_error& e) {
      // A syntax error leaves no tree to check further: it is the only error.
      errors_.add(posOf(e.source()),
                  config_text::show(e.description(), false, kMaxSyntaxErrorLength));
      return finish();
    }
    config_.source = source_;
    config_.daemon.control_socket = build::kDefaultControlSocket;
    config_.daemon.state_dir = build::kDefaultStateDir;
    config_.daemon.pidfile = build::kDefaultPidfile;

    ConfigPositions positions;
    readSections(root, config_, positions, errors_);
    validateConfig(config_, positions, errors_);
    return finish();
  }

  // For failures outside the tree walk (out of memory): one line, no position.
  ConfigLoadResult fail(const std::string& message) {
    errors_.clear();
    errors_.add(Pos{}, message);
    return finish();
  }

 private:
  ConfigLoadResult finish() {
    ConfigLoadResult result;
    if (errors_.empty()) {
      result.config = std::move(config_);
    } else {
      result.errors = errors_.take();
    }
    return result;
  }

  std::string source_;
  ConfigErrors errors_;
  Config config_;
};

}  // namespace

std::string configDigest(std::string_view text) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(StableHash().add(text).digest()));
  return hex;
}

ConfigLoadResult parseConfig(std::string_view text, const std::string& source_name) {
  try {
    ConfigLoadResult r = Loader(source_name).run(text);
    if (r.config) r.config->digest = configDigest(text);
    return r;
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here; the loader reports bad input as errors.
    try {
      return Loader(source_name).fail(std::string("cannot load configuration: ") + e.what());
    } catch (...) {
      return ConfigLoadResult{};
    }
  } catch (...) {
    return ConfigLoadResult{};
  }
}

}  // namespace vnetd
