// AVX-512 F32 causal attention rows (kernels/x86/attention_avx512.h). A call takes up to 64 query
// rows of one head and walks the keys in blocks of 32, outermost, so that each block's transposed
// keys and values are read from memory once for all the rows (per 8 rows they would stream the
// whole context from L3 again). Per block and 8 rows: scores by broadcasting q[d] against the
// transposed keys (two 16-key vectors), masked past each row's position, online softmax (running
// max m, sum l, output rescaled by exp(m_old - m_new)), then P . V with 4 rows x 64 output columns
// in registers (one load of each value vector per 4 rows). Each row sees the key blocks in order,
// so its result does not depend on the grouping. The keys are transposed here too, in 16 x 16
// register tiles.
#include "kernels/x86/attention_avx512.h"

#include <immintrin.h>

#include <algorithm>
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
      __m512 vv = _mm512_loadu_ps(vj + 16 * i);
      // (one load per vector: left to itself the compiler folds it into every row's FMA)
      if constexpr (NR > 1) asm("" : "+v"(vv));
      for (int r = 0; r < NR; ++r) acc[r][i] = _mm512_fmadd_ps(pr[r], vv, acc[r][i]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int i = 0; i < NV; ++i) _mm512_storeu_ps(o[r] + c + 16 * i, acc[r][i]);
}

// 4 rows x 64 columns (16 accumulators; per key 4 loads and 4 broadcasts for 16 FMAs), else 2 or
// 1 rows x 128 columns.
template <int NR>
void pv_rows(float* const* o, const float* const* p, const float* v, int64_t v_stride, int64_t nk, int64_t v_dim) {
  constexpr int kNv = NR == 4 ? 4 : 8;
  int64_t c = 0;
  for (; c + 16 * kNv <= v_dim; c += 16 * kNv) pv<NR, kNv>(o, p, v, v_stride, nk, c);
  for (; c < v_dim; c += 16) pv<NR, 1>(o, p, v, v_stride, nk, c);
}

// Per-thread state of attention_rows_avx512's rows: output accumulators [kAttnRowBlock][v_dim].
std::vector<float>& out_rows_buf() {
  thread_local std::vector<float> v;
  return v;
}
const bool kOutRowsReserved = register_thread_scratch([] { out_rows_buf().resize(kAttnRowBlock * 1024); });

// One key block p0 for R consecutive query rows (t0 .. t0 + R - 1): their scores against keys
// p0 .. p0 + 31, masked past each row's position, the online softmax update of m, l and o, and
// P . V into o.
constexpr int64_t kPrefetchRows = 8;

template <int R>
void rows_step(const AttentionArgs& a, const float* kt, int64_t ks, const float* vbase, int64_t t0, int64_t p0,
               float* const* o, float* m, float* l) {
  const int64_t last = a.pos0 + t0 + R - 1;  // the last key any of these rows sees
  const float* q[R];
  for (int r = 0; r < R; ++r) q[r] = a.q + (t0 + r) * a.q_stride;
  alignas(64) float pbuf[R][kAttnKeyBlock];
  const float* prow[R];
  for (int r = 0; r < R; ++r) prow[r] = pbuf[r];
  const __m512 scale = _mm512_set1_ps(a.scale);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

  __m512 s[R][2];
  for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm512_setzero_ps();
  const float* kp = kt + p0;
  for (int64_t d = 0; d < a.qk_dim; ++d) {
    const __m512 k0 = _mm512_loadu_ps(kp + d * ks), k1 = _mm512_loadu_ps(kp + d * ks + 16);
    _mm_prefetch(reinterpret_cast<const char*>(kp + (d + kPrefetchRows) * ks), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(kp + (d + kPrefetchRows) * ks + 16), _MM_HINT_T0);
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
      s1 = _mm512_mask_mov_ps(neg_inf, _mm512_cmple_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(16)), lim), s1);
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
  for (; r + 4 <= R; r += 4) pv_rows<4>(o + r, prow + r, vb, a.v_stride, nk, a.v_dim);
  for (; r + 2 <= R; r += 2) pv_rows<2>(o + r, prow + r, vb, a.v_stride, nk, a.v_dim);
  if (r < R) pv_rows<1>(o + r, prow + r, vb, a.v_stride, nk, a.v_dim);
}

// Up to 8 rows per step (registers: 2 score vectors per row).
constexpr int64_t kStepRows = 8;

void rows_step_any(int64_t n, const AttentionArgs& a, const float* kt, int64_t ks, const float* vbase, int64_t t0,
                   int64_t p0, float* const* o, float* m, float* l) {
  switch (n) {
    case 1:
      return rows_step<1>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 2:
      return rows_step<2>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 3:
      return rows_step<3>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 4:
      return rows_step<4>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 5:
      return rows_step<5>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 6:
      return rows_step<6>(a, kt, ks, vbase, t0, p0, o, m, l);
    case 7:
      return rows_step<7>(a, kt, ks, vbase, t0, p0, o, m, l);
    default:
      return rows_step<8>(a, kt, ks, vbase, t0, p0, o, m, l);
  }
}

}  // namespace

void transpose_keys_avx512(const float* k, int64_t k_stride, int64_t g, int64_t qk_dim, int64_t n_keys, int64_t p0,
                           int64_t p1, float* kt, int64_t kt_stride) {
  const float* kg = k + g * qk_dim;
  float* ktg = kt + g * qk_dim * kt_stride;
  int64_t d0 = 0;
  for (; d0 + 16 <= qk_dim; d0 += 16) {
    for (int64_t pb = p0; pb < p1; pb += 16) {
      // r[i]: key pb + i, dimensions d0 .. d0 + 15 (zero past the last key).
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = pb + i < n_keys ? _mm512_loadu_ps(kg + (pb + i) * k_stride + d0) : _mm512_setzero_ps();
      }
      // 16 x 16 transpose: 32-bit then 64-bit interleaves within 128-bit lanes (b[4 q + c], lane L:
      // keys 4 q .. 4 q + 3 at dimension 4 L + c), then 128-bit lane shuffles.
      __m512 a[16], b[16];
      for (int i = 0; i < 16; i += 2) {
        a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
      }
      for (int q = 0; q < 4; ++q) {
        const __m512d x0 = _mm512_castps_pd(a[4 * q]), x1 = _mm512_castps_pd(a[4 * q + 1]);
        const __m512d x2 = _mm512_castps_pd(a[4 * q + 2]), x3 = _mm512_castps_pd(a[4 * q + 3]);
        b[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, x2));
        b[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, x2));
        b[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, x3));
        b[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, x3));
      }
      const int64_t len = std::min<int64_t>(16, kt_stride - pb);
      const auto mask = static_cast<__mmask16>(len >= 16 ? 0xFFFF : (1u << len) - 1);
      for (int c = 0; c < 4; ++c) {
        const __m512 c0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44), c1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xEE);
        const __m512 e0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44);
        const __m512 e1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xEE);
        const __m512 o[4] = {_mm512_shuffle_f32x4(c0, e0, 0x88), _mm512_shuffle_f32x4(c0, e0, 0xDD),
                             _mm512_shuffle_f32x4(c1, e1, 0x88), _mm512_shuffle_f32x4(c1, e1, 0xDD)};
        for (int L = 0; L < 4; ++L) _mm512_mask_storeu_ps(ktg + (d0 + 4 * L + c) * kt_stride + pb, mask, o[L]);
      }
    }
  }
  for (; d0 < qk_dim; ++d0) {
    for (int64_t p = p0; p < p1 && p < kt_stride; ++p)
      ktg[d0 * kt_stride + p] = p < n_keys ? kg[p * k_stride + d0] : 0.0f;
  }
}

void attention_rows_avx512(const AttentionArgs& a, const float* kt, int64_t kt_stride, int64_t h, int64_t t0,
                           int64_t t1) {
  const int64_t n = t1 - t0;
  const int64_t g = h / (a.n_heads / a.n_kv_heads);
  const float* vbase = a.v + g * a.v_dim;
  AttentionArgs ah = a;  // q of head h
  ah.q = a.q + h * a.qk_dim;
  std::vector<float>& o_buf = out_rows_buf();
  if (static_cast<int64_t>(o_buf.size()) < n * a.v_dim) o_buf.resize(static_cast<size_t>(kAttnRowBlock * a.v_dim));
  float* o[kAttnRowBlock];
  float m[kAttnRowBlock], l[kAttnRowBlock];
  for (int64_t r = 0; r < n; ++r) {
    o[r] = o_buf.data() + r * a.v_dim;
    std::fill_n(o[r], a.v_dim, 0.0f);
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0.0f;
  }
  // Key blocks outermost: each block's keys and values (32 x (qk_dim + v_dim) floats) are read
  // from memory once for all the rows, then stay in L1 while every 8 rows' step uses them. Each
  // row sees the blocks in order, so its result does not depend on how rows are grouped.
  const int64_t last = a.pos0 + t1 - 1;
  for (int64_t p0 = 0; p0 <= last; p0 += kAttnKeyBlock) {
    // Rows before position p0 see nothing of this block.
    const int64_t first = std::max<int64_t>(0, p0 - a.pos0 - t0);
    for (int64_t r0 = first; r0 < n; r0 += kStepRows) {
      const int64_t rn = std::min(kStepRows, n - r0);
      rows_step_any(rn, ah, kt, kt_stride, vbase, t0 + r0, p0, o + r0, m + r0, l + r0);
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    float* dst = a.out + (t0 + r) * a.out_stride + h * a.v_dim;
    const __m512 inv = _mm512_set1_ps(1.0f / l[r]);
    for (int64_t c = 0; c < a.v_dim; c += 16) _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_loadu_ps(o[r] + c), inv));
  }
}

}  // namespace baleen
