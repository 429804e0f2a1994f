// DeepSeekMoE routing rules (deepseek-spec 4.2-4.4) on hand-made router logits whose correct expert
// choice follows from the rule alone, with weights from the softmax / sigmoid formulas. Each case
// is built so that a wrong rule (plain top-k, sum instead of max, bias in the weights, no
// renormalisation) picks different experts or weights.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/forward.h"

namespace baleen {
namespace {

struct Routed {
  std::vector<int32_t> experts;
  std::vector<float> weights;
};

Routed route(const ModelConfig& cfg, const std::vector<float>& logits, const std::vector<float>* bias) {
  const auto X = static_cast<size_t>(cfg.n_routed_experts);
  std::vector<float> scores(X), u(X), group_score(static_cast<size_t>(cfg.n_group));
  std::vector<uint8_t> picked(X);
  Routed r;
  r.experts.resize(static_cast<size_t>(cfg.num_experts_per_tok));
  r.weights.resize(static_cast<size_t>(cfg.num_experts_per_tok));
  route_token(cfg, logits.data(), bias ? bias->data() : nullptr, scores.data(), u.data(), group_score.data(),
              picked.data(), r.experts.data(), r.weights.data());
  return r;
}

ModelConfig moe_config(int64_t experts, int64_t k, int64_t groups, int64_t topk_group, bool sigmoid, bool norm,
                       double scale) {
  ModelConfig c;
  c.arch = ModelArch::kDeepseek2;
  c.n_routed_experts = experts;
  c.num_experts_per_tok = k;
  c.n_group = groups;
  c.topk_group = topk_group;
  c.scoring_sigmoid = sigmoid;
  c.norm_topk_prob = norm;
  c.routed_scaling_factor = scale;
  return c;
}

double softmax_of(const std::vector<float>& logits, size_t i) {
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  return std::exp(static_cast<double>(logits[i])) / z;
}

// V2 `greedy`: plain top-k of the softmax, weights unnormalised, times the scaling factor.
TEST(Routing, SoftmaxGreedy) {
  ModelConfig c = moe_config(6, 2, 1, 1, false, false, 1.0);
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 1.9f, 0.0f};
  Routed r = route(c, logits, nullptr);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 4}));
  EXPECT_NEAR(r.weights[0], softmax_of(logits, 1), 1e-6);
  EXPECT_NEAR(r.weights[1], softmax_of(logits, 4), 1e-6);
}

// V2 `group_limited_greedy`: group score = the group's max; only the best topk_group groups stay.
// Group 0 = {e0, e1} has the single best expert, so it wins with topk_group 1 and both its experts
// are chosen, although e2/e3 of group 1 score far higher than e1 (plain top-2 = {e0, e2}; a
// sum-of-top-2 group score would pick group 1 = {e2, e3}).
TEST(Routing, SoftmaxGroupLimitedGreedyUsesGroupMax) {
  ModelConfig c = moe_config(8, 2, 4, 1, false, false, 16.0);
  std::vector<float> logits = {3.0f, -5.0f, 2.99f, 2.98f, -4.0f, -4.0f, -4.0f, -4.0f};
  Routed r = route(c, logits, nullptr);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(r.weights[0], 16.0 * softmax_of(logits, 0), 1e-5);
  EXPECT_NEAR(r.weights[1], 16.0 * softmax_of(logits, 1), 1e-5);
}

// V3 `noaux_tc`: sigmoid scores; e_score_correction_bias is added for selection only; group score =
// sum of the group's two best biased scores; weights are the unbiased sigmoids, renormalised, times
// routed_scaling_factor.
TEST(Routing, SigmoidNoauxTcBiasSelectsOnly) {
  ModelConfig c = moe_config(8, 2, 4, 2, true, true, 2.5);
  std::vector<float> logits = {1.0f, 1.0f, 0.0f, 0.0f, 0.5f, -3.0f, -2.0f, -2.0f};
  // Without bias, groups by top-2 sum: g0 = 2*s(1) = 1.46, g1 = 1.0, g2 = s(.5)+s(-3) = 0.67, g3 = 0.24,
  // so g0 and g1 would win with experts e0, e1. The bias lifts g3 to 2*(s(-2)+1) = 2.24 and g1 to
  // 0.5+1.1 = 1.6: g3 and g1 win, g0 (the best unbiased experts) is masked, and the best two biased
  // experts left are e6 and e7 (1.12 each, above e3's 1.1) — the bias decides the selection.
  std::vector<float> bias = {0.0f, 0.0f, 0.0f, 0.6f, 0.0f, 0.0f, 1.0f, 1.0f};
  Routed r = route(c, logits, &bias);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{6, 7}));
  const double s = 1.0 / (1.0 + std::exp(2.0));  // sigmoid(-2), unbiased
  EXPECT_NEAR(r.weights[0], 2.5 * s / (2 * s), 1e-6);
  EXPECT_NEAR(r.weights[1], 2.5 * s / (2 * s), 1e-6);
}

// Masked groups are excluded even when an expert inside them has the best biased score, and ties
// go to the lower index.
TEST(Routing, MaskedGroupsAndTies) {
  ModelConfig c = moe_config(4, 1, 2, 1, true, false, 1.0);
  // g0 = {e0, e1} sum = 2*s(0) = 1.0; g1 = {e2, e3} = s(3) + s(-10) = 0.95: g0 wins although e2 is the
  // single best expert; inside g0, e0 and e1 tie and e0 (lower index) is chosen.
  std::vector<float> logits = {0.0f, 0.0f, 3.0f, -10.0f};
  Routed r = route(c, logits, nullptr);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{0}));
  EXPECT_NEAR(r.weights[0], 0.5, 1e-6);
}

}  // namespace
}  // namespace baleen
