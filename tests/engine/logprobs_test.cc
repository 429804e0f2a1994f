// LogprobCalculator on hand-made logits: expected values from the definition
// log p_i = l_i - log(sum_j exp(l_j)), computed here in double.
#include "engine/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace baleen {
namespace {

double log_softmax(const std::vector<float>& l, size_t i) {
  double z = 0.0;
  for (float v : l) {
    if (!std::isnan(v)) z += std::exp(static_cast<double>(v));
  }
  return l[i] - std::log(z);
}

TEST(Logprobs, ChosenAndTopFollowTheDefinition) {
  const std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, -3.0f};
  LogprobCalculator calc;
  TokenEvent e;
  e.id = 4;
  calc.fill(l, 3, &e);
  EXPECT_NEAR(e.logprob, log_softmax(l, 4), 1e-6);
  ASSERT_EQ(e.top.size(), 3u);
  // Ties (ids 1 and 3) by lower id first.
  EXPECT_EQ(e.top[0].id, 1);
  EXPECT_EQ(e.top[1].id, 3);
  EXPECT_EQ(e.top[2].id, 4);
  for (const TopLogprob& t : e.top) EXPECT_NEAR(t.logprob, log_softmax(l, static_cast<size_t>(t.id)), 1e-6);

  // Asking for more than the vocabulary gives all of it; 0 gives none.
  calc.fill(l, 20, &e);
  EXPECT_EQ(e.top.size(), l.size());
  EXPECT_EQ(e.top.back().id, 5);
  calc.fill(l, 0, &e);
  EXPECT_TRUE(e.top.empty());
}

TEST(Logprobs, LargeLogitsDoNotOverflowAndNanIsImpossible) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> l = {1000.0f, 999.0f, nan, -std::numeric_limits<float>::infinity()};
  LogprobCalculator calc;
  TokenEvent e;
  e.id = 0;
  calc.fill(l, 4, &e);
  // log(1 / (1 + e^-1)) and log(e^-1 / (1 + e^-1)).
  EXPECT_NEAR(e.logprob, -std::log1p(std::exp(-1.0)), 1e-5);
  ASSERT_EQ(e.top.size(), 4u);
  EXPECT_EQ(e.top[1].id, 1);
  EXPECT_NEAR(e.top[1].logprob, -1.0 - std::log1p(std::exp(-1.0)), 1e-5);
  EXPECT_EQ(e.top[2].logprob, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(e.top[3].logprob, -std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace baleen
