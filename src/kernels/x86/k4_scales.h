// The 8 six-bit scales and 8 mins of a Q4_K / Q5_K block's 12-byte scale field, as bytes: the bits
// of unpack_k4_scale_min (kernels/ref/dequant.h) for all 8 sub-blocks at once. Scales j < 4 are
// s[j] & 63, mins j < 4 s[j + 4] & 63; for j >= 4 the low 4 bits come from s[j + 4] (scale: low
// nibble, min: high nibble) and the top 2 from bits 6-7 of s[j - 4] (scale) / s[j] (min). Plain C++,
// shared by the x86 kernel files.
#pragma once

#include <cstdint>
#include <cstring>

namespace baleen {

inline void k4_scales_mins(const uint8_t* s, uint64_t* scales, uint64_t* mins) {
  uint32_t w0, w1, w2;
  std::memcpy(&w0, s, 4);
  std::memcpy(&w1, s + 4, 4);
  std::memcpy(&w2, s + 8, 4);
  const uint32_t sc_lo = w0 & 0x3F3F3F3Fu, mn_lo = w1 & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (w2 & 0x0F0F0F0Fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 2) & 0x30303030u);
  *scales = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
  *mins = mn_lo | (static_cast<uint64_t>(mn_hi) << 32);
}

}  // namespace baleen
