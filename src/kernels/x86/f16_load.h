// One IEEE half at an unaligned address as a float (a GGML block's d / dmin), for the x86 kernel
// files; include only from files built with F16C (the AVX2, AVX-512 and AMX files of
// src/CMakeLists.txt).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace baleen {

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

}  // namespace baleen
