// Sampler tests. Expected candidate sets and probabilities are computed here from the definitions
// (softmax of logits / T; top-k = the k most probable; top-p = the shortest most-probable prefix
// with mass >= p; min-p = p >= min_p * p_max) on hand-made distributions, not taken from the code
// under test.
#include "engine/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace baleen {
namespace {

// Probabilities chosen so that no cumulative sum lands on a threshold used below.
// sorted: 0.30 (1), 0.25 (3), 0.20 (4), 0.10 (2), 0.10 (5), 0.05 (0)
const std::vector<double> kProbs = {0.05, 0.30, 0.10, 0.25, 0.20, 0.10};

std::vector<float> logits_of(const std::vector<double>& p, double shift = 1.5) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x) + shift));
  return l;
}

// softmax(logits / T) in double.
std::vector<double> softmax(const std::vector<float>& logits, double t) {
  double m = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p;
  double sum = 0;
  for (float l : logits) {
    p.push_back(std::exp((l - m) / t));
    sum += p.back();
  }
  for (double& x : p) x /= sum;
  return p;
}

// Expected distribution over `keep` (ids), renormalised.
std::map<TokenId, double> restrict(const std::vector<double>& p, const std::vector<TokenId>& keep) {
  double sum = 0;
  for (TokenId id : keep) sum += p[id];
  std::map<TokenId, double> out;
  for (TokenId id : keep) out[id] = p[id] / sum;
  return out;
}

std::vector<TokenId> ids_of(std::span<const TokenProb> d) {
  std::vector<TokenId> ids;
  for (const auto& c : d) ids.push_back(c.id);
  return ids;
}

void expect_distribution(std::span<const TokenProb> got, const std::map<TokenId, double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& c : got) {
    auto it = want.find(c.id);
    ASSERT_NE(it, want.end()) << "unexpected token " << c.id;
    EXPECT_NEAR(c.p, it->second, 1e-6) << "token " << c.id;
  }
}

TEST(Sampler, GreedyTakesArgmaxTiesToLowestId) {
  SamplerParams sp;
  sp.temperature = 0.0f;
  sp.top_k = 2;  // ignored by greedy
  Sampler s(sp);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
  EXPECT_EQ(s.sample(l), 1);
  std::vector<float> all_equal(7, 0.5f);
  EXPECT_EQ(s.sample(all_equal), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> with_nan = {nan, 1.0f, 3.0f, nan, 3.0f};
  EXPECT_EQ(s.sample(with_nan), 2);
  std::vector<float> neg_inf(4, -std::numeric_limits<float>::infinity());
  neg_inf[3] = -1e30f;
  EXPECT_EQ(s.sample(neg_inf), 3);
  auto d = s.distribution(l);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, 1);
  EXPECT_EQ(d[0].p, 1.0f);
  EXPECT_EQ(argmax(l), 1);
}

TEST(Sampler, AllMinusInfinityFallsBackToGreedy) {
  SamplerParams sp;
  sp.temperature = 0.8f;
  Sampler s(sp);
  std::vector<float> l(5, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(s.sample(l), 0);
}

TEST(Sampler, NoFilterIsSoftmaxOverTemperature) {
  std::vector<float> l = logits_of(kProbs);
  for (double t : {0.5, 1.0, 1.7}) {
    SamplerParams sp;
    sp.temperature = static_cast<float>(t);
    Sampler s(sp);
    std::vector<double> p = softmax(l, t);
    expect_distribution(s.distribution(l), restrict(p, {0, 1, 2, 3, 4, 5}));
  }
}

TEST(Sampler, TopKKeepsTheKMostProbable) {
  std::vector<float> l = logits_of(kProbs);
  std::vector<double> p = softmax(l, 1.0);
  SamplerParams sp;
  sp.top_k = 3;
  Sampler s(sp);
  auto d = s.distribution(l);
  EXPECT_EQ(ids_of(d), (std::vector<TokenId>{1, 3, 4}));  // most probable first
  expect_distribution(d, restrict(p, {1, 3, 4}));
  // 0.30/0.75, 0.25/0.75, 0.20/0.75 written out once.
  EXPECT_NEAR(d[0].p, 0.4, 1e-6);
  EXPECT_NEAR(d[1].p, 0.25 / 0.75, 1e-6);
  EXPECT_NEAR(d[2].p, 0.20 / 0.75, 1e-6);
  // k >= vocabulary: everything.
  sp.top_k = 6;
  Sampler all(sp);
  EXPECT_EQ(all.distribution(l).size(), 6u);
}

TEST(Sampler, TopKTiesAtTheBoundaryGoToLowerIds) {
  std::vector<float> l = {1.0f, 0.5f, 0.5f, 1.0f, 0.5f};
  SamplerParams sp;
  sp.top_k = 2;
  EXPECT_EQ(ids_of(Sampler(sp).distribution(l)), (std::vector<TokenId>{0, 3}));
  sp.top_k = 3;
  EXPECT_EQ(ids_of(Sampler(sp).distribution(l)), (std::vector<TokenId>{0, 3, 1}));
  sp.top_k = 4;
  EXPECT_EQ(ids_of(Sampler(sp).distribution(l)), (std::vector<TokenId>{0, 3, 1, 2}));
}

TEST(Sampler, TopPKeepsTheShortestPrefixReachingP) {
  std::vector<float> l = logits_of(kProbs);
  std::vector<double> p = softmax(l, 1.0);
  // cumulative in order 1,3,4,2,5,0: 0.30 0.55 0.75 0.85 0.95 1.00
  struct Case {
    float top_p;
    std::vector<TokenId> keep;
  };
  for (const Case& c : std::vector<Case>{{0.2f, {1}},
                                         {0.5f, {1, 3}},
                                         {0.7f, {1, 3, 4}},
                                         {0.8f, {1, 3, 4, 2}},
                                         {0.9f, {1, 3, 4, 2, 5}},
                                         {0.97f, {1, 3, 4, 2, 5, 0}},
                                         {1.0f, {1, 3, 4, 2, 5, 0}}}) {
    SamplerParams sp;
    sp.top_p = c.top_p;
    Sampler s(sp);
    auto d = s.distribution(l);
    EXPECT_EQ(ids_of(d), c.keep) << "top_p " << c.top_p;
    expect_distribution(d, restrict(p, c.keep));
  }
}

TEST(Sampler, TopPAppliesAfterTemperatureAndTopK) {
  std::vector<float> l = logits_of(kProbs);
  // After top-k 3 the renormalised masses are 0.4, 0.333, 0.267: top-p 0.7 keeps two tokens
  // (0.733), where on the full distribution it keeps three (0.30, 0.55, 0.75).
  SamplerParams sp;
  sp.top_k = 3;
  sp.top_p = 0.7f;
  EXPECT_EQ(ids_of(Sampler(sp).distribution(l)), (std::vector<TokenId>{1, 3}));
  // T = 0.5 squares the probabilities: 0.0025 0.09 0.01 0.0625 0.04 0.01 (sum 0.215), so tokens 1
  // and 3 hold 0.419 + 0.291 = 0.709 >= 0.7.
  SamplerParams t;
  t.temperature = 0.5f;
  t.top_p = 0.7f;
  Sampler s(t);
  auto d = s.distribution(l);
  EXPECT_EQ(ids_of(d), (std::vector<TokenId>{1, 3}));
  expect_distribution(d, restrict(softmax(l, 0.5), {1, 3}));
}

TEST(Sampler, MinPKeepsTokensAboveAFractionOfTheMax) {
  std::vector<float> l = logits_of(kProbs);
  std::vector<double> p = softmax(l, 1.0);
  SamplerParams sp;
  sp.min_p = 0.5f;  // p >= 0.15
  Sampler s(sp);
  auto d = s.distribution(l);
  EXPECT_EQ(ids_of(d), (std::vector<TokenId>{1, 3, 4}));
  expect_distribution(d, restrict(p, {1, 3, 4}));
  sp.min_p = 0.3f;  // p >= 0.09: 0.10 tokens stay, 0.05 goes
  EXPECT_EQ(ids_of(Sampler(sp).distribution(l)), (std::vector<TokenId>{1, 3, 4, 2, 5}));
}

TEST(Sampler, TopPOnALargeVocabularyMatchesAFullSort) {
  // 50 000 logits, normal with sd 3: the nucleus holds hundreds to thousands of tokens, so the partial sort has
  // to grow several times.
  std::mt19937_64 gen(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> l(50000);
  for (float& x : l) x = nd(gen);
  for (float top_p : {0.5f, 0.9f, 0.99f}) {
    std::vector<double> p = softmax(l, 1.0);
    std::vector<TokenId> order(l.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    std::vector<TokenId> keep;
    double cum = 0;
    for (TokenId id : order) {
      keep.push_back(id);
      cum += p[id];
      if (cum >= top_p) break;
    }
    SamplerParams sp;
    sp.top_p = top_p;
    Sampler s(sp);
    auto d = s.distribution(l);
    // Float and double arithmetic may order near-equal probabilities differently and disagree on a
    // token whose inclusion is decided within rounding; everything clearly inside must be kept and
    // nothing clearly outside.
    EXPECT_LE(std::abs(static_cast<long>(d.size()) - static_cast<long>(keep.size())), 1) << top_p;
    const double p_cut = p[keep.back()];
    std::vector<bool> kept(l.size(), false);
    for (size_t i = 0; i < d.size(); ++i) {
      kept[d[i].id] = true;
      EXPECT_GE(p[d[i].id], p_cut * (1 - 1e-5)) << "token " << d[i].id << " is outside the nucleus";
      if (i > 0) {
        EXPECT_GE(d[i - 1].p, d[i].p);
      }
    }
    for (TokenId id : keep) {
      if (p[id] > p_cut * (1 + 1e-5)) {
        EXPECT_TRUE(kept[id]) << "token " << id << " missing from the nucleus";
      }
    }
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplerParams sp;
  sp.repetition_penalty = 2.0f;
  sp.repetition_window = 3;
  Sampler s(sp);
  std::vector<float> l = {2.0f, 1.0f, -1.0f, 0.0f};
  s.accept(0);
  s.accept(2);
  s.accept(0);  // counted once
  // -> {1.0, 1.0, -2.0, 0.0}
  expect_distribution(s.distribution(l), restrict(softmax({1.0f, 1.0f, -2.0f, 0.0f}, 1.0), {0, 1, 2, 3}));
  // The window holds the last 3 tokens: after 3 more accepts token 0 is no longer penalised.
  s.accept(3);
  s.accept(3);
  s.accept(2);
  expect_distribution(s.distribution(l), restrict(softmax({2.0f, 1.0f, -2.0f, 0.0f}, 1.0), {0, 1, 2, 3}));
  s.reset_history();
  expect_distribution(s.distribution(l), restrict(softmax(l, 1.0), {0, 1, 2, 3}));
  // Greedy sees the penalised logits too.
  SamplerParams g = sp;
  g.temperature = 0.0f;
  Sampler gs(g);
  gs.accept(0);
  std::vector<float> l2 = {2.0f, 1.5f};
  EXPECT_EQ(gs.sample(l2), 1);
}

// Empirical frequencies of `draws` samples against the expected distribution.
double max_frequency_error(Sampler& s, const std::vector<float>& l, const std::map<TokenId, double>& want, int draws) {
  std::vector<int> count(l.size(), 0);
  for (int i = 0; i < draws; ++i) ++count[s.sample(l)];
  double worst = 0;
  for (size_t id = 0; id < l.size(); ++id) {
    auto it = want.find(static_cast<TokenId>(id));
    double expected = it == want.end() ? 0.0 : it->second;
    if (it == want.end()) {
      EXPECT_EQ(count[id], 0) << "token " << id << " is outside the kept set";
    }
    worst = std::max(worst, std::abs(count[id] / static_cast<double>(draws) - expected));
  }
  return worst;
}

TEST(Sampler, FrequenciesMatchTheRenormalisedSoftmax) {
  // 100 000 draws: the standard error of a frequency is at most 0.0016, so 0.01 is > 6 sigma.
  constexpr int kDraws = 100000;
  std::vector<float> l = logits_of(kProbs);
  {
    SamplerParams sp;
    sp.temperature = 0.7f;
    sp.top_k = 4;  // tokens 1, 3, 4 and 2 (2 and 5 tie; the lower id stays)
    sp.seed = 1234;
    Sampler s(sp);
    EXPECT_LE(max_frequency_error(s, l, restrict(softmax(l, 0.7), {1, 3, 4, 2}), kDraws), 0.01);
  }
  {
    SamplerParams sp;
    sp.temperature = 1.3f;
    sp.seed = 99;
    Sampler s(sp);
    EXPECT_LE(max_frequency_error(s, l, restrict(softmax(l, 1.3), {0, 1, 2, 3, 4, 5}), kDraws), 0.01);
  }
  {
    SamplerParams sp;
    sp.top_p = 0.8f;  // 1, 3, 4, 2
    sp.seed = 5;
    Sampler s(sp);
    EXPECT_LE(max_frequency_error(s, l, restrict(softmax(l, 1.0), {1, 3, 4, 2}), kDraws), 0.01);
  }
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> l = logits_of(kProbs);
  SamplerParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 5;
  sp.seed = 42;
  Sampler a(sp), b(sp);
  std::vector<TokenId> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l));
    sb.push_back(b.sample(l));
  }
  EXPECT_EQ(sa, sb);
  sp.seed = 43;
  Sampler c(sp);
  std::vector<TokenId> sc;
  for (int i = 0; i < 200; ++i) sc.push_back(c.sample(l));
  EXPECT_NE(sa, sc);
}

TEST(Sampler, ValidateRejectsOutOfRangeParameters) {
  EXPECT_TRUE(validate_sampler_params(SamplerParams{}).ok());
  auto bad = [](auto set) {
    SamplerParams p;
    set(p);
    return !validate_sampler_params(p).ok();
  };
  EXPECT_TRUE(bad([](SamplerParams& p) { p.temperature = -0.1f; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.temperature = std::numeric_limits<float>::infinity(); }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.top_k = -1; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.top_p = 0.0f; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.top_p = 1.5f; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.min_p = -0.5f; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.repetition_penalty = 0.0f; }));
  EXPECT_TRUE(bad([](SamplerParams& p) { p.repetition_window = -2; }));
  SamplerParams p;
  p.top_p = std::numeric_limits<float>::quiet_NaN();
  Status st = validate_sampler_params(p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("top-p"), std::string::npos);
}

}  // namespace
}  // namespace baleen
