// AVX-512 SwiGLU (kernels/swiglu.h): silu(g) u = g / (1 + exp(-g)) u with exp from
// kernels/x86/exp_avx512.h; large g saturates to g u, very negative g to -0; NaN propagates.
#include <immintrin.h>

#include <cstdint>

#include "kernels/swiglu.h"
#include "kernels/x86/exp_avx512.h"

namespace baleen {
namespace {

inline __m512 swiglu16(__m512 g, __m512 u) {
  const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
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
