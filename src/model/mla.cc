// Multi-head Latent Attention (deepseek-spec 3). The cache holds per position only the normalised
// latent c (kv_lora_rank) and the rotated shared k_pe (qk_rope_head_dim). Two equivalent forms:
// naive (3.5): expand k_nope and v per head from the latent of every cached position, then MHA;
// absorbed (3.6): fold W_UK into the query (q~ = W_UK^T q_nope), attend over [c | k_pe] as MQA,
// then apply W_UV to the latent context. The softmax scale is qk_head_dim^-0.5 * mscale^2 in both.
#include <algorithm>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/mla_decode.h"
#include "kernels/ref/ops.h"
#include "kernels/rms_norm.h"
#include "model/forward.h"

namespace baleen {
namespace {

// For each head h: y[t, h * y_head ..] = x[t, h * x_head ..] . ws[h]^T, t < m (rows x_stride /
// y_stride apart), as one matmul_many pass. x_head = 0: every head reads the same x (quantized once).
void per_head_matmul(const std::vector<WeightMatrix>& ws, const float* x, int64_t x_stride, int64_t x_head, int64_t m,
                     float* y, int64_t y_stride, int64_t y_head, Scratch& s, ThreadPool& pool) {
  s.jobs.clear();
  for (size_t h = 0; h < ws.size(); ++h) {
    const auto hh = static_cast<int64_t>(h);
    s.jobs.push_back(MatmulJob{&ws[h], x + hh * x_head, m, y + hh * y_head, x_stride, y_stride});
  }
  matmul_many(s.jobs, pool);
}

}  // namespace

void mla_attention(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs,
                   const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out) {
  const ModelConfig& cfg = model.config();
  const RopeSetup& rope = model.rope();
  const int64_t H = cfg.n_heads, nope = cfg.qk_nope_head_dim, rdim = cfg.qk_rope_head_dim;
  const int64_t qk = nope + rdim, vdim = cfg.v_head_dim, R = cfg.kv_lora_rank, W = R + rdim;
  const auto eps = static_cast<float>(cfg.rms_norm_eps);
  const float scale = rope.attn_scale;

  // Query: [n_rows, n_heads, qk_head_dim], each head = [q_nope | q_pe].
  // Latent + k_pe of every row [n_rows, kv_lora_rank + qk_rope_head_dim] (into each sequence's
  // cache rows below, normalised and rotated), in the same pass as the query's first product.
  float* q = grow(s.q, n * H * qk);
  float* kv_new = grow(s.kv_new, n * W);
  if (cfg.q_lora_rank > 0) {
    float* qa = grow(s.q_a, n * cfg.q_lora_rank);  // [n_rows, q_lora_rank]
    const MatmulJob first[] = {{&L.wq_a, xn, n, qa}, {&L.wkv_a, xn, n, kv_new}};
    matmul_many(first, pool);
    rms_norm_rows(qa, L.q_a_norm.data(), n, cfg.q_lora_rank, eps, qa, pool);
    matmul(L.wq_b, qa, n, q, pool);
  } else {
    const MatmulJob first[] = {{&L.wq_plain, xn, n, q}, {&L.wkv_a, xn, n, kv_new}};
    matmul_many(first, pool);
  }
  for (const SeqRows& sq : seqs) {
    const KvLayer kv = sq.cache->layer(il);
    BALEEN_ASSERT(kv.width == W, "MLA cache width %lld, want %lld", static_cast<long long>(kv.width),
                  static_cast<long long>(W));
    const auto store = [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t pos = sq.pos0 + t, r = sq.row0 + t;
        float* row = kv.row(pos);
        std::copy_n(kv_new + r * W, W, row);
        rms_norm(row, L.kv_a_norm.data(), R, eps, row);  // c only, never k_pe
        const float* cs = s.rope_cs.data() + r * rdim;   // fill_rope_table: this row's position
        rope_apply(row + R, rdim, cs, rope.style);
        for (int64_t h = 0; h < H; ++h) rope_apply(q + (r * H + h) * qk + nope, rdim, cs, rope.style);
      }
    };
    if (sq.n >= 16) {
      pool.parallel_for(sq.n, 4, store);
    } else {
      store(0, sq.n, 0);
    }
  }
  float* heads = grow(s.heads, n * H * vdim);  // [n_rows, n_heads, v_head_dim]

  // Naive sequences one at a time: each expands its own cache.
  for (size_t j = 0; j < seqs.size(); ++j) {
    const SeqRows& sq = seqs[j];
    if (sq.absorbed) continue;
    const KvLayer kv = sq.cache->layer(il);
    const int64_t n_kv = sq.pos0 + sq.n;
    // Per-head keys [k_nope | shared k_pe] and values of every cached position, the layout
    // causal_attention reads: kh [n_kv, n_heads, qk_head_dim], vh [n_kv, n_heads, v_head_dim].
    float* kh = grow(s.k_heads, n_kv * H * qk);
    float* vh = grow(s.v_heads, n_kv * H * vdim);
    if (L.k_b_latent_rows && L.k_b_q8 != nullptr && matmul_act_q8_enabled()) {
      // W_UK requantized with the latent as columns (model/k_b_q8.h) and W_UV: every head's keys
      // and values in one integer pass, straight into that layout.
      const std::vector<WeightMatrix>& kb = L.k_b_q8->get(L.k_b, pool);
      s.jobs.clear();
      for (int64_t h = 0; h < H; ++h) {
        s.jobs.push_back(MatmulJob{&kb[h], kv.row(0), n_kv, kh + h * qk, W, H * qk});
        s.jobs.push_back(MatmulJob{&L.v_b[h], kv.row(0), n_kv, vh + h * vdim, W, H * vdim});
      }
      matmul_many(s.jobs, pool);
    } else if (L.k_b_latent_rows) {
      // Per-head W_UK^T / W_UV (GGUF attn_k_b / attn_v_b) write straight into that layout.
      matmul_xw_heads(L.k_b, kv.row(0), W, 0, n_kv, kh, H * qk, qk, pool);
      per_head_matmul(L.v_b, kv.row(0), W, 0, n_kv, vh, H * vdim, vdim, s, pool);
    } else {
      // One kv_b product gives [n_kv, n_heads, qk_nope_head_dim + v_head_dim]; split it per head.
      const int64_t kvw = H * (nope + vdim);
      float* kx = grow(s.k_exp, n_kv * kvw);
      matmul(L.kv_b, kv.row(0), n_kv, kx, pool, W);
      pool.parallel_for(n_kv, 16, [&](int64_t u0, int64_t u1, int) {
        for (int64_t u = u0; u < u1; ++u) {
          for (int64_t h = 0; h < H; ++h) {
            const float* src = kx + u * kvw + h * (nope + vdim);
            std::copy_n(src, nope, kh + (u * H + h) * qk);
            std::copy_n(src + nope, vdim, vh + (u * H + h) * vdim);
          }
        }
      });
    }
    pool.parallel_for(n_kv, 64, [&](int64_t u0, int64_t u1, int) {
      for (int64_t u = u0; u < u1; ++u) {
        for (int64_t h = 0; h < H; ++h) std::copy_n(kv.row(u) + R, rdim, kh + (u * H + h) * qk + nope);
      }
    });
    causal_attention(q + sq.row0 * H * qk, H * qk, kh, H * qk, vh, H * vdim, H, H, qk, vdim, sq.n, sq.pos0, scale,
                     heads + sq.row0 * H * vdim, H * vdim, pool);
  }

  // Absorbed sequences together. Runs of consecutive absorbed sequences are contiguous rows
  // [r0, r1) that share one W_UK and one W_UV product per head.
  const auto for_absorbed_runs = [&](auto&& fn) {
    for (size_t j = 0; j < seqs.size();) {
      if (!seqs[j].absorbed) {
        ++j;
        continue;
      }
      const int64_t r0 = seqs[j].row0;
      while (j < seqs.size() && seqs[j].absorbed) ++j;
      fn(r0, seqs[j - 1].row0 + seqs[j - 1].n);
    }
  };
  // Attention items: (sequence, group of G heads, token); a group's heads read the cache rows
  // together (kernels/mla_decode.h).
  const int64_t G = H % 8 == 0 ? 8 : 1, n_groups = H / G;
  const int64_t n_items =
      plan_attention_items(seqs, n_groups, s, pool.size(), [](const SeqRows& sq) { return sq.absorbed; });
  if (n_items == 0) {
    matmul(L.wo, heads, n, out, pool);
    return;
  }
  // q~ = W_UK^T q_nope per head: [n_rows, n_heads, kv_lora_rank] (absorbed rows only).
  float* qa = grow(s.q_abs, n * H * R);
  for_absorbed_runs([&](int64_t r0, int64_t r1) {
    const float* qr = q + r0 * H * qk;
    float* qar = qa + r0 * H * R;
    if (L.k_b_latent_rows) {
      per_head_matmul(L.k_b, qr, H * qk, qk, r1 - r0, qar, H * R, R, s, pool);
    } else {
      matmul_xw_heads(L.k_b, qr, H * qk, qk, r1 - r0, qar, H * R, R, pool);
    }
  });
  float* z = grow(s.z, n * H * R);  // latent context [n_rows, n_heads, kv_lora_rank]
  int64_t max_kv = 1;
  for (const SeqRows& sq : seqs) {
    if (sq.absorbed) max_kv = std::max(max_kv, sq.cache->n_ctx());
  }
  // (sized by the caches' capacity, not their current length: decoding on does not regrow it)
  const int64_t per_thread = mla_decode_scratch_floats(G, R, rdim, max_kv);
  grow(s.scores, per_thread * pool.size());
  s.scores_stride = per_thread;
  pool.parallel_for(n_items, 1, [&](int64_t i0, int64_t i1, int thread) {
    float* sc = s.scores.data() + thread * s.scores_stride;
    for_attention_items(s, seqs, n_groups, i0, i1, [&](size_t j, int64_t hg, int64_t t) {
      const SeqRows& sq = seqs[j];
      const KvLayer kv = sq.cache->layer(il);
      const int64_t r = sq.row0 + t, h0 = hg * G;
      MlaDecodeArgs a;
      a.q_abs = qa + (r * H + h0) * R;
      a.q_abs_stride = R;
      a.q_pe = q + (r * H + h0) * qk + nope;
      a.q_pe_stride = qk;
      a.cache = kv.row(0);
      a.cache_stride = kv.width;
      a.n_ctx = sq.pos0 + t + 1;
      a.kv_lora_rank = R;
      a.rope_dim = rdim;
      a.scale = scale;
      a.z = z + (r * H + h0) * R;
      a.z_stride = R;
      mla_decode_heads(a, G, sc);
    });
  });
  for_absorbed_runs([&](int64_t r0, int64_t r1) {
    per_head_matmul(L.v_b, z + r0 * H * R, H * R, R, r1 - r0, heads + r0 * H * vdim, H * vdim, vdim, s, pool);
  });
  matmul(L.wo, heads, n, out, pool);
}

}  // namespace baleen
