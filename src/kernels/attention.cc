#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/assert.h"
#include "core/cpu_features.h"
#include "kernels/x86/attention_avx512.h"

namespace baleen {
namespace {

AttentionArgs make_args(const float* q, int64_t q_stride, const float* k, int64_t k_stride, const float* v,
                        int64_t v_stride, int64_t n_heads, int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim, int64_t n,
                        int64_t pos0, float scale, float* out, int64_t out_stride) {
  BALEEN_ASSERT(n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0, "n_kv_heads %lld must divide n_heads %lld",
                static_cast<long long>(n_kv_heads), static_cast<long long>(n_heads));
  return AttentionArgs{q,      q_stride, k, k_stride, v,     v_stride, n_heads,   n_kv_heads,
                       qk_dim, v_dim,    n, pos0,     scale, out,      out_stride};
}

}  // namespace

void causal_attention_rows_ref(const AttentionArgs& a, int64_t h, int64_t t0, int64_t t1) {
  const int64_t g = h / (a.n_heads / a.n_kv_heads);
  std::vector<double> s(static_cast<size_t>(a.pos0 + a.n)), acc(static_cast<size_t>(a.v_dim));
  for (int64_t t = t0; t < t1; ++t) {
    const float* qt = a.q + t * a.q_stride + h * a.qk_dim;
    const int64_t n_keys = a.pos0 + t + 1;
    double mx = -INFINITY;
    for (int64_t p = 0; p < n_keys; ++p) {
      const float* kp = a.k + p * a.k_stride + g * a.qk_dim;
      double d = 0.0;
      for (int64_t i = 0; i < a.qk_dim; ++i) d += static_cast<double>(qt[i]) * kp[i];
      s[p] = d * a.scale;
      if (s[p] > mx) mx = s[p];
    }
    double sum = 0.0;
    for (int64_t p = 0; p < n_keys; ++p) {
      s[p] = std::exp(s[p] - mx);
      sum += s[p];
    }
    for (double& x : acc) x = 0.0;
    for (int64_t p = 0; p < n_keys; ++p) {
      const float* vp = a.v + p * a.v_stride + g * a.v_dim;
      for (int64_t c = 0; c < a.v_dim; ++c) acc[c] += s[p] * vp[c];
    }
    float* o = a.out + t * a.out_stride + h * a.v_dim;
    for (int64_t c = 0; c < a.v_dim; ++c) o[c] = static_cast<float>(acc[c] / sum);
  }
}

void causal_attention_ref(const float* q, int64_t q_stride, const float* k, int64_t k_stride, const float* v,
                          int64_t v_stride, int64_t n_heads, int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim,
                          int64_t n, int64_t pos0, float scale, float* out, int64_t out_stride) {
  const AttentionArgs a = make_args(q, q_stride, k, k_stride, v, v_stride, n_heads, n_kv_heads, qk_dim, v_dim, n, pos0,
                                    scale, out, out_stride);
  for (int64_t h = 0; h < n_heads; ++h) causal_attention_rows_ref(a, h, 0, n);
}

void causal_attention(const float* q, int64_t q_stride, const float* k, int64_t k_stride, const float* v,
                      int64_t v_stride, int64_t n_heads, int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim, int64_t n,
                      int64_t pos0, float scale, float* out, int64_t out_stride, ThreadPool& pool) {
  const AttentionArgs a = make_args(q, q_stride, k, k_stride, v, v_stride, n_heads, n_kv_heads, qk_dim, v_dim, n, pos0,
                                    scale, out, out_stride);
  if (n <= 0) return;
  const int64_t row_blocks = (n + kAttnRowBlock - 1) / kAttnRowBlock;
  const int64_t items = n_heads * row_blocks;  // (block of rows, head)
  if (dispatch_level() != DispatchLevel::kAvx512 || v_dim % 16 != 0) {
    pool.parallel_for(items, 1, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t h = i % n_heads, t0 = (i / n_heads) * kAttnRowBlock;
        causal_attention_rows_ref(a, h, t0, t0 + kAttnRowBlock < n ? t0 + kAttnRowBlock : n);
      }
    });
    return;
  }
  // Keys transposed per kv head, [n_kv_heads][qk_dim][kt_stride], zero past the last position, so the
  // score loop reads 32 consecutive keys per dimension.
  const int64_t n_keys = pos0 + n;
  // Plus 16 floats: a row stride of an odd number of 64-byte lines spreads one key block's qk_dim
  // rows over all L1 sets (at a power-of-two stride they share a few sets and evict each other).
  const int64_t kt_stride = (n_keys + kAttnKeyBlock - 1) / kAttnKeyBlock * kAttnKeyBlock + 16;
  thread_local std::vector<float> kt_buf;
  const size_t kt_size = static_cast<size_t>(n_kv_heads * qk_dim * kt_stride);
  if (kt_buf.size() < kt_size) kt_buf.resize(kt_size);
  float* kt = kt_buf.data();
  // In 16 x 16 register transposes, per (kv head, 64 keys).
  constexpr int64_t kKeysPerItem = 64;
  const int64_t key_items = (kt_stride + kKeysPerItem - 1) / kKeysPerItem;
  pool.parallel_for(n_kv_heads * key_items, 4, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t g = i / key_items, p0 = i % key_items * kKeysPerItem;
      transpose_keys_avx512(k, k_stride, g, qk_dim, n_keys, p0, std::min(p0 + kKeysPerItem, kt_stride), kt, kt_stride);
    }
  });
  // Later row blocks see more keys: thread c takes every T-th (block, head) item in block-major
  // order, so each thread gets blocks from the whole range of lengths.
  const int64_t n_threads = pool.size();
  pool.parallel_for(n_threads, 1, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t i = c; i < items; i += n_threads) {
        const int64_t h = i % n_heads, b = i / n_heads;
        const int64_t t0 = b * kAttnRowBlock, t1 = t0 + kAttnRowBlock < n ? t0 + kAttnRowBlock : n;
        const int64_t g = h / (n_heads / n_kv_heads);
        attention_rows_avx512(a, kt + g * qk_dim * kt_stride, kt_stride, h, t0, t1);
      }
    }
  });
}

}  // namespace baleen
