// Q4_K / Q5_K weight codes of one 256-element block as four 512-bit vectors, for the AVX-512 integer
// kernels: the GEMM's row unpacking (q8_gemm_avx512.cc) and the one-token row dots
// (q8_dot_avx512.cc). Include only from files built with the AVX-512 flags (src/CMakeLists.txt).
// Block layout (kernels/ref/dequant.cc): [0] f16 d, [2] f16 dmin, [4..16) scales and mins, Q5_K
// [16..48) qh, then qs: 32-byte group g holds elements 64 g + l (low nibbles) and 64 g + 32 + l
// (high nibbles); bit s of qh[l] is the 5th bit of element 32 s + l.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace baleen {

// The codes of one 64-byte half h (0, 1) of the block in the qs byte order, no lane crossing:
// lo = elements 128 h + l (low 256 bits, sub-block 4 h) and 128 h + 64 + l (high, sub-block
// 4 h + 2); hi = elements 128 h + 32 + l (sub-block 4 h + 1) and 128 h + 96 + l (4 h + 3), l < 32.
template <bool kQ5>
inline void k45_codes_half_avx512(const uint8_t* b, int h, __m512i* lo, __m512i* hi) {
  const __m512i mask = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
  const uint8_t* qs = b + (kQ5 ? 48 : 16);
  const __m512i v = _mm512_loadu_si512(qs + 64 * h);
  *lo = _mm512_and_si512(v, mask);
  *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
  if constexpr (kQ5) {
    // lo of group g takes bit 2 g of qh, hi bit 2 g + 1: shift it to bit 0 of its byte (64-bit
    // lanes; the bits pulled in from the next byte are masked off), then to bit 4.
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16)));
    const __m512i sh = _mm512_set_epi64(4 * h + 2, 4 * h + 2, 4 * h + 2, 4 * h + 2, 4 * h, 4 * h, 4 * h, 4 * h);
    const __m512i q = _mm512_srlv_epi64(qh, sh);
    *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_slli_epi64(q, 4), bit4));
    *hi = _mm512_or_si512(*hi, _mm512_and_si512(_mm512_slli_epi64(q, 3), bit4));
  }
}

// w[j] = the unsigned codes (0..15, Q5_K 0..31) of elements 64 j .. 64 j + 63 in order, i.e.
// sub-blocks 2 j (low 256 bits) and 2 j + 1.
template <bool kQ5>
inline void k45_codes_avx512(const uint8_t* b, __m512i (&w)[4]) {
  for (int h = 0; h < 2; ++h) {
    __m512i lo, hi;
    k45_codes_half_avx512<kQ5>(b, h, &lo, &hi);
    w[2 * h] = _mm512_shuffle_i64x2(lo, hi, 0x44);
    w[2 * h + 1] = _mm512_shuffle_i64x2(lo, hi, 0xEE);
  }
}

}  // namespace baleen
