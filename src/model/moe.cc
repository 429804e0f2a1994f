// DeepSeekMoE (deepseek-spec 4): router scores (softmax for V2, sigmoid for V3), optional group
// limiting (group score: max for softmax, sum of the top two biased scores for sigmoid /
// noaux_tc; other groups masked with -inf), top-k (ties to the lower index), weights from the
// unbiased scores (renormalised when norm_topk_prob) times routed_scaling_factor; shared experts
// added unweighted. Tokens are bucketed per expert so each expert runs one batched product.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/matmul.h"
#include "kernels/ref/ops.h"
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

  // Shared experts first (dense_ffn uses the gate/up buffers the routed experts reuse below).
  if (!w.shared.empty()) {
    dense_ffn(w.shared, xn, n, s, pool, out);
  } else {
    std::fill_n(out, n * E, 0.0f);
  }

  float* logits = grow(s.router_logits, n * X);  // [n_tokens, n_routed_experts]
  matmul(w.router, xn, n, logits, pool);
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

  // Bucket (token, weight) pairs by expert.
  int32_t* count = grow(s.expert_count, X);
  int32_t* offset = grow(s.expert_offset, X + 1);
  int32_t* tok = grow(s.expert_tokens, n * K);
  float* tokw = grow(s.expert_token_weight, n * K);
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
    }
  }

  float* xin = grow(s.gathered, n * E);  // [tokens of one expert, hidden_size]
  float* gate = grow(s.gate, n * ff);    // [tokens of one expert, moe_intermediate_size]
  float* up = grow(s.up, n * ff);
  float* eo = grow(s.expert_out, n * E);  // [tokens of one expert, hidden_size]
  for (int64_t e = 0; e < X; ++e) {
    const int64_t m = offset[e + 1] - offset[e];
    if (m == 0) continue;
    const int32_t* et = tok + offset[e];
    for (int64_t j = 0; j < m; ++j) std::copy_n(xn + et[j] * E, E, xin + j * E);
    const FfnWeights& f = w.experts[e];
    matmul(f.gate, xin, m, gate, pool);
    matmul(f.up, xin, m, up, pool);
    swiglu_ref(gate, up, m * ff, gate);
    matmul(f.down, gate, m, eo, pool);
    for (int64_t j = 0; j < m; ++j) {
      const float wgt = tokw[offset[e] + j];
      float* o = out + et[j] * E;
      const float* src = eo + j * E;
      for (int64_t d = 0; d < E; ++d) o[d] += wgt * src[d];
    }
  }
}

}  // namespace baleen
