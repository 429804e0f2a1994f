// rms_norm (kernels/rms_norm.h) at every dispatch level against the formula evaluated in long
// double (an independent computation, not the code under test): NMSE <= 1e-13 over ordinary, large,
// tiny and eps-dominated rows and every tail length; against rms_norm_ref every element within 2
// float ulp (the two differ only in the order of the double sum of squares, so inv by at most 1 ulp,
// and each output is two float multiplies of it); out aliasing x gives the same bits.
#include "kernels/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ops.h"

namespace baleen {
namespace {

using ld = long double;

class RmsNormTest : public ::testing::Test {
 protected:
  void TearDown() override { set_dispatch_level(DispatchLevel::kAvx512); }
};

double nmse_ld(const std::vector<float>& got, const std::vector<ld>& want) {
  ld num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? static_cast<double>(num / den) : static_cast<double>(num);
}

int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return std::llabs(static_cast<int64_t>(ia) - ib);
}

TEST_F(RmsNormTest, MatchesLongDoubleFormulaAndReferenceAtEveryLevel) {
  struct Case {
    int64_t n;
    float scale, eps;
  };
  std::vector<Case> cases = {
      {2048, 1.0f, 1e-6f}, {7168, 30.0f, 1e-6f}, {512, 1e3f, 1e-5f}, {64, 1e-4f, 1e-6f}, {1536, 0.05f, 1e-6f}};
  for (int64_t n = 1; n <= 40; ++n) cases.push_back({n, 2.0f, 1e-5f});
  std::mt19937 rng(11);
  for (DispatchLevel level : kernel_test::supported_levels()) {
    ASSERT_EQ(set_dispatch_level(level), level);
    SCOPED_TRACE(dispatch_level_name(level));
    double worst = 0;
    for (const Case& c : cases) {
      std::uniform_real_distribution<float> ux(-c.scale, c.scale), uw(0.8f, 1.2f);
      std::vector<float> x(static_cast<size_t>(c.n)), w(x.size());
      for (float& v : x) v = ux(rng);
      for (float& v : w) v = uw(rng);
      ld ss = 0;
      for (float v : x) ss += static_cast<ld>(v) * v;
      const ld inv = 1.0L / std::sqrt(ss / c.n + static_cast<ld>(c.eps));
      std::vector<ld> want(x.size());
      for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] * inv * w[i];
      std::vector<float> out(x.size() + 1, 7.0f), ref(x.size());
      rms_norm(x.data(), w.data(), c.n, c.eps, out.data());
      EXPECT_EQ(out.back(), 7.0f) << "wrote past n = " << c.n;
      out.pop_back();
      const double e = nmse_ld(out, want);
      EXPECT_LE(e, 1e-13) << "n=" << c.n << " scale=" << c.scale;
      worst = std::max(worst, e);
      rms_norm_ref(x.data(), w.data(), c.n, c.eps, ref.data());
      for (size_t i = 0; i < x.size(); ++i) ASSERT_LE(ulp_distance(out[i], ref[i]), 2) << "n=" << c.n << " i=" << i;
      std::vector<float> inplace = x;
      rms_norm(inplace.data(), w.data(), c.n, c.eps, inplace.data());
      EXPECT_EQ(inplace, out) << "n=" << c.n;
    }
    std::printf("NMSE rms_norm at %s: %.2e\n", dispatch_level_name(level), worst);
  }
}

}  // namespace
}  // namespace baleen
