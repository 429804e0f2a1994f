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

// The 16 bytes at q0 and at q1 as the 32 codes of each, in the two 256-bit halves: broadcast loads
// (the second one masked to the high half), then nibbles_lo_hi's shift and mask.
inline __m512i nibbles_lo_hi2(const uint8_t* q0, const uint8_t* q1) {
  __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)));
  v = _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q1)));
  constexpr int64_t k4 = 0x0004000400040004;  // 128-bit lanes 1 and 3: shift the words by 4
  const __m512i shift = _mm512_set_epi64(k4, k4, 0, 0, k4, k4, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi16(v, shift), _mm512_set1_epi8(0x0F));
}

// Codes of the block at b and the offset subtracted from them (w = (u - kOffset) d); decode2: the
// codes of the blocks at b and b + kBytes in the two 256-bit halves.
struct Q8_0Codes {
  static constexpr int kBytes = 34, kOffset = kQ8_0Offset;
  static __m256i decode(const uint8_t* b) { return q8_0_decode(b + 2); }
  static __m512i decode2(const uint8_t* b) {
    const __m512i v =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2))),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kBytes + 2)), 1);
    return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};
struct Q4_0Codes {
  static constexpr int kBytes = 18, kOffset = 8;
  static __m256i decode(const uint8_t* b) { return nibbles_lo_hi(b + 2); }
  static __m512i decode2(const uint8_t* b) { return nibbles_lo_hi2(b + 2, b + kBytes + 2); }
};
struct Q5_0Codes {
  static constexpr int kBytes = 22, kOffset = 16;
  static __m256i decode(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    return add_bit4(nibbles_lo_hi(b + 6), qh);
  }
  static __m512i decode2(const uint8_t* b) {
    uint32_t qh0, qh1;
    std::memcpy(&qh0, b + 2, 4);
    std::memcpy(&qh1, b + kBytes + 2, 4);
    const __m512i v = nibbles_lo_hi2(b + 6, b + kBytes + 6);
    const auto bits = static_cast<__mmask64>(qh0 | static_cast<uint64_t>(qh1) << 32);
    return _mm512_mask_add_epi8(v, bits, v, _mm512_set1_epi8(0x10));
  }
};

}  // namespace baleen
