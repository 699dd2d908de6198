// Result<T>: the return type of every kernel-touching or fallible call in vnetd.
//
// Expected-style (C++23 std::expected is not available in the C++20 toolchains we
// target): a value or an Error carrying the errno that caused it (0 when the failure
// is not an OS error) plus human-readable context. Errors are values, never
// exceptions; only main() decides to exit.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace vnetd {

struct Error {
  int code = 0;         // errno value, or 0 for a non-OS error (bad input, invariant)
  std::string context;  // what was being done, e.g. "create epair for jail web"

  // One line: "<context>: <strerror(code)>" or just the context when code == 0.
  std::string message() const {
    if (code == 0) return context;
    return context + ": " + std::strerror(code);
  }
};

// Builds an Error from the current errno. Call immediately after the failing call.
inline Error errnoError(std::string context) { return Error{errno, std::move(context)}; }
inline Error plainError(std::string context) { return Error{0, std::move(context)}; }
// The same error with outer context ("state lock: " + inner), errno kept.
inline Error withContext(Error e, const std::string& outer) {
  e.context = outer + ": " + e.context;
  return e;
}

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

  // Adds outer context ("prestart web: " + inner) while keeping the errno.
  Result&& withContext(const std::string& outer) && {
    if (!ok()) std::get<1>(v_).context = outer + ": " + std::get<1>(v_).context;
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(implicit)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

  Result&& withContext(const std::string& outer) && {
    if (!ok_) error_.context = outer + ": " + error_.context;
    return std::move(*this);
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> success() { return {}; }

}  // namespace vnetd

// Propagates an error from an expression yielding Result<...>; evaluates it once.
#define VNETD_TRY(expr)                                  \
  do {                                                   \
    auto&& vnetd_try_result_ = (expr);                   \
    if (!vnetd_try_result_.ok()) return vnetd_try_result_.error(); \
  } while (0)
