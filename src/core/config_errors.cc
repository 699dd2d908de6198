#include "core/config_errors.h"

#include <algorithm>
#include <utility>

namespace vnetd {

void ConfigErrors::add(Pos pos, std::string message, std::string hint) {
  ConfigError e;
  e.file = file_;
  e.line = pos.line;
  e.column = pos.column;
  e.message = std::move(message);
  e.hint = std::move(hint);
  errors_.push_back(std::move(e));
}

std::vector<ConfigError> ConfigErrors::take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return std::move(errors_);
}

}  // namespace vnetd
