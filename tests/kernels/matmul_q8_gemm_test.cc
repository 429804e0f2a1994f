// Batch invariance of the integer-activation path (kernels/matmul_q8.h): with the switch on,
// matmul takes the integer path for quantized weights at every m (the row-dot kernels for small m,
// the integer GEMM for large m), and each output must not depend on the other rows of the call.
// For every dispatch level this CPU supports x Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K x
// m in {1, 3, 4, 5, 6, 8, 9, 13, 17, 24, 33, 41, 56, 64, 80, 100, 512} (odd weight row counts,
// strided x and y; on AVX-512 the GEMM takes over (q8_gemm_takes) at 4 tokens for 32-element blocks
// and 6 for K-quants, and its tile passes are: a last group of <= 8 tokens on 256-bit vectors
// (m = 4..8 only that; 17, 24 = 1 + half; 33 = 2 + half; 56 = 2 + (1 + half); 100 = 3 + 2 +
// (1 + half)), 9..16 one group, 41 three, 64 = 2 + 2, 80 = 3 + 2, 512 = 10 x 3 + 2):
//  1. row t of matmul(x[0..m)) == matmul(x[t]) with m = 1, bit for bit (memcmp);
//  2. matmul == matmul_q8_ref (scalar reference: same integer block sums, same float operations in
//     the same order), bit for bit, and so within the NMSE bound of matmul_q8_test.cc (1e-10);
//  3. nothing outside y's rows [0, rows) of each output row is written.
// At the AVX-512 level all of it with AMX off and, where the CPU has AMX, on: Q4_K / Q5_K / Q8_0 /
// Q4_0 / Q5_0 then take the AMX-INT8 tiles (kernels/x86/q8_gemm_amx.cc; 16-row tiles, 64-row chunks, pairs
// of groups: 37 / 131 rows and 7 / 32 groups give partial tiles, several chunks and a lone group;
// 288 columns an odd number of 32-element blocks and code rows padded to 320 bytes).
// Plus the GEMM kernel called directly (kernels/x86/q8_gemm.h, when the CPU has AVX-512) on a row
// range, AMX off and on: bit-identical to matmul_q8_ref inside, nothing written outside.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/q8_act.h"
#include "kernels/ref/quantize.h"
#include "kernels/x86/q8_gemm.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

using kernel_test::supported_levels;
using Weights = kernel_test::QuantizedWeights;
Weights make_weights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  return kernel_test::make_quantized(type, rows, cols, seed);
}
ThreadPool& pool() { return kernel_test::shared_pool(); }

constexpr float kSentinel = 12345.0f;

using kernel_test::make_activations;

class Q8GemmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_matmul_act_q8(true);
    amx_was_ = amx_available();
  }
  void TearDown() override {
    set_dispatch_level(DispatchLevel::kAvx512);
    set_matmul_act_q8(true);
    set_amx_enabled(amx_was_);
  }
  bool amx_was_ = false;
};

// (level, AMX) pairs to run: every supported level with AMX off, and the top level with AMX on where
// the CPU has it.
std::vector<std::pair<DispatchLevel, bool>> level_settings() {
  std::vector<std::pair<DispatchLevel, bool>> out;
  for (DispatchLevel level : supported_levels()) out.emplace_back(level, false);
  if (kernel_test::amx_settings().size() > 1 && max_dispatch_level(cpu_features()) == DispatchLevel::kAvx512) {
    out.emplace_back(DispatchLevel::kAvx512, true);
  }
  return out;
}

void check_type(GgmlType type, int64_t rows, int64_t cols) {
  const std::string tname(ggml_type_info(type).name);
  const Weights c = make_weights(type, rows, cols, 11u + static_cast<uint32_t>(cols));
  const WeightMatrix& w = c.w;
  std::mt19937 rng(static_cast<uint32_t>(cols + rows));
  for (int64_t m : {1, 3, 4, 5, 6, 8, 9, 13, 17, 24, 33, 41, 56, 64, 80, 100, 512}) {
    ASSERT_TRUE(matmul_q8_applies(w, m));
    const int64_t xs = cols + 5, ys = rows + 3;
    const std::vector<float> x = make_activations(m, cols, xs, rng);
    std::vector<float> y_q8ref(static_cast<size_t>(m * ys), kSentinel);
    matmul_q8_ref(w, x.data(), m, y_q8ref.data(), xs, ys);
    for (const auto& [level, amx] : level_settings()) {
      ASSERT_EQ(set_dispatch_level(level), level);
      ASSERT_EQ(set_amx_enabled(amx), amx);
      const std::string where = tname + " " + std::to_string(rows) + "x" + std::to_string(cols) + " " +
                                dispatch_level_name(level) + (amx ? "+amx" : "") + " m=" + std::to_string(m);
      std::vector<float> y(y_q8ref.size(), kSentinel);
      matmul(w, x.data(), m, y.data(), pool(), xs, ys);
      int diff_single = 0;
      std::vector<float> y1(static_cast<size_t>(rows));
      for (int64_t t = 0; t < m; ++t) {
        for (int64_t j = rows; j < ys; ++j) ASSERT_EQ(y[t * ys + j], kSentinel) << where << ": write outside rows";
        matmul(w, x.data() + t * xs, 1, y1.data(), pool(), xs, rows);
        if (std::memcmp(y1.data(), y.data() + t * ys, sizeof(float) * rows) != 0) ++diff_single;
      }
      EXPECT_EQ(diff_single, 0) << where << ": rows differing from the same token alone (m = 1)";
      int diff_ref = 0;
      double num = 0.0, den = 0.0;
      for (int64_t t = 0; t < m; ++t) {
        if (std::memcmp(y_q8ref.data() + t * ys, y.data() + t * ys, sizeof(float) * rows) != 0) ++diff_ref;
        for (int64_t r = 0; r < rows; ++r) {
          const double d = static_cast<double>(y[t * ys + r]) - y_q8ref[t * ys + r];
          num += d * d;
          den += static_cast<double>(y_q8ref[t * ys + r]) * y_q8ref[t * ys + r];
        }
      }
      EXPECT_EQ(diff_ref, 0) << where << ": rows not bit-identical to matmul_q8_ref";
      EXPECT_LE(num / den, 1e-10) << where;
    }
  }
}

TEST_F(Q8GemmTest, Q4_K) { check_type(GgmlType::kQ4_K, 37, 512); }
TEST_F(Q8GemmTest, Q5_K) { check_type(GgmlType::kQ5_K, 37, 512); }
TEST_F(Q8GemmTest, Q6_K) { check_type(GgmlType::kQ6_K, 37, 512); }
TEST_F(Q8GemmTest, Q4_0) { check_type(GgmlType::kQ4_0, 37, 288); }
TEST_F(Q8GemmTest, Q5_0) { check_type(GgmlType::kQ5_0, 37, 1408); }
TEST_F(Q8GemmTest, Q8_0) { check_type(GgmlType::kQ8_0, 19, 288); }
// Wider shapes: more than one weight row tile and token tile per thread.
TEST_F(Q8GemmTest, Q4_KWide) { check_type(GgmlType::kQ4_K, 131, 768); }
TEST_F(Q8GemmTest, Q6_KWide) { check_type(GgmlType::kQ6_K, 67, 1024); }
TEST_F(Q8GemmTest, Q8_0Wide) { check_type(GgmlType::kQ8_0, 150, 1408); }

TEST_F(Q8GemmTest, GemmKernelOnRowRange) {
  if (max_dispatch_level(cpu_features()) != DispatchLevel::kAvx512) GTEST_SKIP() << "no AVX-512";
  ASSERT_EQ(set_dispatch_level(DispatchLevel::kAvx512), DispatchLevel::kAvx512);
  for (const bool amx : kernel_test::amx_settings()) {
    ASSERT_EQ(set_amx_enabled(amx), amx);
    for (GgmlType type :
         {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
      const ActQ8Kind kind = act_q8_kind(type);
      const int64_t rows = 23, cols = 512, m = 37, ab = act_q8_row_bytes(kind, cols);
      const Weights c = make_weights(type, rows, cols, 5u);
      std::mt19937 rng(6);
      const std::vector<float> x = make_activations(m, cols, cols, rng);
      std::vector<uint8_t> act(static_cast<size_t>(ab * m));
      for (int64_t i = 0; i < m; ++i) quantize_act_q8_ref(kind, x.data() + i * cols, cols, act.data() + i * ab);
      std::vector<uint8_t> panel(static_cast<size_t>(q8_gemm_panel_bytes(kind, m, cols)), 0xCD);
      q8_gemm_pack_avx512(kind, act.data(), ab, m, cols, 0, q8_gemm_groups(m), panel.data());
      std::vector<float> y_ref(static_cast<size_t>(m * rows)), y(y_ref.size(), kSentinel);
      matmul_q8_ref(c.w, x.data(), m, y_ref.data());
      q8_gemm_rows_avx512(c.w, 3, 21, panel.data(), m, y.data(), rows);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          if (r < 3 || r >= 21) {
            ASSERT_EQ(y[i * rows + r], kSentinel) << ggml_type_info(type).name;
          } else {
            ASSERT_EQ(y[i * rows + r], y_ref[i * rows + r])
                << ggml_type_info(type).name << (amx ? " amx" : "") << " token " << i << " row " << r;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace baleen
