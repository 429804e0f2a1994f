// Weight codes of one 32-element Q4_0 / Q5_0 / Q8_0 block as 32 unsigned bytes in element order
// (one 256-bit vector), for the AVX-512 integer kernels (q8_dot_avx512.cc, q8_rows_split_avx512.cc).
// Include only from files built with the AVX-512 flags (src/CMakeLists.txt). Layouts
// (kernels/ref/dequant.cc): Q4_0 [0] f16 d, [2..18) nibbles (low: elements 0..15, high: 16..31),
// w = (q - 8) d; Q5_0 [0] f16 d, [2..6) qh (bit j: 5th bit of element j), [6..22) nibbles as Q4_0,
// w = (q - 16) d; Q8_0 [0] f16 d, [2..34) int8 q, w = q d.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace baleen {

// The 16 bytes at q as 32 codes: one 128-bit load broadcast to both halves, the high half shifted
// right by 4 (vpsrlvw).
inline __m256i nibbles_lo_hi(const uint8_t* q) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  const __m256i shift = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
  return _mm256_and_si256(_mm256_srlv_epi16(v, shift), _mm256_set1_epi8(0x0F));
}
// v + 16 in the bytes whose bit is set in `bits` (bit j: byte j): the bits straight into a byte
// mask (kmovd), then a masked add.
inline __m256i add_bit4(__m256i v, uint32_t bits) {
  return _mm256_mask_add_epi8(v, static_cast<__mmask32>(bits), v, _mm256_set1_epi8(0x10));
}
// Q8_0's codes as q + 128: VNNI accumulates in int32 without saturation, so the unsigned side of
// vpdpbusd can take them (offset 128).
constexpr int kQ8_0Offset = 128;
inline __m256i q8_0_decode(const uint8_t* q) {
  return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)),
                          _mm256_set1_epi8(static_cast<char>(0x80)));
}

// Codes of the block at b and the offset subtracted from them (w = (u - kOffset) d).
struct Q8_0Codes {
  static constexpr int kBytes = 34, kOffset = kQ8_0Offset;
  static __m256i decode(const uint8_t* b) { return q8_0_decode(b + 2); }
};
struct Q4_0Codes {
  static constexpr int kBytes = 18, kOffset = 8;
  static __m256i decode(const uint8_t* b) { return nibbles_lo_hi(b + 2); }
};
struct Q5_0Codes {
  static constexpr int kBytes = 22, kOffset = 16;
  static __m256i decode(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    return add_bit4(nibbles_lo_hi(b + 6), qh);
  }
};

}  // namespace baleen
