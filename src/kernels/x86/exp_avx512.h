// exp over 16 floats for the AVX-512 kernels (attention's softmax, SwiGLU). Include only from files
// built with the AVX-512 flags (src/CMakeLists.txt). exp(x) = 2^k e^r with k = round(x log2 e) and
// r = x - k ln2 (ln2 split into a high part exact in float and a low correction, Cody-Waite),
// |r| <= ln2 / 2; e^r by its Taylor polynomial to degree 7 (truncation < 0.347^8 / 8! ~ 5e-9, below
// float's half-ulp); 2^k applied by vscalefps. x is clamped to [-104, 89] first, past which exp is
// 0 / inf in float anyway (min/max return their second operand for NaN: NaN stays NaN).
#pragma once

#include <immintrin.h>

namespace baleen {

inline __m512 exp_avx512(__m512 x) {
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

}  // namespace baleen
