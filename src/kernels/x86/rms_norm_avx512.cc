// AVX-512 RMS norm (kernels/rms_norm.h). Squares are exact in double (a float's 24-bit significand
// squared fits in 53 bits); four 8-lane double accumulators keep the adds' latency off the critical
// path. The scaling is the reference's (x * inv) * weight, two float multiplies per element.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/rms_norm.h"

namespace baleen {

void rms_norm_avx512(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512d a0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
    const __m512d a1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
    const __m512d b0 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16));
    const __m512d b1 = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24));
    s0 = _mm512_fmadd_pd(a0, a0, s0);
    s1 = _mm512_fmadd_pd(a1, a1, s1);
    s2 = _mm512_fmadd_pd(b0, b0, s2);
    s3 = _mm512_fmadd_pd(b1, b1, s3);
  }
  for (; i < n; i += 8) {
    const auto m = static_cast<__mmask8>(n - i >= 8 ? 0xFF : (1u << (n - i)) - 1);
    const __m512d a = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i));
    s0 = _mm512_fmadd_pd(a, a, s0);
  }
  const double ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  const __m512 vinv = _mm512_set1_ps(inv);
  for (i = 0; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv), _mm512_loadu_ps(weight + i)));
  }
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v =
        _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vinv), _mm512_maskz_loadu_ps(m, weight + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

}  // namespace baleen
