#include "kernels/mla_decode.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/ref/ops.h"

namespace baleen {

int64_t mla_decode_scratch_floats(int64_t n_heads, int64_t kv_lora_rank, int64_t rope_dim, int64_t n_ctx) {
  // The AVX-512 kernel: per head its query [kv_lora_rank + rope_dim], a block's scores and its
  // latent sums [kv_lora_rank]; the per-head loop: the scores of one head [n_ctx].
  return std::max(n_heads * (2 * kv_lora_rank + rope_dim + kMlaDecodeBlock), n_ctx);
}

void mla_decode_heads_ref(const MlaDecodeArgs& a, int64_t n_heads) {
  const int64_t R = a.kv_lora_rank, m = a.n_ctx;
  std::vector<double> s(static_cast<size_t>(m)), z(static_cast<size_t>(R));
  for (int64_t g = 0; g < n_heads; ++g) {
    const float* qa = a.q_abs + g * a.q_abs_stride;
    const float* qp = a.q_pe + g * a.q_pe_stride;
    double mx = -INFINITY;
    for (int64_t u = 0; u < m; ++u) {
      const float* row = a.cache + u * a.cache_stride;
      double d = 0.0;
      for (int64_t i = 0; i < R; ++i) d += static_cast<double>(qa[i]) * row[i];
      for (int64_t i = 0; i < a.rope_dim; ++i) d += static_cast<double>(qp[i]) * row[R + i];
      s[u] = d * a.scale;
      mx = std::max(mx, s[u]);
    }
    double sum = 0.0;
    for (int64_t u = 0; u < m; ++u) {
      s[u] = std::exp(s[u] - mx);
      sum += s[u];
    }
    std::fill(z.begin(), z.end(), 0.0);
    for (int64_t u = 0; u < m; ++u) {
      const float* row = a.cache + u * a.cache_stride;
      for (int64_t i = 0; i < R; ++i) z[i] += s[u] * row[i];
    }
    float* zo = a.z + g * a.z_stride;
    for (int64_t i = 0; i < R; ++i) zo[i] = static_cast<float>(z[i] / sum);
  }
}

void mla_decode_heads(const MlaDecodeArgs& a, int64_t n_heads, float* scratch) {
  const int64_t R = a.kv_lora_rank, m = a.n_ctx;
  if (dispatch_level() == DispatchLevel::kAvx512 && n_heads == 8 && R % 32 == 0 && (R + a.rope_dim) % 16 == 0) {
    return mla_decode_8_avx512(a, scratch);
  }
  // One head at a time: float scores, softmax_ref, then the weighted sum of latent rows.
  float* sc = scratch;
  for (int64_t g = 0; g < n_heads; ++g) {
    const float* qa = a.q_abs + g * a.q_abs_stride;
    const float* qp = a.q_pe + g * a.q_pe_stride;
    for (int64_t u = 0; u < m; ++u) {
      const float* row = a.cache + u * a.cache_stride;
      sc[u] = a.scale * (dot_f32(qa, row, R) + dot_f32(qp, row + R, a.rope_dim));
    }
    softmax_ref(sc, m);
    float* zo = a.z + g * a.z_stride;
    std::fill_n(zo, R, 0.0f);
    for (int64_t u = 0; u < m; ++u) {
      const float p = sc[u];
      const float* c = a.cache + u * a.cache_stride;
      for (int64_t d = 0; d < R; ++d) zo[d] += p * c[d];
    }
  }
}

}  // namespace baleen
