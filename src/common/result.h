#pragma once

#include <string>
#include <utility>
#include <variant>

namespace coinrelay {

/// What went wrong, in terms a caller can act on (Abseil's canonical meanings).
enum class ErrorCode {
  InvalidArgument,     ///< bad input: config, CLI, request; do not retry
  NotFound,            ///< the thing asked for does not exist
  ResourceExhausted,   ///< rate limited (429): retry after a wait
  Unavailable,         ///< transient: timeout, refused connection, 5xx; retry with backoff
  DataLoss,            ///< a response or message that cannot be decoded
  FailedPrecondition,  ///< the system is not in a state to do this (fatal Kafka error, auth)
  Internal,            ///< a bug or an unexpected library failure
};

const char* toString(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;

  /// True when trying the same thing again later may succeed.
  bool retryable() const {
    return code == ErrorCode::ResourceExhausted || code == ErrorCode::Unavailable;
  }
};

inline Error makeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

/// A value or an Error, shaped like std::expected (absent from GCC 12's C++20) so that moving to
/// C++23 is a rename.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Error error) : data_(std::move(error)) {}  // NOLINT

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  const Error& error() const { return std::get<1>(data_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace coinrelay

#define CR_CONCAT_INNER(a, b) a##b
#define CR_CONCAT(a, b) CR_CONCAT_INNER(a, b)

/// Evaluates a Result-returning expression; returns its Error from the enclosing function.
#define CR_RETURN_IF_ERROR(expr) \
  do {                           \
    auto cr_status_ = (expr);    \
    if (!cr_status_)             \
      return cr_status_.error(); \
  } while (0)

/// `CR_TRY(auto x, f());` binds the value or returns the Error.
#define CR_TRY(decl, expr) CR_TRY_IMPL(CR_CONCAT(cr_result_, __LINE__), decl, expr)
#define CR_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                 \
  if (!tmp)                          \
    return tmp.error();              \
  decl = std::move(tmp).value()
