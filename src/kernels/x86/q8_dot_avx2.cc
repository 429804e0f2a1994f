// AVX2 integer-activation kernels. Built with -mavx2 -mfma -mf16c (src/CMakeLists.txt); reached
// only through find_q8_kernels when the CPU has them. No VNNI: the u8 x s8 products go through
// vpmaddubsw (pairs to int16; every caller's pair sum stays below 2^15) and vpmaddwd.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/thread_scratch.h"
#include "kernels/x86/f16_load.h"
#include "kernels/x86/k4_scales.h"
#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
inline __m256i nibbles_lo_hi(const uint8_t* q) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), mask), _mm_and_si128(v, mask));
}
inline __m256i add_bit4(__m256i v, uint32_t bits) {
  // Byte k of the expansion tests bit k % 8 of byte k / 8 of `bits`.
  const __m256i spread =
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i sel = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), spread);
  return _mm256_or_si256(v, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, sel), sel), _mm256_set1_epi8(0x10)));
}
constexpr int kQ8_0Offset = 0;
inline __m256i q8_0_decode(const uint8_t* q) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)); }
inline __m256i q8_0_dot(__m256i w, const int8_t* a) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  return dpbusd(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(av, w));
}

#include "kernels/x86/q8_dot_body.inc"

}  // namespace

Q8Kernels q8_kernels_avx2(GgmlType type) {
  Q8Kernels k;
  k.rows = lookup<K45Dot>(type);
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
