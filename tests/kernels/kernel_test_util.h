// Helpers shared by the matrix-product tests in tests/kernels/: the dispatch levels this CPU
// runs, a shared 2-thread pool, GGML weights quantized from seeded uniform values, normalised MSE,
// and the fixture of the BF16-path tests (which skip below AVX-512 BF16 and restore the defaults).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/matmul_bf16.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen::kernel_test {

// Every dispatch level up to the best this CPU supports.
inline std::vector<DispatchLevel> supported_levels() {
  std::vector<DispatchLevel> out;
  const DispatchLevel best = max_dispatch_level(cpu_features());
  for (DispatchLevel l : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512}) {
    if (static_cast<int>(l) <= static_cast<int>(best)) out.push_back(l);
  }
  return out;
}

// The AMX switch settings to test on this machine: off, and on where the CPU and OS allow it
// (core/cpu_features.h: the tile units, BF16 and INT8, with tile state granted to this process).
inline std::vector<bool> amx_settings() {
  const CpuFeatures& f = cpu_features();
  if (f.amx_tile && f.amx_bf16 && f.amx_int8) return {false, true};
  return {false};
}

inline ThreadPool& shared_pool() {
  static ThreadPool p(2);
  return p;
}

struct QuantizedWeights {
  std::vector<uint8_t> bytes;
  WeightMatrix w;  // views `bytes`
};

// [rows, cols] weights of `type` quantized (quantize_row_ref) from uniform [-1, 1) values drawn
// row by row from mt19937(seed); each row is followed by `pad` bytes of 0xFF, so row_stride !=
// row bytes and a kernel reading past a row sees garbage (NaN for F16/BF16).
inline QuantizedWeights make_quantized(GgmlType type, int64_t rows, int64_t cols, uint32_t seed, uint64_t pad = 8) {
  QuantizedWeights c;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const uint64_t stride = ggml_row_bytes(type, static_cast<uint64_t>(cols)) + pad;
  c.bytes.assign(static_cast<size_t>(rows) * stride, 0xFF);
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : src) v = uni(rng);
    EXPECT_TRUE(quantize_row_ref(type, src.data(), c.bytes.data() + r * stride, static_cast<uint64_t>(cols)).ok());
  }
  c.w.type = type;
  c.w.rows = rows;
  c.w.cols = cols;
  c.w.data = c.bytes.data();
  c.w.row_stride = stride;
  return c;
}

// Activations [m, cols] with row stride xs: uniform [-1, 1) from rng, NaN in the stride gap (a read
// past cols poisons the result); row 1 gets an outlier (9 at cols / 2) and row 2 an all-zero first
// block of 32, to exercise the amax handling of activation quantization.
inline std::vector<float> make_activations(int64_t m, int64_t cols, int64_t xs, std::mt19937& rng) {
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * xs), std::numeric_limits<float>::quiet_NaN());
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t k = 0; k < cols; ++k) x[i * xs + k] = uni(rng);
    if (i == 1) x[i * xs + cols / 2] = 9.0f;
    if (i == 2) std::fill(x.begin() + i * xs, x.begin() + i * xs + 32, 0.0f);
  }
  return x;
}

// sum((a-b)^2) / sum(b^2) over the [m, n] block of two row-major arrays with row stride `stride`
// (infinity when a non-finite value makes the sum non-finite).
template <typename A, typename B>
double nmse(const std::vector<A>& a, const std::vector<B>& b, int64_t m, int64_t n, int64_t stride) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double d = static_cast<double>(a[i * stride + j]) - static_cast<double>(b[i * stride + j]);
      num += d * d;
      den += static_cast<double>(b[i * stride + j]) * static_cast<double>(b[i * stride + j]);
    }
  }
  if (!std::isfinite(num)) return std::numeric_limits<double>::infinity();
  return den > 0.0 ? num / den : num;
}

// Tests of the BF16 path (kernels/matmul_bf16.h): skipped unless the dispatch level is avx512
// with AVX-512 BF16; the path is switched on for the test and back off (the default) after it,
// and the AMX switch is restored.
class Bf16PathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (dispatch_level() != DispatchLevel::kAvx512 || !set_matmul_bf16_enabled(true))
      GTEST_SKIP() << "BF16 path needs dispatch level avx512 (AVX-512 BF16); this CPU / BALEEN_DISPATCH gives "
                   << dispatch_level_name(dispatch_level());
    amx_was_ = amx_available();
  }
  void TearDown() override {
    set_amx_enabled(amx_was_);
    set_matmul_bf16_enabled(false);  // the default (kernels/matmul_bf16.h)
  }
  bool amx_was_ = false;
};

}  // namespace baleen::kernel_test
