#include "tensor/numeric.h"

#include <cmath>

namespace baleen {

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t man = h & 0x3FF;
  if (exp == 0) {
    // zero or subnormal: man * 2^-24
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7F800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t x = bits_from_f32(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7C00 | (absx > 0x7F800000u ? 0x200 : 0));
  }
  if (absx >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00);  // rounds to >= 65520: inf
  if (absx < 0x38800000u) {
    // result is subnormal or zero: value / 2^-24 rounded to nearest even
    float a = f32_from_bits(absx);
    float scaled = a * 16777216.0f;  // exact (power of two)
    auto m = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t exp = (absx >> 23) - 112;
  uint32_t man = absx & 0x7FFFFF;
  uint32_t half = (exp << 10) | (man >> 13);
  uint32_t rem = man & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = bits_from_f32(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7FFF + lsb;
  return static_cast<uint16_t>(x >> 16);
}

float e4m3_to_f32(uint8_t v) {
  bool neg = (v & 0x80) != 0;
  uint32_t exp = (v >> 3) & 0xF;
  uint32_t man = v & 0x7;
  float r;
  if (exp == 0xF && man == 0x7) {
    r = std::nanf("");
  } else if (exp == 0) {
    r = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  } else {
    r = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, static_cast<int>(exp) - 7);
  }
  return neg ? -r : r;
}

uint8_t f32_to_e4m3(float f) {
  uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (std::isnan(f)) return 0x7F;
  if (a >= 448.0f) return sign | 0x7E;  // saturate
  // Find the nearest representable value by scanning the 127 positive codes (exact, simple).
  uint8_t best = 0;
  float best_err = a;
  for (uint8_t c = 1; c <= 0x7E; ++c) {
    float v = e4m3_to_f32(c);
    float err = std::fabs(v - a);
    if (err < best_err || (err == best_err && (c & 1) == 0 && (best & 1) == 1)) {
      best = c;
      best_err = err;
    }
  }
  return sign | best;
}

}  // namespace baleen
