// Result<T>: value or error, used for every fallible call inside probekit.
// Exceptions are reserved for main(); internal code returns Result and the caller decides.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace probe {

struct Error {
  std::string message;
};

template <typename... Args>
Error make_error(fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

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
  Error take_error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }
  Error take_error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace probe

// Propagates an error from an expression that yields a Result.
#define PROBE_TRY(expr)                                    \
  do {                                                     \
    auto probe_try_result_ = (expr);                       \
    if (!probe_try_result_.ok())                           \
      return std::move(probe_try_result_).take_error();    \
  } while (0)

#define PROBE_CONCAT_INNER_(a, b) a##b
#define PROBE_CONCAT_(a, b) PROBE_CONCAT_INNER_(a, b)
// Assigns the value of a Result expression to `lhs`, or returns its error.
#define PROBE_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto PROBE_CONCAT_(probe_r_, __LINE__) = (expr);                          \
  if (!PROBE_CONCAT_(probe_r_, __LINE__).ok())                              \
    return std::move(PROBE_CONCAT_(probe_r_, __LINE__)).take_error();       \
  lhs = std::move(PROBE_CONCAT_(probe_r_, __LINE__)).value()
