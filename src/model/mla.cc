// Multi-head Latent Attention (deepseek-spec 3). The cache holds per position only the normalised
// latent c (kv_lora_rank) and the rotated shared k_pe (qk_rope_head_dim). Two equivalent forms:
// naive (3.5): expand k_nope and v per head from the latent of every cached position, then MHA;
// absorbed (3.6): fold W_UK into the query (q~ = W_UK^T q_nope), attend over [c | k_pe] as MQA,
// then apply W_UV to the latent context. The softmax scale is qk_head_dim^-0.5 * mscale^2 in both.
#include <algorithm>

#include "kernels/matmul.h"
#include "kernels/ref/ops.h"
#include "model/forward.h"

namespace baleen {

void mla_attention(const ModelImpl& model, const LayerWeights& L, KvLayer kv, const float* xn, int64_t n, int64_t pos0,
                   bool absorbed, Scratch& s, ThreadPool& pool, float* out) {
  const ModelConfig& cfg = model.config();
  const RopeSetup& rope = model.rope();
  const int64_t H = cfg.n_heads, nope = cfg.qk_nope_head_dim, rdim = cfg.qk_rope_head_dim;
  const int64_t qk = nope + rdim, vdim = cfg.v_head_dim, R = cfg.kv_lora_rank, W = kv.width;  // W = R + rdim
  const auto eps = static_cast<float>(cfg.rms_norm_eps);
  const float scale = rope.attn_scale;

  // Query: [n_tokens, n_heads, qk_head_dim], each head = [q_nope | q_pe].
  float* q = grow(s.q, n * H * qk);
  if (cfg.q_lora_rank > 0) {
    float* qa = grow(s.q_a, n * cfg.q_lora_rank);  // [n_tokens, q_lora_rank]
    matmul(L.wq_a, xn, n, qa, pool);
    rms_norm_rows(qa, L.q_a_norm.data(), n, cfg.q_lora_rank, eps, qa);
    matmul(L.wq_b, qa, n, q, pool);
  } else {
    matmul(L.wq_plain, xn, n, q, pool);
  }
  // Latent + k_pe straight into the cache rows: [n_tokens, kv_lora_rank + qk_rope_head_dim].
  matmul(L.wkv_a, xn, n, kv.row(pos0), pool);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t pos = pos0 + t;
    float* row = kv.row(pos);
    rms_norm_ref(row, L.kv_a_norm.data(), R, eps, row);  // c only, never k_pe
    rope_ref(row + R, rdim, pos, rope.inv_freq.data(), rope.style);
    for (int64_t h = 0; h < H; ++h) rope_ref(q + (t * H + h) * qk + nope, rdim, pos, rope.inv_freq.data(), rope.style);
  }
  const int64_t n_kv = pos0 + n;
  float* heads = grow(s.heads, n * H * vdim);  // [n_tokens, n_heads, v_head_dim]

  if (!absorbed) {
    // Expanded keys/values of every cached position: [n_kv, n_heads, qk_nope_head_dim + v_head_dim].
    const int64_t kvw = H * (nope + vdim);
    float* kx = grow(s.k_exp, n_kv * kvw);
    if (!L.k_b_latent_rows) {
      matmul(L.kv_b, kv.row(0), n_kv, kx, pool, W);
    } else {
      matmul_xw_heads(L.k_b, kv.row(0), W, 0, n_kv, kx, kvw, nope + vdim, pool);
      for (int64_t h = 0; h < H; ++h) matmul(L.v_b[h], kv.row(0), n_kv, kx + h * (nope + vdim) + nope, pool, W, kvw);
    }
    pool.parallel_for(H * n, 1, [&](int64_t i0, int64_t i1, int thread) {
      float* sc = s.thread_scores[thread].data();
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t h = i / n, t = i % n;
        const float* qh = q + (t * H + h) * qk;
        const int64_t m = pos0 + t + 1;
        for (int64_t u = 0; u < m; ++u) {
          const float* k = kx + u * kvw + h * (nope + vdim);
          sc[u] = scale * (dot_f32(qh, k, nope) + dot_f32(qh + nope, kv.row(u) + R, rdim));
        }
        softmax_ref(sc, m);
        float* o = heads + (t * H + h) * vdim;
        std::fill_n(o, vdim, 0.0f);
        for (int64_t u = 0; u < m; ++u) {
          const float p = sc[u];
          const float* v = kx + u * kvw + h * (nope + vdim) + nope;
          for (int64_t d = 0; d < vdim; ++d) o[d] += p * v[d];
        }
      }
    });
  } else {
    // q~ = W_UK^T q_nope per head: [n_tokens, n_heads, kv_lora_rank].
    float* qa = grow(s.q_abs, n * H * R);
    if (L.k_b_latent_rows) {
      for (int64_t h = 0; h < H; ++h) matmul(L.k_b[h], q + h * qk, n, qa + h * R, pool, H * qk, H * R);
    } else {
      matmul_xw_heads(L.k_b, q, H * qk, qk, n, qa, H * R, R, pool);
    }
    float* z = grow(s.z, n * H * R);  // latent context [n_tokens, n_heads, kv_lora_rank]
    pool.parallel_for(H * n, 1, [&](int64_t i0, int64_t i1, int thread) {
      float* sc = s.thread_scores[thread].data();
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t h = i / n, t = i % n;
        const float* qt = qa + (t * H + h) * R;
        const float* qpe = q + (t * H + h) * qk + nope;
        const int64_t m = pos0 + t + 1;
        for (int64_t u = 0; u < m; ++u) {
          const float* row = kv.row(u);
          sc[u] = scale * (dot_f32(qt, row, R) + dot_f32(qpe, row + R, rdim));
        }
        softmax_ref(sc, m);
        float* zo = z + (t * H + h) * R;
        std::fill_n(zo, R, 0.0f);
        for (int64_t u = 0; u < m; ++u) {
          const float p = sc[u];
          const float* c = kv.row(u);
          for (int64_t d = 0; d < R; ++d) zo[d] += p * c[d];
        }
      }
    });
    for (int64_t h = 0; h < H; ++h) matmul(L.v_b[h], z + h * R, n, heads + h * vdim, pool, H * R, H * vdim);
  }
  matmul(L.wo, heads, n, out, pool);
}

}  // namespace baleen
