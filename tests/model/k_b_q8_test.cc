// model/k_b_q8.h: W_UK^T requantized to Q8_0 with the latent as columns. Every element of the
// transpose lies within half a Q8_0 step (its block's absmax / 254) plus the f16 rounding of the
// block scale (absmax * 2^-11) of the exactly dequantized source; KbQ8 applies only to types with
// an 8-bit-activation path, builds once, and its key expansion through matmul_many agrees with the
// exact F32 product x . W (xw_f32_ref) to NMSE < 1e-4.
#include "model/k_b_q8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "../kernels/kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_many.h"
#include "kernels/xw.h"

namespace baleen {
namespace {

using kernel_test::make_quantized;

std::vector<float> dequant(const WeightMatrix& w) {
  std::vector<float> out(static_cast<size_t>(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r) weight_row_to_f32(w, r, out.data() + r * w.cols);
  return out;
}

TEST(KbQ8, TransposeWithinHalfAStepOfTheSource) {
  struct Case {
    GgmlType type;
    int64_t rows, cols;
  };
  for (const Case& c : {Case{GgmlType::kQ5_0, 512, 128}, Case{GgmlType::kQ8_0, 96, 64}, Case{GgmlType::kQ4_K, 64, 256},
                        Case{GgmlType::kQ4_0, 32, 32}}) {
    const auto q = make_quantized(c.type, c.rows, c.cols, 7u);
    const std::vector<float> w = dequant(q.w);
    std::vector<uint8_t> out(static_cast<size_t>(c.cols * c.rows / 32 * 34));
    const WeightMatrix t = transpose_to_q8_0(q.w, out.data());
    ASSERT_EQ(t.type, GgmlType::kQ8_0);
    ASSERT_EQ(t.rows, c.cols);
    ASSERT_EQ(t.cols, c.rows);
    const std::vector<float> tt = dequant(t);
    for (int64_t col = 0; col < c.cols; ++col) {
      for (int64_t b = 0; b < c.rows; b += 32) {
        float amax = 0.0f;
        for (int64_t r = b; r < b + 32; ++r) amax = std::max(amax, std::fabs(w[r * c.cols + col]));
        const double bound = amax / 254.0 + amax * std::ldexp(1.0, -11) + 1e-12;
        for (int64_t r = b; r < b + 32; ++r) {
          ASSERT_LE(std::fabs(tt[col * c.rows + r] - w[r * c.cols + col]), bound)
              << ggml_type_info(c.type).name << " r=" << r << " c=" << col;
        }
      }
    }
  }
}

TEST(KbQ8, AppliesToTypesWithAnIntegerPath) {
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    const int64_t cols = type == GgmlType::kQ4_K || type == GgmlType::kQ6_K ? 256 : 128;
    EXPECT_TRUE(KbQ8::applies({make_quantized(type, 64, cols, 1u).w})) << ggml_type_info(type).name;
  }
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16}) {
    EXPECT_FALSE(KbQ8::applies({make_quantized(type, 64, 128, 1u).w})) << ggml_type_info(type).name;
  }
  EXPECT_FALSE(KbQ8::applies({make_quantized(GgmlType::kQ8_0, 48, 128, 1u).w}));  // latent not a multiple of 32
  EXPECT_FALSE(KbQ8::applies({}));
}

TEST(KbQ8, BuiltOnceAndExpandsKeysLikeTheExactProduct) {
  constexpr int64_t kHeads = 3, kLatent = 512, kNope = 128, kTokens = 40, kStride = 576;
  std::vector<kernel_test::QuantizedWeights> src;
  std::vector<WeightMatrix> heads;
  for (int64_t h = 0; h < kHeads; ++h) src.push_back(make_quantized(GgmlType::kQ5_0, kLatent, kNope, 20u + h));
  for (const auto& s : src) heads.push_back(s.w);
  ASSERT_TRUE(KbQ8::applies(heads));
  KbQ8 kb;
  ThreadPool& pool = kernel_test::shared_pool();
  const std::vector<WeightMatrix>& t = kb.get(heads, pool);
  EXPECT_EQ(&kb.get(heads, pool), &t);
  ASSERT_EQ(t.size(), heads.size());
  const uint8_t* first = t[0].data;
  EXPECT_EQ(kb.get(heads, pool)[0].data, first);  // not rebuilt

  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kTokens * kStride));
  for (float& v : x) v = uni(rng);
  const bool act_q8 = set_matmul_act_q8(true);
  for (int64_t h = 0; h < kHeads; ++h) {
    std::vector<uint8_t> own(static_cast<size_t>(kNope * kLatent / 32 * 34));
    const WeightMatrix th = transpose_to_q8_0(heads[h], own.data());
    ASSERT_EQ(std::memcmp(th.data, t[h].data, own.size()), 0) << "head " << h;
    const std::vector<float> w = dequant(heads[h]);
    std::vector<float> ref(static_cast<size_t>(kTokens * kNope)), y(ref.size());
    xw_f32_ref(w.data(), kLatent, kNope, x.data(), kStride, kTokens, ref.data(), kNope);
    const MatmulJob job{&t[h], x.data(), kTokens, y.data(), kStride, kNope};
    matmul_many(std::span<const MatmulJob>(&job, 1), pool);
    const double e = kernel_test::nmse(y, ref, kTokens, kNope, kNope);
    std::printf("NMSE k_b_q8 key expansion head %lld  %.2e\n", static_cast<long long>(h), e);
    EXPECT_LT(e, 1e-4) << "head " << h;
  }
  set_matmul_act_q8(act_q8);
}

}  // namespace
}  // namespace baleen
