#include "core/status.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace baleen {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kCorruptFile:
      return "corrupt file";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kIo:
      return "i/o error";
    case ErrorCode::kOutOfRange:
      return "out of range";
    case ErrorCode::kInternal:
      return "internal error";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "error";
}

std::string Error::to_string() const { return std::string(error_code_name(code_)) + ": " + message_; }

Error make_error(ErrorCode code, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return Error(code, buf);
}

namespace detail {
void assert_fail(const char* cond, const char* file, int line, const char* fmt, ...) {
  std::fprintf(stderr, "BALEEN_ASSERT(%s) failed at %s:%d", cond, file, line);
  if (fmt != nullptr && fmt[0] != '\0') {
    std::fputs(": ", stderr);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  std::fputc('\n', stderr);
  std::abort();
}
}  // namespace detail

}  // namespace baleen
