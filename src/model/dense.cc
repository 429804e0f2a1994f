// Grouped-query attention of the dense architectures (llama, qwen2): q/k/v projections (+ qwen2
// biases), RoPE on whole heads (pairs layout per model), causal softmax attention over the cache.
#include <algorithm>

#include "kernels/matmul.h"
#include "kernels/ref/ops.h"
#include "model/forward.h"

namespace baleen {

void gqa_attention(const ModelImpl& model, const LayerWeights& L, KvLayer kv, const float* xn, int64_t n, int64_t pos0,
                   Scratch& s, ThreadPool& pool, float* out) {
  const ModelConfig& cfg = model.config();
  const RopeSetup& rope = model.rope();
  const int64_t H = cfg.n_heads, KV = cfg.n_kv_heads, hd = cfg.head_dim;
  const int64_t group = H / KV;
  float* q = grow(s.q, n * H * hd);  // [n_tokens, n_heads, head_dim]
  matmul(L.wq, xn, n, q, pool);
  // K and V rows go straight into the cache: [n_tokens, n_kv_heads, head_dim] at pos0.
  matmul(L.wk, xn, n, kv.k_row(pos0), pool);
  matmul(L.wv, xn, n, kv.v_row(pos0), pool);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t pos = pos0 + t;
    float* qt = q + t * H * hd;
    float* kt = kv.k_row(pos);
    float* vt = kv.v_row(pos);
    if (!L.bq.empty()) {
      for (int64_t i = 0; i < H * hd; ++i) qt[i] += L.bq[i];
      for (int64_t i = 0; i < KV * hd; ++i) kt[i] += L.bk[i];
      for (int64_t i = 0; i < KV * hd; ++i) vt[i] += L.bv[i];
    }
    for (int64_t h = 0; h < H; ++h) rope_ref(qt + h * hd, hd, pos, rope.inv_freq.data(), rope.style);
    for (int64_t h = 0; h < KV; ++h) rope_ref(kt + h * hd, hd, pos, rope.inv_freq.data(), rope.style);
  }
  float* heads = grow(s.heads, n * H * hd);  // [n_tokens, n_heads, head_dim]
  const float scale = rope.attn_scale;
  pool.parallel_for(H * n, 1, [&](int64_t i0, int64_t i1, int thread) {
    float* sc = s.thread_scores[thread].data();
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t h = i / n, t = i % n, g = h / group;
      const float* qh = q + (t * H + h) * hd;
      const int64_t n_kv = pos0 + t + 1;
      for (int64_t u = 0; u < n_kv; ++u) sc[u] = scale * dot_f32(qh, kv.k_row(u) + g * hd, hd);
      softmax_ref(sc, n_kv);
      float* o = heads + (t * H + h) * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t u = 0; u < n_kv; ++u) {
        const float p = sc[u];
        const float* vu = kv.v_row(u) + g * hd;
        for (int64_t d = 0; d < hd; ++d) o[d] += p * vu[d];
      }
    }
  });
  matmul(L.wo, heads, n, out, pool);
}

void dense_ffn(const FfnWeights& f, const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out) {
  const int64_t ff = f.gate.rows;
  float* gate = grow(s.gate, n * ff);  // [n_tokens, ff]
  float* up = grow(s.up, n * ff);      // [n_tokens, ff]
  matmul(f.gate, xn, n, gate, pool);
  matmul(f.up, xn, n, up, pool);
  swiglu_ref(gate, up, n * ff, gate);
  matmul(f.down, gate, n, out, pool);
}

}  // namespace baleen
