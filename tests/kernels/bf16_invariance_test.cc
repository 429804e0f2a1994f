// Batch invariance of matmul() on BF16 weights at dispatch level avx512 (kernels/matmul_bf16.h):
// row t of matmul(x[0..m)) must be bitwise equal to matmul of row t alone, for m in
// {1, 2, 5, 8, 31, 32, 33, 100} (small-m kernel, GEMM, and the switch between them), odd row counts
// (tails of the 16-row blocks, 8-row GEMM tiles and 32-row panels), K a multiple of 32 or not,
// padded x / y strides and 1-3 threads; with AMX off and, where the CPU has it, on. The server's
// continuous batching depends on it (same seed and temperature 0 give the same text with 1 or N
// parallel slots). Prints one "NMSE bf16-invariance ..." line per shape.
//
// Accuracy (independent reference matmul_ref: exact F32 weights and activations, double sums):
// BF16 weights are exact, only the activations are rounded to BF16 (relative error up to 2^-9,
// variance ~ 1.3e-6 .. 5e-6), and with random signs over K terms the NMSE is that variance: bound
// 1e-5, as tests/kernels/amx_gemm_test.cc (measured ~2e-6 there). A wrong pair, lane, row or tail
// gives 1e-3 and more.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

constexpr double kNmseVsExact = 1e-5;
constexpr float kSentinel = 12345.0f;

using kernel_test::nmse;

using Bf16Weight = kernel_test::QuantizedWeights;

// Rows padded with 6 bytes of NaN: nothing past cols may be read.
Bf16Weight make_bf16(int64_t rows, int64_t cols, uint32_t seed) {
  return kernel_test::make_quantized(GgmlType::kBF16, rows, cols, seed, 6);
}

// For each m: matmul of m tokens (x / y strides padded when `padded`) against matmul of each token
// alone (unpadded, 1 thread), bitwise; NMSE of the whole product against matmul_ref.
void check_shape(int64_t rows, int64_t cols, bool padded, const char* label) {
  const Bf16Weight b = make_bf16(rows, cols, static_cast<uint32_t>(rows * 7 + cols));
  const WeightMatrix& w = b.w;
  const int64_t xs = padded ? cols + 3 : cols, ys = padded ? rows + 5 : rows;
  constexpr int64_t kMaxM = 100;
  std::mt19937 rng(static_cast<uint32_t>(rows + cols));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kMaxM * xs));
  for (float& v : x) v = uni(rng);

  // Each token alone (m = 1), one thread.
  ThreadPool one(1);
  std::vector<float> single(static_cast<size_t>(kMaxM * rows));
  for (int64_t t = 0; t < kMaxM; ++t) matmul(w, x.data() + t * xs, 1, single.data() + t * rows, one, xs, rows);

  double worst = 0.0;
  for (int threads = 1; threads <= 3; ++threads) {
    ThreadPool pool(threads);
    for (int64_t m : {1, 2, 5, 8, 31, 32, 33, 100}) {
      std::vector<float> y(static_cast<size_t>(m * ys), kSentinel);
      matmul(w, x.data(), m, y.data(), pool, xs, ys);
      for (int64_t t = 0; t < m; ++t) {
        ASSERT_EQ(std::memcmp(y.data() + t * ys, single.data() + t * rows, static_cast<size_t>(rows) * 4), 0)
            << label << " " << rows << "x" << cols << " m=" << m << " threads=" << threads << " token " << t
            << " differs from the token alone";
        for (int64_t j = rows; j < ys; ++j) ASSERT_EQ(y[t * ys + j], kSentinel) << "wrote outside y";
      }
      std::vector<float> ref(static_cast<size_t>(m * ys), 0.0f);
      matmul_ref(w, x.data(), m, ref.data(), xs, ys);
      const double e = nmse(y, ref, m, rows, ys);
      EXPECT_LT(e, kNmseVsExact) << label << " " << rows << "x" << cols << " m=" << m;
      worst = e > worst ? e : worst;
    }
  }
  std::printf("NMSE bf16-invariance %-6s %4lldx%-4lld %-8s worst vs exact %.2e (m 1..100, threads 1..3)\n", label,
              static_cast<long long>(rows), static_cast<long long>(cols), padded ? "strided" : "packed", worst);
}

void run_all(const char* label) {
  check_shape(1, 64, false, label);
  check_shape(17, 100, true, label);  // K not a multiple of 32, odd K
  check_shape(33, 96, false, label);
  check_shape(47, 256, true, label);
  check_shape(131, 320, true, label);  // several 16-row blocks, a partial 32-row panel tile
  check_shape(61, 33, false, label);
}

using Bf16InvarianceTest = kernel_test::Bf16PathTest;

TEST_F(Bf16InvarianceTest, Avx512Bf16RowsIndependentOfBatch) {
  set_amx_enabled(false);
  run_all("avx512");
}

TEST_F(Bf16InvarianceTest, AmxRowsIndependentOfBatch) {
  if (!set_amx_enabled(true)) GTEST_SKIP() << "no AMX-BF16 here (CPU lacks AMX, or Linux refused tile permission)";
  run_all("amx");
}

// BALEEN_BF16_GEMM=0 (set_matmul_bf16_enabled(false)) keeps the exact F32 path at every m: F32
// accumulation of exact products, NMSE vs the double reference ~ (2^-24)^2 * K, far below what
// rounding the activations to BF16 gives (~2e-6). Bound 1e-10.
TEST_F(Bf16InvarianceTest, DisabledGivesExactF32Path) {
  ASSERT_FALSE(set_matmul_bf16_enabled(false));
  const Bf16Weight b = make_bf16(40, 256, 9);
  ThreadPool pool(2);
  for (int64_t m : {1, 5, 32, 100}) {
    std::vector<float> x(static_cast<size_t>(m * 256)), y(static_cast<size_t>(m * 40)), r(y.size());
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (float& v : x) v = uni(rng);
    matmul(b.w, x.data(), m, y.data(), pool);
    matmul_ref(b.w, x.data(), m, r.data());
    EXPECT_LT(nmse(y, r, m, 40, 40), 1e-10) << "m=" << m;
  }
}

}  // namespace
}  // namespace baleen
