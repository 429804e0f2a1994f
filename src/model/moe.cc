// DeepSeekMoE (deepseek-spec 4): router scores (softmax for V2, sigmoid for V3), optional group
// limiting (group score: max for softmax, sum of the top two biased scores for sigmoid /
// noaux_tc; other groups masked with -inf), top-k (ties to the lower index), weights from the
// unbiased scores (renormalised when norm_topk_prob) times routed_scaling_factor; shared experts
// added unweighted. Tokens are bucketed per expert so each expert runs one batched product.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/matmul_many.h"
#include "kernels/ref/ops.h"
#include "kernels/swiglu.h"
#include "model/forward.h"

namespace baleen {

void route_token(const ModelConfig& cfg, const float* logits, const float* score_bias, float* scores, float* u,
                 float* group_score, uint8_t* picked, int32_t* experts, float* weights) {
  const int64_t X = cfg.n_routed_experts, K = cfg.num_experts_per_tok;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  std::copy_n(logits, X, scores);
  if (cfg.scoring_sigmoid) {
    for (int64_t e = 0; e < X; ++e) scores[e] = 1.0f / (1.0f + std::exp(-scores[e]));
  } else {
    softmax_ref(scores, X);
  }
  for (int64_t e = 0; e < X; ++e) u[e] = scores[e] + (score_bias != nullptr ? score_bias[e] : 0.0f);

  if (cfg.n_group > 1) {
    const int64_t G = cfg.n_group, gs = X / G;
    for (int64_t g = 0; g < G; ++g) {
      const float* ug = u + g * gs;
      if (cfg.scoring_sigmoid) {  // sum of the two largest
        float a = kNegInf, b = kNegInf;
        for (int64_t i = 0; i < gs; ++i) {
          if (ug[i] > a) {
            b = a;
            a = ug[i];
          } else if (ug[i] > b) {
            b = ug[i];
          }
        }
        group_score[g] = gs >= 2 ? a + b : a;
      } else {
        float a = kNegInf;
        for (int64_t i = 0; i < gs; ++i) a = std::max(a, ug[i]);
        group_score[g] = a;
      }
    }
    std::fill_n(picked, G, uint8_t{0});
    for (int64_t k = 0; k < cfg.topk_group; ++k) {
      int64_t best = -1;
      for (int64_t g = 0; g < G; ++g) {
        if (!picked[g] && (best < 0 || group_score[g] > group_score[best])) best = g;
      }
      picked[best] = 1;
    }
    for (int64_t g = 0; g < G; ++g) {
      if (!picked[g]) std::fill_n(u + g * gs, gs, kNegInf);
    }
  }

  std::fill_n(picked, X, uint8_t{0});
  double sum = 0.0;
  for (int64_t k = 0; k < K; ++k) {
    int64_t best = -1;
    for (int64_t e = 0; e < X; ++e) {
      if (!picked[e] && (best < 0 || u[e] > u[best])) best = e;
    }
    picked[best] = 1;
    experts[k] = static_cast<int32_t>(best);
    weights[k] = scores[best];
    sum += scores[best];
  }
  const double norm = cfg.norm_topk_prob ? 1.0 / (sum + 1e-20) : 1.0;
  for (int64_t k = 0; k < K; ++k) weights[k] = static_cast<float>(weights[k] * norm * cfg.routed_scaling_factor);
}

void moe_ffn(const ModelConfig& cfg, const MoeWeights& w, const float* xn, int64_t n, Scratch& s, ThreadPool& pool,
             float* out) {
  const int64_t E = cfg.hidden_size, X = cfg.n_routed_experts, K = cfg.num_experts_per_tok;
  const int64_t ff = cfg.moe_intermediate_size;
  const bool shared = !w.shared.empty();
  const int64_t ffs = shared ? w.shared.gate.rows : 0;
  std::vector<MatmulJob>& jobs = s.jobs;

  // Three pooled passes (kernels/matmul_many.h): the router; shared and routed gate/up; shared and
  // routed down. Each product is the one matmul would compute, so the sums below are the same. The
  // shared expert shares its passes with the routed ones, which matters in batched decode: there
  // its products (all of the step's tokens) are compute-bound while the routed experts' (a token or
  // two each) are bound by memory, and in one pass one thread can stream routed weights while the
  // other multiplies shared ones. Batch 8 on V2-Lite's Q4_K_M shape: +2-6% tokens/s in 5 of 6
  // interleaved rounds (bench/ab.mjs), single-sequence decode and prefill unchanged.
  float* logits = grow(s.router_logits, n * X);  // [n_tokens, n_routed_experts]
  float* sgate = grow(s.shared_gate, n * ffs);   // [n_tokens, shared intermediate]
  float* sup = grow(s.shared_up, n * ffs);
  jobs.clear();
  jobs.push_back(MatmulJob{&w.router, xn, n, logits});
  matmul_many(jobs, pool);

  int32_t* sel = grow(s.sel_expert, n * K);  // [n_tokens, num_experts_per_tok]
  float* selw = grow(s.sel_weight, n * K);
  float* scores = grow(s.route_scores, X);
  float* u = grow(s.route_u, X);
  float* gsc = grow(s.group_score, std::max<int64_t>(cfg.n_group, 1));
  uint8_t* picked = grow(s.picked, std::max<int64_t>(X, cfg.n_group));
  const float* bias = w.score_bias.empty() ? nullptr : w.score_bias.data();
  for (int64_t t = 0; t < n; ++t) {
    route_token(cfg, logits + t * X, bias, scores, u, gsc, picked, sel + t * K, selw + t * K);
  }

  // Bucket (token, weight) pairs by expert: slots offset[e] .. offset[e + 1] - 1 are expert e's.
  int32_t* count = grow(s.expert_count, X);
  int32_t* offset = grow(s.expert_offset, X + 1);
  int32_t* tok = grow(s.expert_tokens, n * K);
  float* tokw = grow(s.expert_token_weight, n * K);
  int32_t* slot_of = grow(s.token_slot, n * K);  // [n_tokens, num_experts_per_tok]: slot of each choice
  std::fill_n(count, X, 0);
  for (int64_t i = 0; i < n * K; ++i) ++count[sel[i]];
  offset[0] = 0;
  for (int64_t e = 0; e < X; ++e) offset[e + 1] = offset[e] + count[e];
  std::fill_n(count, X, 0);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t k = 0; k < K; ++k) {
      const int32_t e = sel[t * K + k];
      const int32_t slot = offset[e] + count[e]++;
      tok[slot] = static_cast<int32_t>(t);
      tokw[slot] = selw[t * K + k];
      slot_of[t * K + k] = slot;
    }
    std::sort(slot_of + t * K, slot_of + (t + 1) * K);  // expert order
  }

  // Per slot: gate/up [n_tokens * K, moe_intermediate_size], output [n_tokens * K, hidden_size].
  // Each expert's input is its tokens' rows of xn, gathered by index inside matmul_many (which
  // quantizes xn's rows once for all experts instead of copying them out per slot).
  float* gate = grow(s.gate, n * K * ff);
  float* up = grow(s.up, n * K * ff);
  float* eo = grow(s.expert_out, n * K * E);
  jobs.clear();
  if (shared) {
    jobs.push_back(MatmulJob{&w.shared.gate, xn, n, sgate});
    jobs.push_back(MatmulJob{&w.shared.up, xn, n, sup});
  }
  const auto bytes = [](const WeightMatrix& m) { return static_cast<uint64_t>(m.rows) * m.row_stride; };
  for (int64_t e = 0; e < X; ++e) {
    const int64_t m = offset[e + 1] - offset[e];
    if (m == 0) continue;
    const int32_t* et = tok + offset[e];
    const FfnWeights& f = w.experts[e];
    s.routed_expert_bytes += bytes(f.gate) + bytes(f.up) + bytes(f.down);
    jobs.push_back(MatmulJob{&f.gate, xn, m, gate + offset[e] * ff, 0, 0, et, n});
    jobs.push_back(MatmulJob{&f.up, xn, m, up + offset[e] * ff, 0, 0, et, n});
  }
  matmul_many(jobs, pool);
  if (shared) swiglu_pooled(sgate, sup, n * ffs, sgate, pool);
  swiglu_pooled(gate, up, n * K * ff, gate, pool);

  jobs.clear();
  if (shared) jobs.push_back(MatmulJob{&w.shared.down, sgate, n, out});
  for (int64_t e = 0; e < X; ++e) {
    const int64_t m = offset[e + 1] - offset[e];
    if (m > 0) jobs.push_back(MatmulJob{&w.experts[e].down, gate + offset[e] * ff, m, eo + offset[e] * E});
  }
  matmul_many(jobs, pool);
  if (!shared) std::fill_n(out, n * E, 0.0f);

  // out[t] = shared(t) + sum over t's experts, in expert order, of weight * expert(t) (slots are
  // numbered in expert order, so in increasing slot order).
  const auto combine = [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t* slots = slot_of + t * K;
      float* o = out + t * E;
      for (int64_t k = 0; k < K; ++k) {
        const float wgt = tokw[slots[k]];
        const float* src = eo + static_cast<int64_t>(slots[k]) * E;
        for (int64_t d = 0; d < E; ++d) o[d] += wgt * src[d];
      }
    }
  };
  if (n >= 16) {
    pool.parallel_for(n, 4, combine);
  } else {
    combine(0, n, 0);
  }
}

}  // namespace baleen
