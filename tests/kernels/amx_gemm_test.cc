// BF16 GEMM for large-m products (kernels/matmul_bf16.h): the AVX-512 BF16 kernel and the AMX kernel
// against two independent references, for every direct decoder (F32, F16, BF16, Q8_0, Q4_K, Q6_K)
// and the weight_row_to_f32 fallback (Q4_0, Q5_K, FP8 e4m3 blocks), odd shapes (m = 17, 33, 100, 512;
// rows not a multiple of 16/32; K not a multiple of 32 for F32/F16/BF16), strided x / y and 1-3
// threads. Prints one "NMSE bf16-gemm ..." line per case.
//
// Tolerances, why:
//  * vs matmul_ref (exact F32 weights and activations, double sums): both operands are rounded to
//    BF16 (8-bit significand: relative error up to u = 2^-9, up to 2^-8 of the value's spacing
//    near powers of two; variance ~ u^2 / 3 .. 4 u^2 / 3 per operand, 1.3e-6 .. 5e-6). A product's
//    relative error variance is the sum for its two operands, and with random signs over K terms
//    the sum's NMSE is the same: expected ~ 2.5e-6 .. 1e-5 (measured 4.5e-6; BF16 weights, where
//    only x rounds: 2.2e-6). Bound 1e-5. A layout defect (wrong pair, token, row, tail) gives 1e-3+.
//  * vs a double reference over BF16-rounded operands (f32_to_bf16 of the reference-dequantized
//    weights and of x): the kernels' products of two BF16 values are exact in F32, so the only
//    difference is F32 accumulation, NMSE ~ (2^-24)^2 * K ~ 1e-12; bound 1e-9.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/numeric.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

constexpr double kNmseVsExact = 1e-5;
constexpr double kNmseVsBf16Operands = 1e-9;
constexpr float kSentinel = 12345.0f;

using kernel_test::nmse;

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  WeightMatrix w;
};

std::unique_ptr<Case> make_ggml(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  kernel_test::QuantizedWeights q = kernel_test::make_quantized(type, rows, cols, seed);
  auto c = std::make_unique<Case>();
  c->name = std::string(ggml_type_info(type).name) + " " + std::to_string(rows) + "x" + std::to_string(cols);
  c->bytes = std::move(q.bytes);  // the vector's buffer moves with it: q.w.data stays valid
  c->w = q.w;
  return c;
}

std::unique_ptr<Case> make_fp8(int64_t rows, int64_t cols, uint32_t seed) {
  auto c = std::make_unique<Case>();
  c->name = "fp8_e4m3 " + std::to_string(rows) + "x" + std::to_string(cols);
  std::mt19937 rng(seed);
  c->bytes.resize(static_cast<size_t>(rows * cols));
  for (uint8_t& b : c->bytes) {
    do b = static_cast<uint8_t>(rng());
    while ((b & 0x7F) == 0x7F);  // NaN codes
  }
  const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
  std::uniform_real_distribution<float> s(0.5f, 2.0f);
  c->scales.resize(static_cast<size_t>(sr * sc));
  for (float& v : c->scales) v = s(rng);
  c->w.format = WeightFormat::kFp8E4M3Block;
  c->w.rows = rows;
  c->w.cols = cols;
  c->w.data = c->bytes.data();
  c->w.row_stride = static_cast<uint64_t>(cols);
  c->w.scale_inv = c->scales.data();
  c->w.scale_cols = sc;
  return c;
}

float bf16_round(float v) { return bf16_to_f32(f32_to_bf16(v)); }

// Runs matmul_bf16 for m tokens (x and y with padded strides) and checks both references and that
// nothing outside the [m, rows] block of y was written.
void check(const Case& c, int64_t m, int threads, const char* kernel) {
  const WeightMatrix& w = c.w;
  const int64_t xs = w.cols + 5, ys = w.rows + 3;
  std::mt19937 rng(static_cast<uint32_t>(m * 131 + w.rows));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * xs));
  for (float& v : x) v = uni(rng);

  std::vector<double> exact(static_cast<size_t>(m * ys), 0.0), rounded(static_cast<size_t>(m * ys), 0.0);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row_to_f32(w, r, row.data());
    for (int64_t t = 0; t < m; ++t) {
      double e = 0.0, b = 0.0;
      for (int64_t k = 0; k < w.cols; ++k) {
        const float xv = x[t * xs + k];
        e += static_cast<double>(row[k]) * xv;
        b += static_cast<double>(bf16_round(row[k])) * bf16_round(xv);
      }
      exact[t * ys + r] = e;
      rounded[t * ys + r] = b;
    }
  }

  ThreadPool pool(threads);
  std::vector<float> y(static_cast<size_t>(m * ys), kSentinel);
  matmul_bf16(w, x.data(), m, y.data(), pool, xs, ys);
  for (int64_t t = 0; t < m; ++t)
    for (int64_t j = w.rows; j < ys; ++j) ASSERT_EQ(y[t * ys + j], kSentinel) << c.name << " wrote outside y";
  const double e1 = nmse(y, exact, m, w.rows, ys), e2 = nmse(y, rounded, m, w.rows, ys);
  std::printf("NMSE bf16-gemm %-7s %-22s m=%-4lld threads=%d  vs exact %.2e  vs bf16 operands %.2e\n", kernel,
              c.name.c_str(), static_cast<long long>(m), threads, e1, e2);
  EXPECT_LT(e1, kNmseVsExact) << c.name << " m=" << m;
  EXPECT_LT(e2, kNmseVsBf16Operands) << c.name << " m=" << m;
}

std::vector<std::unique_ptr<Case>> cases() {
  std::vector<std::unique_ptr<Case>> v;
  uint32_t seed = 1;
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16}) v.push_back(make_ggml(t, 40, 100, seed++));
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0}) v.push_back(make_ggml(t, 70, 96, seed++));
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ5_K}) v.push_back(make_ggml(t, 130, 512, seed++));
  v.push_back(make_fp8(50, 200, seed++));
  return v;
}

void run_all(const char* kernel) {
  for (const auto& c : cases()) {
    for (int64_t m : {17, 33, 100}) check(*c, m, m == 33 ? 3 : 2, kernel);
  }
  // One large case: all token blocks, several panels per thread.
  auto big = make_ggml(GgmlType::kQ4_K, 300, 768, 99);
  check(*big, 512, 2, kernel);
  auto one = make_ggml(GgmlType::kQ6_K, 33, 256, 98);
  check(*one, 512, 1, kernel);
}

using Bf16GemmTest = kernel_test::Bf16PathTest;

TEST_F(Bf16GemmTest, Avx512Bf16KernelMatchesReferences) {
  set_amx_enabled(false);
  run_all("avx512");
}

TEST_F(Bf16GemmTest, AmxKernelMatchesReferences) {
  if (!set_amx_enabled(true)) GTEST_SKIP() << "no AMX-BF16 here (CPU lacks AMX, or Linux refused tile permission)";
  run_all("amx");
}

// matmul() takes the BF16 path (matmul_bf16) for BF16 weights at every m, on both sides of the
// small-m kernel's limit kMatmulBf16GemvMaxM and of 32 tokens, and the exact F32 path when the
// switch is off (differs from matmul_bf16: the activations are not rounded).
TEST_F(Bf16GemmTest, MatmulUsesBf16PathAtEveryM) {
  auto c = make_ggml(GgmlType::kBF16, 48, 64, 5);
  ThreadPool pool(2);
  for (int64_t m : {int64_t{1}, kMatmulBf16GemvMaxM, kMatmulBf16GemvMaxM + 1, int64_t{31}, int64_t{32}}) {
    std::vector<float> x(static_cast<size_t>(m * 64)), y(static_cast<size_t>(m * 48)), g(y.size()), f(y.size());
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (float& v : x) v = uni(rng);
    matmul(c->w, x.data(), m, y.data(), pool);
    matmul_bf16(c->w, x.data(), m, g.data(), pool);
    EXPECT_EQ(std::memcmp(y.data(), g.data(), y.size() * 4), 0) << "m=" << m;
    set_matmul_bf16_enabled(false);
    matmul(c->w, x.data(), m, f.data(), pool);
    set_matmul_bf16_enabled(true);
    EXPECT_NE(std::memcmp(f.data(), g.data(), y.size() * 4), 0) << "m=" << m << ": switch off still rounds x";
  }
}

}  // namespace
}  // namespace baleen
