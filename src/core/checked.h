// Overflow-checked integer arithmetic for parsers: every count, size, offset and shape product read
// from a file goes through these before it is used. Each returns false on overflow and leaves *out
// unspecified.
#pragma once

#include <cstddef>
#include <cstdint>

namespace baleen {

inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Rounds `value` up to a multiple of `alignment` (alignment > 0).
inline bool checked_align_up(uint64_t value, uint64_t alignment, uint64_t* out) {
  uint64_t rem = value % alignment;
  if (rem == 0) {
    *out = value;
    return true;
  }
  return checked_add(value, alignment - rem, out);
}

// True when [offset, offset + length) lies inside [0, size).
inline bool range_inside(uint64_t offset, uint64_t length, uint64_t size) {
  uint64_t end = 0;
  return checked_add(offset, length, &end) && end <= size;
}

}  // namespace baleen
