// The forward pass's building blocks, shared by the main model (batch.cc) and the MTP block
// (mtp.cc): step scratch buffers, one decoder layer, and its parts (MLA attention in both forms,
// GQA attention, dense SwiGLU FFN, DeepSeekMoE). Activations are row-major F32 [n_rows, width]
// holding the rows of one or more sequences (SeqRows): every projection and expert runs once over
// all rows, attention runs per sequence against its own cache.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul_many.h"
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

// One sequence's rows in a step: rows row0 .. row0 + n - 1 of the activations are its tokens at
// positions pos0 .. pos0 + n - 1; their keys/values go to layer il of `cache`. `absorbed` picks its
// MLA form.
// Prefill chunks of at least this many rows attend through kernels/attention.h (blocked, online
// softmax); shorter ones (decode) through the per-(head, token) loop. Per sequence, never per batch,
// so a sequence's numbers do not depend on what it is batched with.
constexpr int64_t kFlashAttentionMinRows = 16;

struct SeqRows {
  KvCache* cache = nullptr;
  int64_t row0 = 0, n = 0, pos0 = 0;
  bool absorbed = false;
};

// Buffers reused across steps; each is grown to the largest step seen (never shrunk), so steady-state
// steps do not allocate.
struct Scratch {
  std::vector<float> x, xn, branch;      // [n_rows, hidden_size]
  std::vector<float> q, q_a, heads;      // attention projections / per-head outputs
  std::vector<float> kv_new, v_new;      // new cache rows before they are scattered: [n_rows, width]
  std::vector<float> k_exp, q_abs, z;    // MLA naive expansion / absorbed query / latent context
  std::vector<float> k_heads, v_heads;   // MLA naive: [n_kv, n_heads, qk_head_dim] / [n_kv, n_heads, v_head_dim]
  std::vector<float> scores;             // [pool threads, scores_stride]
  int64_t scores_stride = 0;             // largest n_ctx of the current attention call
  std::vector<int64_t> item_end;         // attention work items: running end per sequence
  std::vector<int32_t> item_seq;         // ... and which sequence
  std::vector<SeqRows> seqs;             // the step's sequences in row order
  std::vector<int32_t> seq_item;         // batch item of each of seqs
  std::vector<float> out_x, out_logits;  // rows that need logits, and their logits
  std::vector<float> gate, up, expert_out, shared_out;  // FFN
  std::vector<float> shared_gate, shared_up;            // MoE shared experts
  std::vector<MatmulJob> jobs;                          // matmul_many job lists
  std::vector<float> router_logits, route_scores, route_u, group_score;
  std::vector<int32_t> sel_expert, expert_count, expert_offset, expert_tokens, token_slot;
  std::vector<float> sel_weight, expert_token_weight;
  std::vector<uint8_t> picked;
  std::vector<float> mtp_in;   // [n_tokens, 2 * hidden_size]
  std::vector<float> rope_cs;  // [n_rows, rope_dims]: cos then sin of each pair at the row's position
  // Counters for measurements (BatchScratch): steps run through this scratch, and the bytes of the
  // routed-expert weight matrices their MoE layers ran, each expert once per step and layer
  // however many of the step's tokens chose it.
  uint64_t steps = 0, routed_expert_bytes = 0;
};

// out[t] = rms_norm(x[t]) * w for n rows of `dim`; out may alias x.
void rms_norm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out);
// The same split over the pool's threads when n is a prefill's worth of rows (the same bits).
void rms_norm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out, ThreadPool& pool);
// x[i] += y[i], i < n; split over the pool for prefill sizes.
void add_into(float* x, const float* y, int64_t n, ThreadPool& pool);
// kernels/swiglu.h's swiglu, split over the pool for prefill sizes.
void swiglu_pooled(const float* gate, const float* up, int64_t n, float* out, ThreadPool& pool);

// Per-head products with the weight on the other side of matmul's: for each head h with
// W = ws[h] [rows, cols], y[t, h * y_head + c] = sum_r x[t, h * x_head + r] * W[r, c], t < m.
// x rows are x_stride apart, y rows y_stride apart. Threads split the heads.
void matmul_xw_heads(const std::vector<WeightMatrix>& ws, const float* x, int64_t x_stride, int64_t x_head, int64_t m,
                     float* y, int64_t y_stride, int64_t y_head, ThreadPool& pool);

// Fills s.rope_cs for rows 0 .. n - 1 of seqs (rope_cos_sin at each row's position), once per step:
// every layer and head at that row rotates with it.
void fill_rope_table(const RopeSetup& rope, std::span<const SeqRows> seqs, Scratch& s);

// x [n, hidden_size] += Attention(RMSNorm(x)); x += FFN(RMSNorm(x)), for layer il of every
// sequence's cache. seqs cover rows 0 .. n - 1 in order.
void decoder_layer(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs, float* x,
                   int64_t n, Scratch& s, ThreadPool& pool);

// out [n, hidden_size] = attention of each row (sequence j, local token t) over its sequence's
// positions 0 .. pos0_j + t, after writing the rows' keys/values (MLA: latent + k_pe) into the
// sequence's cache layer il at pos0_j ... Work is spread over the pool as (sequence, head, token).
// MLA: consecutive absorbed sequences share their W_UK / W_UV products, so callers put them first.
void mla_attention(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs,
                   const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out);
void gqa_attention(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs,
                   const float* xn, int64_t n, Scratch& s, ThreadPool& pool, float* out);

// Fills s.item_end / s.item_seq with the attention work items (heads x tokens) of the sequences
// `pick` accepts, and returns their total; grows s.scores to [pool threads, largest n_ctx of them]
// (the capacity, not the current length, so that decoding on does not regrow it).
template <typename Pick>
int64_t plan_attention_items(std::span<const SeqRows> seqs, int64_t n_heads, Scratch& s, int n_threads, Pick&& pick) {
  s.item_end.clear();
  s.item_seq.clear();
  int64_t total = 0, max_kv = 1;
  for (size_t j = 0; j < seqs.size(); ++j) {
    if (!pick(seqs[j])) continue;
    total += n_heads * seqs[j].n;
    s.item_end.push_back(total);
    s.item_seq.push_back(static_cast<int32_t>(j));
    max_kv = std::max(max_kv, seqs[j].cache->n_ctx());
  }
  grow(s.scores, max_kv * n_threads);
  s.scores_stride = max_kv;
  return total;
}

// Calls fn(seq index j, head h, local token t) for the work items i0 .. i1 - 1 planned by
// plan_attention_items (item i of sequence j: h = i / n_j, t = i % n_j, counted from j's start).
template <typename Fn>
void for_attention_items(const Scratch& s, std::span<const SeqRows> seqs, int64_t n_heads, int64_t i0, int64_t i1,
                         Fn&& fn) {
  size_t k = static_cast<size_t>(std::upper_bound(s.item_end.begin(), s.item_end.end(), i0) - s.item_end.begin());
  for (int64_t i = i0; i < i1; ++i) {
    while (i >= s.item_end[k]) ++k;
    const SeqRows& q = seqs[static_cast<size_t>(s.item_seq[k])];
    const int64_t local = i - (s.item_end[k] - n_heads * q.n);
    fn(static_cast<size_t>(s.item_seq[k]), local / q.n, local % q.n);
  }
}

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
