// kernels/xw.h: y = x . W for F32 W [rows, cols]. The SIMD kernel must give the scalar reference's
// exact bits (both accumulate each output in r order with a separately rounded product), at every
// dispatch level, for column counts it handles (multiples of 16) and ones it hands back (others).
#include "kernels/xw.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"

namespace baleen {
namespace {

TEST(XwF32, EveryLevelMatchesTheReferenceBitForBit) {
  const DispatchLevel saved = dispatch_level();
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  struct Shape {
    int64_t rows, cols, m, x_stride, y_stride;
  };
  const Shape shapes[] = {{512, 128, 17, 576, 256}, {64, 16, 1, 64, 16},   {33, 144, 2, 40, 150},
                          {7, 272, 5, 7, 272},      {512, 20, 3, 512, 20}, {1, 48, 4, 1, 48}};
  for (DispatchLevel level : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512}) {
    if (clamp_dispatch_level(level, cpu_features()) != level) continue;
    set_dispatch_level(level);
    for (const Shape& sh : shapes) {
      std::vector<float> w(static_cast<size_t>(sh.rows * sh.cols)), x(static_cast<size_t>(sh.m * sh.x_stride));
      for (float& v : w) v = uni(rng);
      for (float& v : x) v = uni(rng);
      // Guard values between output rows must survive.
      std::vector<float> y(static_cast<size_t>(sh.m * sh.y_stride), 7.0f), r(y.size(), 7.0f);
      xw_f32(w.data(), sh.rows, sh.cols, x.data(), sh.x_stride, sh.m, y.data(), sh.y_stride);
      xw_f32_ref(w.data(), sh.rows, sh.cols, x.data(), sh.x_stride, sh.m, r.data(), sh.y_stride);
      EXPECT_EQ(std::memcmp(y.data(), r.data(), y.size() * sizeof(float)), 0)
          << dispatch_level_name(level) << " rows=" << sh.rows << " cols=" << sh.cols << " m=" << sh.m;
      // And the reference is the product itself (double check, bound from F32 accumulation: rows *
      // 2^-24 relative per step on values of magnitude <= rows).
      for (int64_t t = 0; t < sh.m; ++t) {
        for (int64_t c = 0; c < sh.cols; ++c) {
          double acc = 0.0;
          for (int64_t k = 0; k < sh.rows; ++k) acc += static_cast<double>(x[t * sh.x_stride + k]) * w[k * sh.cols + c];
          EXPECT_NEAR(r[t * sh.y_stride + c], acc, 1e-6 * static_cast<double>(sh.rows) + 1e-6);
        }
        for (int64_t c = sh.cols; c < sh.y_stride && t + 1 < sh.m; ++c) EXPECT_EQ(y[t * sh.y_stride + c], 7.0f);
      }
    }
  }
  set_dispatch_level(saved);
}

}  // namespace
}  // namespace baleen
