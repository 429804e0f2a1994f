// swiglu (kernels/swiglu.h) at every dispatch level against silu computed in double precision
// (an independent formula, not the code under test): every finite result within 4 float ulp of
// the double value (relative 4 * 2^-23, or 1e-30 absolute where float exp underflows), saturation at large |x|,
// NaN propagated, every tail length, out aliasing gate.
#include "kernels/swiglu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ops.h"

namespace baleen {
namespace {

class SwigluTest : public ::testing::Test {
 protected:
  void TearDown() override { set_dispatch_level(DispatchLevel::kAvx512); }
};

double silu_exact(double g) { return g / (1.0 + std::exp(-g)); }

void expect_close(float got, double want, float g, float u) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << "g " << g << " u " << u;
    return;
  }
  if (std::fabs(want) > std::numeric_limits<float>::max()) {  // overflows float: inf of the same sign
    EXPECT_EQ(got, static_cast<float>(want)) << "g " << g << " u " << u;
    return;
  }
  // Below 1e-30 the float exp underflows (|x| > ~87): any tiny value or zero is right.
  const double tol = std::max(4.0 * std::ldexp(1.0, -23) * std::fabs(want), 1e-30);
  EXPECT_LE(std::fabs(static_cast<double>(got) - want), tol) << "g " << g << " u " << u << " got " << got;
}

std::vector<float> inputs() {
  std::vector<float> g;
  for (float v = -120.0f; v <= 120.0f; v += 0.37f) g.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, 87.0f, 89.0f, -87.0f, -89.0f, -103.0f, -104.0f, 1e30f, -1e30f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::lowest()}) {
    g.push_back(v);
  }
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uni(-12.0f, 12.0f);
  for (int i = 0; i < 4000; ++i) g.push_back(uni(rng));
  return g;
}

TEST_F(SwigluTest, WithinFourUlpOfDoubleAtEveryLevel) {
  const std::vector<float> g = inputs();
  std::vector<float> u(g.size());
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
  for (float& v : u) v = uni(rng);
  for (DispatchLevel level : kernel_test::supported_levels()) {
    ASSERT_EQ(set_dispatch_level(level), level);
    SCOPED_TRACE(dispatch_level_name(level));
    std::vector<float> out(g.size());
    swiglu(g.data(), u.data(), static_cast<int64_t>(g.size()), out.data());
    for (size_t i = 0; i < g.size(); ++i) {
      // silu(-inf) is -0 * ... : the limit is 0; the double formula gives NaN (-inf / inf).
      const double s = std::isinf(g[i]) && g[i] < 0 ? 0.0 : silu_exact(g[i]);
      expect_close(out[i], s * static_cast<double>(u[i]), g[i], u[i]);
    }
  }
}

TEST_F(SwigluTest, NanPropagatesAndTailsAndAliasing) {
  for (DispatchLevel level : kernel_test::supported_levels()) {
    ASSERT_EQ(set_dispatch_level(level), level);
    SCOPED_TRACE(dispatch_level_name(level));
    for (int64_t n = 1; n <= 33; ++n) {
      std::vector<float> g(static_cast<size_t>(n) + 1, 7.0f), u(g.size(), 2.0f);
      for (int64_t i = 0; i < n; ++i) g[i] = 0.25f * static_cast<float>(i) - 4.0f;
      g[static_cast<size_t>(n - 1)] = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> want(g.begin(), g.end());
      swiglu(g.data(), u.data(), n, g.data());  // in place
      for (int64_t i = 0; i + 1 < n; ++i) expect_close(g[i], silu_exact(want[i]) * 2.0, want[i], 2.0f);
      EXPECT_TRUE(std::isnan(g[static_cast<size_t>(n - 1)]));
      EXPECT_EQ(g[static_cast<size_t>(n)], 7.0f) << "wrote past n = " << n;
    }
  }
}

}  // namespace
}  // namespace baleen
