// Always-on assertions for programmer errors (broken invariants inside Baleen), never for bad input:
// input errors are returned as Result/Status (core/status.h). A failed assert prints the condition,
// the location and a formatted message with the offending values, then aborts.
#pragma once

namespace baleen::detail {
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
}  // namespace baleen::detail

#define BALEEN_ASSERT(cond, ...)                                                \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                         \
      ::baleen::detail::assert_fail(#cond, __FILE__, __LINE__, "" __VA_ARGS__); \
    }                                                                           \
  } while (0)
