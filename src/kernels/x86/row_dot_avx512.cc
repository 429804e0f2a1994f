// AVX-512 row-dot kernels (16 F32 lanes). Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni
// -mavx512bf16 -mfma -mf16c (src/CMakeLists.txt); reached only through find_row_dot when the CPU
// has all of them (DispatchLevel::kAvx512).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/row_dot.h"
#include "tensor/dtype.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

using V = __m512;
constexpr int kW = 16;

inline V vzero() { return _mm512_setzero_ps(); }
inline V vset1(float v) { return _mm512_set1_ps(v); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(V v) {
  // Masked 128-bit extracts (all lanes kept): GCC 12's plain extract/cast intrinsics trip
  // -Wuninitialized on their undefined operands (GCC bug 105593).
  const __m128 z = _mm_setzero_ps();
  __m128 s =
      _mm_add_ps(_mm_add_ps(_mm512_mask_extractf32x4_ps(z, 0xF, v, 0), _mm512_mask_extractf32x4_ps(z, 0xF, v, 1)),
                 _mm_add_ps(_mm512_mask_extractf32x4_ps(z, 0xF, v, 2), _mm512_mask_extractf32x4_ps(z, 0xF, v, 3)));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline V vload_f32(const uint8_t* p) { return _mm512_loadu_ps(p); }
inline V vload_f16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline V vload_bf16(const uint8_t* p) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
// e4m3 -> f32 exactly; see row_dot_avx2.cc.
inline V vload_e4m3(const uint8_t* p) {
  const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m512i mag = _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0x7F)), 20);
  const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0x80)), 24);
  const V f = _mm512_mul_ps(_mm512_castsi512_ps(mag), _mm512_set1_ps(0x1p120f));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(f), sign));
}
inline V vcvt_i8(__m128i q, int) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)); }
inline V vcvt_u8(__m128i q, int) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q)); }
// 4-bit codes from a table: the 16 possible weights d * float(q) - mn (q = 0..15, computed with
// the reference's operations) fill one register; a 16-lane permute indexed by the codes picks them,
// replacing convert + multiply + subtract per vector.
struct Nib {
  V table;
};
inline Nib nib_make(float d, float mn) {
  const V codes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return {vsub(vmul(vset1(d), codes), vset1(mn))};
}
inline V nib_decode(const Nib& n, __m128i q, int) { return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(q), n.table); }

#include "kernels/x86/row_dot_body.inc"

}  // namespace

RowDotFn row_dot_avx512(const WeightMatrix& w) { return lookup(w); }

}  // namespace baleen
