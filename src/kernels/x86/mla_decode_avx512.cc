// AVX-512 kernel of kernels/mla_decode.h for 8 heads: the scores of two cache rows at a time (each
// row chunk loaded once for the 8 heads, 16 accumulators, then one transposing reduction of the
// 16 sums), a vectorised softmax per head, and the weighted sum of latent rows 32 columns at a
// time for the 8 heads (one pass over the rows per 32 columns: every cache line is read once).
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/mla_decode.h"
#include "kernels/x86/exp_avx512.h"

namespace baleen {
namespace {

constexpr int kHeads = 8;

// Lane i of the result = the sum of v[i]'s 16 lanes: pairwise interleaves within 128-bit lanes (32
// then 64 bits), then across 128-bit lanes.
inline __m512 hsum16(const __m512 (&v)[16]) {
  __m512 w[8], x[4];
  for (int i = 0; i < 8; ++i) {
    w[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(w[2 * i]), b = _mm512_castps_pd(w[2 * i + 1]);
    x[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // x[i], 128-bit lane L: lane L's partial sums of v[4 i] .. v[4 i + 3].
  const __m512 y0 = _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88), _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
  const __m512 y1 = _mm512_add_ps(_mm512_shuffle_f32x4(x[2], x[3], 0x88), _mm512_shuffle_f32x4(x[2], x[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(y0, y1, 0x88), _mm512_shuffle_f32x4(y0, y1, 0xDD));
}

}  // namespace

void mla_decode_8_avx512(const MlaDecodeArgs& a, float* scratch) {
  const int64_t R = a.kv_lora_rank, D = R + a.rope_dim, m = a.n_ctx, W = a.cache_stride;
  const int64_t ms = (m + 15) / 16 * 16;
  float* q = scratch;               // [8][D]: each head's [q~ | q_pe]
  float* s = scratch + kHeads * D;  // [8][ms]: scores, then exp(score - max)
  for (int g = 0; g < kHeads; ++g) {
    std::copy_n(a.q_abs + g * a.q_abs_stride, R, q + g * D);
    std::copy_n(a.q_pe + g * a.q_pe_stride, a.rope_dim, q + g * D + R);
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int64_t u = 0; u < m; u += 2) {
    const float* r0 = a.cache + u * W;
    const float* r1 = u + 1 < m ? r0 + W : r0;  // (an odd last row is paired with itself)
    __m512 acc[16];
    for (__m512& v : acc) v = _mm512_setzero_ps();
    for (int64_t c = 0; c < D; c += 16) {
      const __m512 x0 = _mm512_loadu_ps(r0 + c), x1 = _mm512_loadu_ps(r1 + c);
      for (int g = 0; g < kHeads; ++g) {
        const __m512 qv = _mm512_loadu_ps(q + g * D + c);
        acc[2 * g] = _mm512_fmadd_ps(qv, x0, acc[2 * g]);
        acc[2 * g + 1] = _mm512_fmadd_ps(qv, x1, acc[2 * g + 1]);
      }
    }
    alignas(64) float t[16];
    _mm512_store_ps(t, _mm512_mul_ps(hsum16(acc), scale));
    for (int g = 0; g < kHeads; ++g) {
      s[g * ms + u] = t[2 * g];
      if (u + 1 < m) s[g * ms + u + 1] = t[2 * g + 1];
    }
  }
  // Softmax numerators per head (positions past m are left out of the sum).
  float inv_l[kHeads];
  const auto tail = static_cast<__mmask16>(m % 16 == 0 ? 0xFFFF : (1u << (m % 16)) - 1);
  for (int g = 0; g < kHeads; ++g) {
    float* sg = s + g * ms;
    __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t u = 0; u < ms; u += 16) {
      const __mmask16 k = u + 16 <= m ? static_cast<__mmask16>(0xFFFF) : tail;
      mx = _mm512_mask_max_ps(mx, k, mx, _mm512_loadu_ps(sg + u));
    }
    const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t u = 0; u < ms; u += 16) {
      const __mmask16 k = u + 16 <= m ? static_cast<__mmask16>(0xFFFF) : tail;
      const __m512 e = _mm512_maskz_mov_ps(k, exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(sg + u), mv)));
      _mm512_storeu_ps(sg + u, e);
      sum = _mm512_add_ps(sum, e);
    }
    inv_l[g] = 1.0f / _mm512_reduce_add_ps(sum);
  }
  // z_g = sum_u p_u c_u / l, 32 latent columns per pass.
  for (int64_t c0 = 0; c0 < R; c0 += 32) {
    __m512 acc[16];
    for (__m512& v : acc) v = _mm512_setzero_ps();
    for (int64_t u = 0; u < m; ++u) {
      const float* row = a.cache + u * W + c0;
      const __m512 x0 = _mm512_loadu_ps(row), x1 = _mm512_loadu_ps(row + 16);
      for (int g = 0; g < kHeads; ++g) {
        const __m512 p = _mm512_set1_ps(s[g * ms + u]);
        acc[2 * g] = _mm512_fmadd_ps(p, x0, acc[2 * g]);
        acc[2 * g + 1] = _mm512_fmadd_ps(p, x1, acc[2 * g + 1]);
      }
    }
    for (int g = 0; g < kHeads; ++g) {
      const __m512 il = _mm512_set1_ps(inv_l[g]);
      float* zo = a.z + g * a.z_stride + c0;
      _mm512_storeu_ps(zo, _mm512_mul_ps(acc[2 * g], il));
      _mm512_storeu_ps(zo + 16, _mm512_mul_ps(acc[2 * g + 1], il));
    }
  }
}

}  // namespace baleen
