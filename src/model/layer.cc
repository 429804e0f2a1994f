#include <algorithm>

#include "core/thread_scratch.h"
#include "kernels/ref/ops.h"
#include "kernels/rms_norm.h"
#include "kernels/swiglu.h"
#include "kernels/xw.h"
#include "model/forward.h"

namespace baleen {

namespace {

// One head's weight, dequantized once per call: [rows, cols] (MLA's per-head W_UK: kv_lora_rank x
// qk_nope_head_dim, 512 x 128 in DeepSeek-V2/V3).
std::vector<float>& head_weight_buf() {
  thread_local std::vector<float> v;
  return v;
}
const bool kHeadWeightReserved = register_thread_scratch([] { grow(head_weight_buf(), int64_t{1} << 17); });

}  // namespace

void rms_norm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out) {
  for (int64_t t = 0; t < n; ++t) rms_norm(x + t * dim, w, dim, eps, out + t * dim);
}

// Below these sizes the element-wise steps run on the calling thread (a pool round trip costs
// more than a decode step's few rows).
constexpr int64_t kPoolRows = 16, kPoolElems = 1 << 16;

void rms_norm_rows(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out, ThreadPool& pool) {
  if (n < kPoolRows) return rms_norm_rows(x, w, n, dim, eps, out);
  pool.parallel_for(
      n, 4, [&](int64_t t0, int64_t t1, int) { rms_norm_rows(x + t0 * dim, w, t1 - t0, dim, eps, out + t0 * dim); });
}

void add_into(float* x, const float* y, int64_t n, ThreadPool& pool) {
  const auto add = [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) x[i] += y[i];
  };
  if (n < kPoolElems) return add(0, n, 0);
  pool.parallel_for(n, kPoolElems / 4, add);
}

void swiglu_pooled(const float* gate, const float* up, int64_t n, float* out, ThreadPool& pool) {
  if (n < kPoolElems) return swiglu(gate, up, n, out);
  // (chunks of whole 64-byte lines, so no two threads write one line)
  pool.parallel_for((n + 15) / 16, kPoolElems / 64, [&](int64_t c0, int64_t c1, int) {
    const int64_t i0 = c0 * 16, i1 = std::min(n, c1 * 16);
    swiglu(gate + i0, up + i0, i1 - i0, out + i0);
  });
}

void matmul_xw_heads(const std::vector<WeightMatrix>& ws, const float* x, int64_t x_stride, int64_t x_head, int64_t m,
                     float* y, int64_t y_stride, int64_t y_head, ThreadPool& pool) {
  const auto n_heads = static_cast<int64_t>(ws.size());
  pool.parallel_for(n_heads, 1, [&](int64_t h0, int64_t h1, int) {
    std::vector<float>& wf = head_weight_buf();
    for (int64_t h = h0; h < h1; ++h) {
      const WeightMatrix& w = ws[h];
      grow(wf, w.rows * w.cols);
      for (int64_t r = 0; r < w.rows; ++r) weight_row_to_f32(w, r, wf.data() + r * w.cols);
      xw_f32(wf.data(), w.rows, w.cols, x + h * x_head, x_stride, m, y + h * y_head, y_stride);
    }
  });
}

void fill_rope_table(const RopeSetup& rope, std::span<const SeqRows> seqs, Scratch& s) {
  const int64_t d = rope.rope_dims;
  int64_t n = 0;
  for (const SeqRows& sq : seqs) n = std::max(n, sq.row0 + sq.n);
  float* cs = grow(s.rope_cs, n * d);
  for (const SeqRows& sq : seqs) {
    for (int64_t t = 0; t < sq.n; ++t) rope_cos_sin(d, sq.pos0 + t, rope.inv_freq.data(), cs + (sq.row0 + t) * d);
  }
}

void decoder_layer(const ModelImpl& model, const LayerWeights& L, int64_t il, std::span<const SeqRows> seqs, float* x,
                   int64_t n, Scratch& s, ThreadPool& pool) {
  const ModelConfig& cfg = model.config();
  const int64_t E = cfg.hidden_size;
  const auto eps = static_cast<float>(cfg.rms_norm_eps);
  float* xn = grow(s.xn, n * E);      // [n_tokens, hidden_size]
  float* br = grow(s.branch, n * E);  // [n_tokens, hidden_size]
  rms_norm_rows(x, L.attn_norm.data(), n, E, eps, xn, pool);
  if (cfg.arch == ModelArch::kDeepseek2) {
    mla_attention(model, L, il, seqs, xn, n, s, pool, br);
  } else {
    gqa_attention(model, L, il, seqs, xn, n, s, pool, br);
  }
  add_into(x, br, n * E, pool);
  rms_norm_rows(x, L.ffn_norm.data(), n, E, eps, xn, pool);
  if (L.is_moe) {
    moe_ffn(cfg, L.moe, xn, n, s, pool, br);
  } else {
    dense_ffn(L.ffn, xn, n, s, pool, br);
  }
  add_into(x, br, n * E, pool);
}

}  // namespace baleen
