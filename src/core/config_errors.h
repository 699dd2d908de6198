// The loader's error list: every problem found, each one line at FILE:LINE:COL, handed
// back in file order. Shared by the field readers, the section schema and the
// cross-section rules, so that all of them report the same way.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace vnetd {

// Where a value was written: 1-based, 0 when unknown.
struct Pos {
  int line = 0;
  int column = 0;
};

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}

  // `message` says what is wrong and where (the table and key, or the object it names),
  // `hint` what to write instead; both one line.
  void add(Pos pos, std::string message, std::string hint = {});
  bool empty() const { return errors_.empty(); }
  void clear() { errors_.clear(); }
  // The errors sorted by position (stable: one position keeps the order of discovery).
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace vnetd
