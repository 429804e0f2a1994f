// AVX-512 F32 causal attention rows (kernels/x86/attention_avx512.h): per step a block of 32 keys;
// scores for up to 8 query rows by broadcasting q[d] against the transposed keys (two 16-key
// vectors), masked past each row's position, online softmax (running max m, sum l, output rescaled
// by exp(m_old - m_new)), then P . V with two rows' output chunks (8 vectors each) in registers.
#include "kernels/x86/attention_avx512.h"

#include <immintrin.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_scratch.h"
#include "kernels/x86/exp_avx512.h"

namespace baleen {
namespace {

// o[r][c..] += sum_j p[r][j] * v_j[c..] for NR rows (1 or 2), NV vectors of 16 from column c.
template <int NR, int NV>
inline void pv(float* const* o, const float* const* p, const float* v, int64_t v_stride, int64_t nk, int64_t c) {
  __m512 acc[NR][NV];
  for (int r = 0; r < NR; ++r)
    for (int i = 0; i < NV; ++i) acc[r][i] = _mm512_loadu_ps(o[r] + c + 16 * i);
  for (int64_t j = 0; j < nk; ++j) {
    const float* vj = v + j * v_stride + c;
    __m512 pr[NR];
    for (int r = 0; r < NR; ++r) pr[r] = _mm512_set1_ps(p[r][j]);
    for (int i = 0; i < NV; ++i) {
      const __m512 vv = _mm512_loadu_ps(vj + 16 * i);
      for (int r = 0; r < NR; ++r) acc[r][i] = _mm512_fmadd_ps(pr[r], vv, acc[r][i]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int i = 0; i < NV; ++i) _mm512_storeu_ps(o[r] + c + 16 * i, acc[r][i]);
}

template <int NR>
void pv_rows(float* const* o, const float* const* p, const float* v, int64_t v_stride, int64_t nk, int64_t v_dim) {
  int64_t c = 0;
  for (; c + 128 <= v_dim; c += 128) pv<NR, 8>(o, p, v, v_stride, nk, c);
  for (; c < v_dim; c += 16) pv<NR, 1>(o, p, v, v_stride, nk, c);
}

// The output rows of rows_kernel (up to 8 rows of v_dim), per thread.
std::vector<float>& out_rows_buf() {
  thread_local std::vector<float> v;
  return v;
}
const bool kOutRowsReserved = register_thread_scratch([] { out_rows_buf().resize(8 * 1024); });

template <int R>
void rows_kernel(const AttentionArgs& a, const float* kt, int64_t ks, int64_t h, int64_t t0) {
  const int64_t g = h / (a.n_heads / a.n_kv_heads);
  const int64_t last = a.pos0 + t0 + R - 1;  // the last key any of these rows sees
  const float* q[R];
  for (int r = 0; r < R; ++r) q[r] = a.q + (t0 + r) * a.q_stride + h * a.qk_dim;
  const float* vbase = a.v + g * a.v_dim;

  std::vector<float>& o_buf = out_rows_buf();
  if (static_cast<int64_t>(o_buf.size()) < R * a.v_dim) o_buf.resize(static_cast<size_t>(8 * a.v_dim));
  float* o[R];
  for (int r = 0; r < R; ++r) {
    o[r] = o_buf.data() + r * a.v_dim;
    for (int64_t c = 0; c < a.v_dim; ++c) o[r][c] = 0.0f;
  }
  alignas(64) float pbuf[R][kAttnKeyBlock];
  const float* prow[R];
  for (int r = 0; r < R; ++r) prow[r] = pbuf[r];
  float m[R], l[R];
  for (int r = 0; r < R; ++r) {
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0.0f;
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

  for (int64_t p0 = 0; p0 <= last; p0 += kAttnKeyBlock) {
    __m512 s[R][2];
    for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm512_setzero_ps();
    const float* kp = kt + p0;
    for (int64_t d = 0; d < a.qk_dim; ++d) {
      const __m512 k0 = _mm512_loadu_ps(kp + d * ks), k1 = _mm512_loadu_ps(kp + d * ks + 16);
      for (int r = 0; r < R; ++r) {
        const __m512 qd = _mm512_set1_ps(q[r][d]);
        s[r][0] = _mm512_fmadd_ps(qd, k0, s[r][0]);
        s[r][1] = _mm512_fmadd_ps(qd, k1, s[r][1]);
      }
    }
    const int64_t nk = last - p0 + 1 < kAttnKeyBlock ? last - p0 + 1 : kAttnKeyBlock;
    for (int r = 0; r < R; ++r) {
      __m512 s0 = _mm512_mul_ps(s[r][0], scale), s1 = _mm512_mul_ps(s[r][1], scale);
      const int64_t limit = a.pos0 + t0 + r - p0;  // keys p0 + j with j <= limit are visible
      if (limit < kAttnKeyBlock - 1) {
        const __m512i lim = _mm512_set1_epi32(static_cast<int32_t>(limit));
        s0 = _mm512_mask_mov_ps(neg_inf, _mm512_cmple_epi32_mask(lane, lim), s0);
        s1 = _mm512_mask_mov_ps(neg_inf, _mm512_cmple_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(16)), lim),
                                s1);
      }
      const float mx = _mm512_reduce_max_ps(_mm512_max_ps(s0, s1));
      const float m_new = mx > m[r] ? mx : m[r];
      const float alpha = std::exp(m[r] - m_new);  // 0 on the first block (m = -inf)
      const __m512 mv = _mm512_set1_ps(m_new);
      const __m512 e0 = exp_avx512(_mm512_sub_ps(s0, mv)), e1 = exp_avx512(_mm512_sub_ps(s1, mv));
      l[r] = l[r] * alpha + _mm512_reduce_add_ps(_mm512_add_ps(e0, e1));
      m[r] = m_new;
      _mm512_store_ps(pbuf[r], e0);
      _mm512_store_ps(pbuf[r] + 16, e1);
      if (alpha != 1.0f) {
        const __m512 av = _mm512_set1_ps(alpha);
        for (int64_t c = 0; c < a.v_dim; c += 16)
          _mm512_storeu_ps(o[r] + c, _mm512_mul_ps(_mm512_loadu_ps(o[r] + c), av));
      }
    }
    const float* vb = vbase + p0 * a.v_stride;
    int r = 0;
    for (; r + 2 <= R; r += 2) pv_rows<2>(o + r, prow + r, vb, a.v_stride, nk, a.v_dim);
    if (r < R) pv_rows<1>(o + r, prow + r, vb, a.v_stride, nk, a.v_dim);
  }
  for (int r = 0; r < R; ++r) {
    float* dst = a.out + (t0 + r) * a.out_stride + h * a.v_dim;
    const __m512 inv = _mm512_set1_ps(1.0f / l[r]);
    for (int64_t c = 0; c < a.v_dim; c += 16) _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_loadu_ps(o[r] + c), inv));
  }
}

}  // namespace

void attention_rows_avx512(const AttentionArgs& a, const float* kt, int64_t kt_stride, int64_t h, int64_t t0,
                           int64_t t1) {
  switch (t1 - t0) {
    case 1:
      return rows_kernel<1>(a, kt, kt_stride, h, t0);
    case 2:
      return rows_kernel<2>(a, kt, kt_stride, h, t0);
    case 3:
      return rows_kernel<3>(a, kt, kt_stride, h, t0);
    case 4:
      return rows_kernel<4>(a, kt, kt_stride, h, t0);
    case 5:
      return rows_kernel<5>(a, kt, kt_stride, h, t0);
    case 6:
      return rows_kernel<6>(a, kt, kt_stride, h, t0);
    case 7:
      return rows_kernel<7>(a, kt, kt_stride, h, t0);
    default:
      return rows_kernel<8>(a, kt, kt_stride, h, t0);
  }
}

}  // namespace baleen
