// AVX-512 kernel of kernels/mla_decode.h for 8 heads, one pass over the cache in blocks of 32 rows
// (flash-decoding style): the block's scores two rows at a time (each row chunk loaded once for
// the 8 heads, 16 accumulators, then one transposing reduction of the 16 sums), the online softmax
// update per head (running max, sum, the latent sums so far rescaled), then the block's weighted
// latent rows added 32 columns at a time while the rows are still in cache. Every cache line is
// read from memory once per call.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/mla_decode.h"
#include "kernels/x86/exp_avx512.h"

namespace baleen {
namespace {

constexpr int kHeads = 8;
constexpr int64_t kBlock = kMlaDecodeBlock;

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
  float* q = scratch;               // [8][D]: each head's [q~ | q_pe]
  float* p = scratch + kHeads * D;  // [8][kBlock]: a block's scores, then exp(score - max)
  float* z = p + kHeads * kBlock;   // [8][R]: unnormalised latent sums
  for (int g = 0; g < kHeads; ++g) {
    std::copy_n(a.q_abs + g * a.q_abs_stride, R, q + g * D);
    std::copy_n(a.q_pe + g * a.q_pe_stride, a.rope_dim, q + g * D + R);
  }
  std::fill_n(z, kHeads * R, 0.0f);
  float mx[kHeads], l[kHeads];
  std::fill_n(mx, kHeads, -std::numeric_limits<float>::infinity());
  std::fill_n(l, kHeads, 0.0f);
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int64_t b0 = 0; b0 < m; b0 += kBlock) {
    const int64_t nb = std::min<int64_t>(kBlock, m - b0);
    // Scores of the block's rows, two at a time.
    for (int64_t u = 0; u < nb; u += 2) {
      const float* r0 = a.cache + (b0 + u) * W;
      const float* r1 = u + 1 < nb ? r0 + W : r0;  // (an odd last row is paired with itself)
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
        p[g * kBlock + u] = t[2 * g];
        if (u + 1 < nb) p[g * kBlock + u + 1] = t[2 * g + 1];
      }
    }
    // Online softmax: new running max, rescale of the sums so far, the block's numerators.
    const auto keep = static_cast<__mmask16>(0xFFFF);
    for (int g = 0; g < kHeads; ++g) {
      float* pg = p + g * kBlock;
      __m512 bm = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      for (int64_t u = 0; u < nb; u += 16) {
        const __mmask16 k = u + 16 <= nb ? keep : static_cast<__mmask16>((1u << (nb - u)) - 1);
        bm = _mm512_mask_max_ps(bm, k, bm, _mm512_loadu_ps(pg + u));
      }
      const float m_new = std::max(mx[g], _mm512_reduce_max_ps(bm));
      const float alpha = std::exp(mx[g] - m_new);  // 0 on the first block (mx = -inf)
      mx[g] = m_new;
      const __m512 mv = _mm512_set1_ps(m_new);
      __m512 sum = _mm512_setzero_ps();
      for (int64_t u = 0; u < nb; u += 16) {
        const __mmask16 k = u + 16 <= nb ? keep : static_cast<__mmask16>((1u << (nb - u)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(k, exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(pg + u), mv)));
        _mm512_storeu_ps(pg + u, e);
        sum = _mm512_add_ps(sum, e);
      }
      l[g] = l[g] * alpha + _mm512_reduce_add_ps(sum);
      if (alpha != 1.0f) {
        const __m512 av = _mm512_set1_ps(alpha);
        float* zg = z + g * R;
        for (int64_t c = 0; c < R; c += 16) _mm512_storeu_ps(zg + c, _mm512_mul_ps(_mm512_loadu_ps(zg + c), av));
      }
    }
    // z_g += sum over the block's rows of p_u c_u, 32 latent columns at a time (the rows are in
    // cache from the scores above).
    for (int64_t c0 = 0; c0 < R; c0 += 32) {
      __m512 acc[16];
      for (int g = 0; g < kHeads; ++g) {
        acc[2 * g] = _mm512_loadu_ps(z + g * R + c0);
        acc[2 * g + 1] = _mm512_loadu_ps(z + g * R + c0 + 16);
      }
      for (int64_t u = 0; u < nb; ++u) {
        const float* row = a.cache + (b0 + u) * W + c0;
        const __m512 x0 = _mm512_loadu_ps(row), x1 = _mm512_loadu_ps(row + 16);
        for (int g = 0; g < kHeads; ++g) {
          const __m512 pv = _mm512_set1_ps(p[g * kBlock + u]);
          acc[2 * g] = _mm512_fmadd_ps(pv, x0, acc[2 * g]);
          acc[2 * g + 1] = _mm512_fmadd_ps(pv, x1, acc[2 * g + 1]);
        }
      }
      for (int g = 0; g < kHeads; ++g) {
        _mm512_storeu_ps(z + g * R + c0, acc[2 * g]);
        _mm512_storeu_ps(z + g * R + c0 + 16, acc[2 * g + 1]);
      }
    }
  }
  for (int g = 0; g < kHeads; ++g) {
    const __m512 il = _mm512_set1_ps(1.0f / l[g]);
    float* zo = a.z + g * a.z_stride;
    for (int64_t c = 0; c < R; c += 16) _mm512_storeu_ps(zo + c, _mm512_mul_ps(_mm512_loadu_ps(z + g * R + c), il));
  }
}

}  // namespace baleen
