// Scalar conversions between the narrow floating-point formats found in model files and float32:
// IEEE half (F16), bfloat16 (BF16) and float8 e4m3fn (DeepSeek's FP8 weights). These are the
// reference conversions; vectorised kernels must agree with them bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

namespace baleen {

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t bits_from_f32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE 754 binary16 -> binary32, exact (handles subnormals, inf, NaN).
float f16_to_f32(uint16_t h);
// binary32 -> binary16, round to nearest even, overflow to inf, NaN preserved as quiet NaN.
uint16_t f32_to_f16(float f);

// bfloat16 is the upper half of a binary32.
inline float bf16_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }
// binary32 -> bfloat16, round to nearest even; NaN stays NaN.
uint16_t f32_to_bf16(float f);

// float8 e4m3fn (OCP FP8: 1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities,
// 0x7F/0xFF are NaN, max finite 448) -> float32, exact.
float e4m3_to_f32(uint8_t v);
// float32 -> e4m3fn, round to nearest even, saturating to +-448 (as DeepSeek's quantizer does).
uint8_t f32_to_e4m3(float f);

}  // namespace baleen
