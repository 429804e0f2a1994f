// AVX-512 SwiGLU (kernels/swiglu.h). exp(x) = 2^k * e^r with k = round(x log2 e), r = x - k ln2 (ln2
// split in a high part exact in float and a low correction, Cody-Waite), |r| <= ln2 / 2, and e^r by
// its Taylor polynomial to degree 7 (truncation error < 0.347^8 / 8! ~ 5e-9, below float's 6e-8
// half-ulp); 2^k applied by vscalefps, which gives inf / 0 past the float range (x is clamped to
// [-104, 89] first), so silu saturates to x (large x) and -0 (very negative x). NaN propagates.
#include <immintrin.h>

#include <cstdint>

#include "kernels/swiglu.h"

namespace baleen {
namespace {

inline __m512 exp_ps(__m512 x) {
  // Past these exp is 0 / inf in float anyway; clamping keeps k * ln2 exact enough for r. (min/max
  // return their second operand when one is NaN: NaN stays NaN.)
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 = 0.693145751953125 (exact in 16 bits) + 1.42860682030941723e-6.
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860682030941723e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

inline __m512 swiglu16(__m512 g, __m512 u) {
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

}  // namespace

void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, swiglu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const auto tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 r = swiglu16(_mm512_maskz_loadu_ps(tail, gate + i), _mm512_maskz_loadu_ps(tail, up + i));
    _mm512_mask_storeu_ps(out + i, tail, r);
  }
}

}  // namespace baleen
