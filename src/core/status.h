// Error handling for everything a file, a request or the system can get wrong.
// `Result<T>` holds either a value or an `Error` (code + human-readable message);
// `Status` is `Result<void>`. Library code returns these instead of throwing or exiting.
// Programmer errors use BALEEN_ASSERT (core/assert.h) instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "core/assert.h"

namespace baleen {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something malformed (bad flag, malformed request)
  kNotFound,         // file, key or tensor missing
  kCorruptFile,      // a file violates its format (bounds, overflow, bad type id, ...)
  kUnsupported,      // valid but not handled by Baleen (unknown model type, dtype, template)
  kIo,               // the operating system refused (open, mmap, read, write)
  kOutOfRange,       // a value exceeds a limit (context length, vocab size)
  kInternal,         // an invariant Baleen relies on did not hold
  kUnavailable,      // temporarily refused (queue full, still loading): retry later
};

const char* error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt file: tensor 'x' extends past end of file"
  std::string to_string() const;
  // Returns a copy whose message is prefixed with `context: `.
  Error with_context(const std::string& context) const { return Error(code_, context + ": " + message_); }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    BALEEN_ASSERT(ok(), "Result::value() on error: %s", std::get<1>(v_).message().c_str());
    return std::get<0>(v_);
  }
  const T& value() const& {
    BALEEN_ASSERT(ok(), "Result::value() on error: %s", std::get<1>(v_).message().c_str());
    return std::get<0>(v_);
  }
  T&& value() && {
    BALEEN_ASSERT(ok(), "Result::value() on error: %s", std::get<1>(v_).message().c_str());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    BALEEN_ASSERT(!ok(), "Result::error() on a value");
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    BALEEN_ASSERT(!ok_, "Status::error() on OK");
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

// printf-style helpers that build an Error.
Error make_error(ErrorCode code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace baleen

#define BALEEN_CONCAT_INNER_(a, b) a##b
#define BALEEN_CONCAT_(a, b) BALEEN_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Status or Result) from the enclosing function.
#define BALEEN_TRY(expr)                                             \
  do {                                                               \
    auto&& baleen_try_result_ = (expr);                              \
    if (!baleen_try_result_.ok()) return baleen_try_result_.error(); \
  } while (0)

// `BALEEN_ASSIGN_OR_RETURN(auto x, f());` declares x from the value of f() or returns its error.
#define BALEEN_ASSIGN_OR_RETURN(lhs, expr) BALEEN_ASSIGN_OR_RETURN_IMPL_(BALEEN_CONCAT_(baleen_r_, __LINE__), lhs, expr)
#define BALEEN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.error();                  \
  lhs = std::move(tmp).value()
