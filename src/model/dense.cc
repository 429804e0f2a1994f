// Grouped-query attention of the dense architectures (llama, qwen2): q/k/v projections (+ qwen2
// biases), RoPE on whole heads (pairs layout per model), causal softmax attention over the cache.
#include <algorithm>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/ref/ops.h"
#include "kernels/swiglu.h"
#include "model/forward.h"

namespace baleen {

void gqa_attention(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs,
                   const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out) {
  const ModelConfig& cfg = model.config();
  const RopeSetup& rope = model.rope();
  const int64_t H = cfg.n_heads, KV = cfg.n_kv_heads, hd = cfg.head_dim;
  const int64_t group = H / KV, kw = KV * hd;
  float* q = grow(s.q, n * H * hd);  // [n_rows, n_heads, head_dim]
  // K and V of every row [n_rows, n_kv_heads, head_dim], then into each sequence's cache rows.
  float* k_new = grow(s.kv_new, n * kw);
  float* v_new = grow(s.v_new, n * kw);
  const MatmulJob qkv[] = {{&L.wq, xn, n, q}, {&L.wk, xn, n, k_new}, {&L.wv, xn, n, v_new}};
  matmul_many(qkv, pool);
  for (const SeqRows& sq : seqs) {
    const KvLayer kv = sq.cache->layer(il);
    BALEEN_ASSERT(kv.width == kw, "GQA cache width %lld, want %lld", static_cast<long long>(kv.width),
                  static_cast<long long>(kw));
    for (int64_t t = 0; t < sq.n; ++t) {
      const int64_t pos = sq.pos0 + t, r = sq.row0 + t;
      float* qt = q + r * H * hd;
      float* kt = kv.k_row(pos);
      float* vt = kv.v_row(pos);
      std::copy_n(k_new + r * kw, kw, kt);
      std::copy_n(v_new + r * kw, kw, vt);
      if (!L.bq.empty()) {
        for (int64_t i = 0; i < H * hd; ++i) qt[i] += L.bq[i];
        for (int64_t i = 0; i < kw; ++i) kt[i] += L.bk[i];
        for (int64_t i = 0; i < kw; ++i) vt[i] += L.bv[i];
      }
      const float* cs = s.rope_cs.data() + r * hd;  // fill_rope_table: this row's position
      for (int64_t h = 0; h < H; ++h) rope_apply(qt + h * hd, hd, cs, rope.style);
      for (int64_t h = 0; h < KV; ++h) rope_apply(kt + h * hd, hd, cs, rope.style);
    }
  }
  float* heads = grow(s.heads, n * H * hd);  // [n_rows, n_heads, head_dim]
  const float scale = rope.attn_scale;
  // Prefill chunks: blocked causal attention straight over the cache (kernels/attention.h).
  for (const SeqRows& sq : seqs) {
    if (sq.n < kFlashAttentionMinRows) continue;
    const KvLayer kv = sq.cache->layer(il);
    causal_attention(q + sq.row0 * H * hd, H * hd, kv.k_row(0), kw, kv.v_row(0), kw, H, KV, hd, hd, sq.n, sq.pos0,
                     scale, heads + sq.row0 * H * hd, H * hd, pool);
  }
  // Decode rows (and short chunks) of every sequence in one pool loop over (sequence, head, token).
  const int64_t n_items =
      plan_attention_items(seqs, H, s, pool.size(), [](const SeqRows& sq) { return sq.n < kFlashAttentionMinRows; });
  pool.parallel_for(n_items, 1, [&](int64_t i0, int64_t i1, int thread) {
    float* sc = s.scores.data() + thread * s.scores_stride;
    for_attention_items(s, seqs, H, i0, i1, [&](size_t j, int64_t h, int64_t t) {
      const SeqRows& sq = seqs[j];
      const KvLayer kv = sq.cache->layer(il);
      const int64_t g = h / group, r = sq.row0 + t;
      const float* qh = q + (r * H + h) * hd;
      const int64_t n_kv = sq.pos0 + t + 1;
      for (int64_t u = 0; u < n_kv; ++u) sc[u] = scale * dot_f32(qh, kv.k_row(u) + g * hd, hd);
      softmax_ref(sc, n_kv);
      float* o = heads + (r * H + h) * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t u = 0; u < n_kv; ++u) {
        const float p = sc[u];
        const float* vu = kv.v_row(u) + g * hd;
        for (int64_t d = 0; d < hd; ++d) o[d] += p * vu[d];
      }
    });
  });
  matmul(L.wo, heads, n, out, pool);
}

void dense_ffn(const FfnWeights& f, const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out) {
  const int64_t ff = f.gate.rows;
  float* gate = grow(s.gate, n * ff);  // [n_tokens, ff]
  float* up = grow(s.up, n * ff);      // [n_tokens, ff]
  const MatmulJob gate_up[] = {{&f.gate, xn, n, gate}, {&f.up, xn, n, up}};
  matmul_many(gate_up, pool);
  swiglu_pooled(gate, up, n * ff, gate, pool);
  matmul(f.down, gate, n, out, pool);
}

}  // namespace baleen
