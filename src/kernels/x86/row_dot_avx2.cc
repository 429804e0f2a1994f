// AVX2 + FMA + F16C row-dot kernels (8 F32 lanes). Built with -mavx2 -mfma -mf16c (src/CMakeLists.txt);
// reached only through find_row_dot when the CPU has them.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/row_dot.h"
#include "tensor/dtype.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

using V = __m256;
constexpr int kW = 8;

inline V vzero() { return _mm256_setzero_ps(); }
inline V vset1(float v) { return _mm256_set1_ps(v); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(V v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline V vload_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
inline V vload_f16(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline V vload_bf16(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
// e4m3 -> f32 exactly: exponent/mantissa bits moved to the F32 positions (e<<23 | m<<20) give
// 2^(e-127) * (1 + m/8) (or m * 2^-149 * 2^20 for e = 0); times 2^120 rebias to 2^(e-7).
inline V vload_e4m3(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m256i mag = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x7F)), 20);
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x80)), 24);
  const V f = _mm256_mul_ps(_mm256_castsi256_ps(mag), _mm256_set1_ps(0x1p120f));
  return _mm256_or_ps(f, _mm256_castsi256_ps(sign));
}
inline V vcvt_i8(__m128i q, int p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(p == 0 ? q : _mm_unpackhi_epi64(q, q)));
}
inline V vcvt_u8(__m128i q, int p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(p == 0 ? q : _mm_unpackhi_epi64(q, q)));
}
// 4-bit codes by arithmetic (an 8-lane permute would need two lookups and a blend).
struct Nib {
  V d, mn;
};
inline Nib nib_make(float d, float mn) { return {vset1(d), vset1(mn)}; }
inline V nib_decode(const Nib& n, __m128i q, int p) { return vsub(vmul(n.d, vcvt_u8(q, p)), n.mn); }

#include "kernels/x86/row_dot_body.inc"

}  // namespace

RowDotFn row_dot_avx2(const WeightMatrix& w) { return lookup(w); }

}  // namespace baleen
