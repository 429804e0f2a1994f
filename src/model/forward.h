// The forward pass's building blocks, shared by the main model (session.cc) and the MTP block
// (mtp.cc): per-session scratch buffers, one decoder layer, and its parts (MLA attention in both
// forms, GQA attention, dense SwiGLU FFN, DeepSeekMoE). Activations are row-major F32
// [n_tokens, width]; positions of the rows are pos0 .. pos0 + n_tokens - 1.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"

namespace baleen {

// Resizes v to at least n elements (never shrinks, so steady-state calls do not allocate) and
// returns its data.
template <typename T>
T* grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// Buffers reused across steps; each is grown to the largest batch seen.
struct Scratch {
  std::vector<float> x, xn, branch;               // [n_tokens, hidden_size]
  std::vector<float> q, q_a, heads;               // attention projections / per-head outputs
  std::vector<float> k_exp, q_abs, z;             // MLA naive expansion / absorbed query / latent context
  std::vector<std::vector<float>> thread_scores;  // [pool threads][n_ctx]
  std::vector<float> gate, up, gathered, expert_out, shared_out;  // FFN
  std::vector<float> router_logits, route_scores, route_u, group_score;
  std::vector<int32_t> sel_expert, expert_count, expert_offset, expert_tokens;
  std::vector<float> sel_weight, expert_token_weight;
  std::vector<uint8_t> picked;
  std::vector<float> mtp_in;  // [n_tokens, 2 * hidden_size]
};

// out[t] = rms_norm(x[t]) * w for n rows of `dim`; out may alias x.
void rms_norm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out);

// Per-head products with the weight on the other side of matmul's: for each head h with
// W = ws[h] [rows, cols], y[t, h * y_head + c] = sum_r x[t, h * x_head + r] * W[r, c], t < m.
// x rows are x_stride apart, y rows y_stride apart. Threads split the heads.
void matmul_xw_heads(const std::vector<WeightMatrix>& ws, const float* x, int64_t x_stride, int64_t x_head, int64_t m,
                     float* y, int64_t y_stride, int64_t y_head, ThreadPool& pool);

// x [n, hidden_size] += Attention(RMSNorm(x)); x += FFN(RMSNorm(x)). `absorbed` picks the MLA form.
void decoder_layer(const ModelImpl& model, const LayerWeights& L, KvLayer kv, float* x, int64_t n, int64_t pos0,
                   bool absorbed, Scratch& s, ThreadPool& pool);

// out [n, hidden_size] = attention over positions 0 .. pos0 + t for each row t of xn, after
// writing the rows' keys/values (MLA: latent + k_pe) into kv at pos0 ...
void mla_attention(const ModelImpl& model, const LayerWeights& L, KvLayer kv, const float* xn, int64_t n, int64_t pos0,
                   bool absorbed, Scratch& s, ThreadPool& pool, float* out);
void gqa_attention(const ModelImpl& model, const LayerWeights& L, KvLayer kv, const float* xn, int64_t n, int64_t pos0,
                   Scratch& s, ThreadPool& pool, float* out);

// out [n, hidden_size] = SwiGLU FFN / DeepSeekMoE of xn (out is overwritten).
void dense_ffn(const FfnWeights& f, const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out);
void moe_ffn(const ModelConfig& cfg, const MoeWeights& w, const float* xn, int64_t n, Scratch& s, ThreadPool& pool,
             float* out);

// DeepSeekMoE routing of one token (deepseek-spec 4.4): fills experts[k] / weights[k], k <
// num_experts_per_tok, from router logits [n_routed_experts]. `u`, `group_score`, `picked`: scratch
// of n_routed_experts, n_group, n_routed_experts entries. Ties go to the lower index.
void route_token(const ModelConfig& cfg, const float* logits, const float* score_bias, float* scores, float* u,
                 float* group_score, uint8_t* picked, int32_t* experts, float* weights);

}  // namespace baleen
