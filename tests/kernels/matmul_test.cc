// Kernel harness for the matrix product (test-backend-ops style): for every weight format the model
// reads (GGML F32/F16/BF16, legacy quants, K-quants, IQ4_NL, DeepSeek FP8 e4m3 128x128 blocks incl.
// partial edge blocks and row_slice views inside the block grid), `matmul` on pools of 1, 2 and 3
// threads is compared with `matmul_ref` and with an independent computation (whole matrix
// dequantized by dequantize_row_ref / fp8_block_dequant_ref, then plain double loops) by
// normalised MSE. Prints one "NMSE matmul ..." line per format, m and thread count.
//
// Threshold 1e-10, why: all three paths multiply the very same dequantized float weights by the
// same float activations. Every product w*x is exact in double and rounded once (relative 2^-24) in
// float; the only difference is float vs double accumulation. With n = cols terms of random sign
// the float sum's rounding error is ~ u * sqrt(n) relative to the output (u = 2^-24), so the NMSE
// is ~ u^2 * n ~ 1e-12 for n = 512 (the worst-case bound, all errors aligned, is (n*u)^2 ~ 1e-9,
// which random data does not reach). Any real defect (a wrong block scale, a skipped tail element,
// a wrong row or row_offset, a half-precision intermediate) gives 1e-7 or (usually) far more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/fp8_dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/numeric.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

constexpr double kNmseMax = 1e-10;
// These tests hold matmul's exact F32-activation path to 1e-10; the integer-activation path it
// takes by default for small m on quantized weights is tested in matmul_q8_test.cc.
const bool kExactF32Path = [] {
  set_matmul_act_q8(false);
  return true;
}();
// Written into the gaps of strided outputs; a kernel that writes outside its rows changes it.
constexpr float kSentinel = 12345.0f;

// sum((a-b)^2) / sum(b^2) over the [m, n] block of two row-major arrays with row stride `stride`.
double nmse(const float* a, const double* b, int64_t m, int64_t n, int64_t stride) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double d = static_cast<double>(a[i * stride + j]) - b[i * stride + j];
      num += d * d;
      den += b[i * stride + j] * b[i * stride + j];
    }
  }
  if (std::isnan(num)) return std::numeric_limits<double>::infinity();
  return den > 0.0 ? num / den : num;
}

// A weight matrix with the bytes it points into and its independently dequantized contents.
struct WeightCase {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;  // FP8 scale_inv grid
  WeightMatrix w;
  std::vector<float> dense;  // [w.rows, w.cols], the expected W
};

float f16_scale(std::mt19937& rng, float lo, float hi, bool random_sign) {
  std::uniform_real_distribution<float> mag(lo, hi);
  float v = mag(rng);
  if (random_sign && (rng() & 1)) v = -v;
  return v;
}

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// GGML weights, rows padded by 8 garbage bytes (0xFF: an F16/BF16 NaN) so row_stride != row bytes.
std::unique_ptr<WeightCase> make_ggml(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  auto c = std::make_unique<WeightCase>();
  const auto& info = ggml_type_info(type);
  c->name = std::string(info.name) + " " + std::to_string(rows) + "x" + std::to_string(cols);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const uint64_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(cols));
  const uint64_t stride = row_bytes + 8;
  c->bytes.assign(static_cast<size_t>(rows) * stride, 0xFF);
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = c->bytes.data() + r * stride;
    if (type == GgmlType::kQ2_K || type == GgmlType::kQ3_K || type == GgmlType::kIQ4_NL) {
      // No reference quantizer: random bits are valid codes; only the f16 scales must be sane.
      for (uint64_t b = 0; b < row_bytes; ++b) row[b] = static_cast<uint8_t>(rng());
      const uint64_t bsize = info.type_size;
      for (uint64_t b = 0; b < row_bytes; b += bsize) {
        uint8_t* blk = row + b;
        if (type == GgmlType::kQ2_K) {  // [80] f16 d, [82] f16 dmin
          put_f16(blk + 80, f16_scale(rng, 2e-3f, 2e-2f, true));
          put_f16(blk + 82, f16_scale(rng, 2e-3f, 2e-2f, false));
        } else if (type == GgmlType::kQ3_K) {  // [108] f16 d
          put_f16(blk + 108, f16_scale(rng, 1e-3f, 1e-2f, true));
        } else {  // IQ4_NL: [0] f16 d
          put_f16(blk, f16_scale(rng, 5e-3f, 2e-2f, true));
        }
      }
    } else {
      for (float& v : src) v = uni(rng);
      Status st = quantize_row_ref(type, src.data(), row, static_cast<uint64_t>(cols));
      EXPECT_TRUE(st.ok()) << c->name;
    }
  }
  c->w.format = WeightFormat::kGgml;
  c->w.type = type;
  c->w.rows = rows;
  c->w.cols = cols;
  c->w.data = c->bytes.data();
  c->w.row_stride = stride;
  c->dense.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    Status st =
        dequantize_row_ref(type, c->bytes.data() + r * stride, c->dense.data() + r * cols, static_cast<uint64_t>(cols));
    EXPECT_TRUE(st.ok()) << c->name;
  }
  return c;
}

// FP8 e4m3 codes (NaN codes 0x7F / 0xFF excluded) with random positive block scales. The returned
// case is the whole matrix; views are made by fp8_view.
std::unique_ptr<WeightCase> make_fp8(int64_t rows, int64_t cols, int32_t block_rows, int32_t block_cols,
                                     uint32_t seed) {
  auto c = std::make_unique<WeightCase>();
  c->name = "fp8_e4m3 " + std::to_string(rows) + "x" + std::to_string(cols) + " blocks " + std::to_string(block_rows) +
            "x" + std::to_string(block_cols);
  std::mt19937 rng(seed);
  c->bytes.resize(static_cast<size_t>(rows * cols));
  for (uint8_t& b : c->bytes) {
    do b = static_cast<uint8_t>(rng());
    while ((b & 0x7F) == 0x7F);
  }
  const int64_t grid_rows = (rows + block_rows - 1) / block_rows;
  const int64_t grid_cols = (cols + block_cols - 1) / block_cols;
  std::uniform_real_distribution<float> scale(1e-4f, 4e-3f);
  c->scales.resize(static_cast<size_t>(grid_rows * grid_cols));
  for (float& s : c->scales) s = scale(rng);
  c->w.format = WeightFormat::kFp8E4M3Block;
  c->w.rows = rows;
  c->w.cols = cols;
  c->w.data = c->bytes.data();
  c->w.row_stride = static_cast<uint64_t>(cols);
  c->w.scale_inv = c->scales.data();
  c->w.scale_cols = grid_cols;
  c->w.block_rows = block_rows;
  c->w.block_cols = block_cols;
  c->dense.resize(static_cast<size_t>(rows * cols));
  fp8_block_dequant_ref(c->bytes.data(), c->scales.data(), rows, cols, block_rows, block_cols, c->dense.data());
  return c;
}

// A case that views rows [begin, begin + n) of `whole` (sharing its bytes) through w.row_slice.
struct View {
  std::string name;
  WeightMatrix w;
  const float* dense;  // expected rows, [w.rows, w.cols]
};

View whole_view(const WeightCase& c) { return {c.name, c.w, c.dense.data()}; }

View slice_view(const View& v, int64_t begin, int64_t n) {
  return {v.name + " rows[" + std::to_string(begin) + ",+" + std::to_string(n) + ")", v.w.row_slice(begin, n),
          v.dense + begin * v.w.cols};
}

struct Pools {
  ThreadPool p1{1}, p2{2}, p3{3};
  ThreadPool& get(int n) { return n == 1 ? p1 : n == 2 ? p2 : p3; }
};
Pools& pools() {
  static Pools p;
  return p;
}

// Runs every (m, threads, stride mode) combination on one view; returns the worst NMSE seen.
double check_view(const View& v) {
  const WeightMatrix& w = v.w;
  double worst = 0.0;
  std::mt19937 rng(static_cast<uint32_t>(w.rows * 7919 + w.cols));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (int64_t m : {1, 3, 17}) {
    double worst_m_ref = 0.0;
    double worst_t[4] = {0, 0, 0, 0};
    double worst_t_indep[4] = {0, 0, 0, 0};
    for (bool padded : {false, true}) {
      // Padded strides: x rows are cols + 5 apart with NaN in the gap (reading it poisons the
      // result); y rows are rows + 3 apart with a sentinel in the gap (writing it is caught).
      const int64_t xs = padded ? w.cols + 5 : w.cols;
      const int64_t ys = padded ? w.rows + 3 : w.rows;
      std::vector<float> x(static_cast<size_t>(m * xs), std::numeric_limits<float>::quiet_NaN());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < w.cols; ++k) x[i * xs + k] = uni(rng);

      // Independent: y[i, r] = sum_k W[r, k] * x[i, k] in double.
      std::vector<double> expect(static_cast<size_t>(m * ys), 0.0);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < w.rows; ++r) {
          double acc = 0.0;
          const float* wr = v.dense + r * w.cols;
          for (int64_t k = 0; k < w.cols; ++k) acc += static_cast<double>(wr[k]) * static_cast<double>(x[i * xs + k]);
          expect[i * ys + r] = acc;
        }
      }
      auto check_gaps = [&](const std::vector<float>& y, const char* who) {
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = w.rows; j < ys; ++j)
            ASSERT_EQ(y[i * ys + j], kSentinel) << who << " wrote outside its output rows, " << v.name;
      };
      const int64_t x_arg = padded ? xs : 0, y_arg = padded ? ys : 0;

      std::vector<float> y_ref(static_cast<size_t>(m * ys), kSentinel);
      matmul_ref(w, x.data(), m, y_ref.data(), x_arg, y_arg);
      check_gaps(y_ref, "matmul_ref");
      std::vector<double> y_ref_d(y_ref.begin(), y_ref.end());
      const double e_ref = nmse(y_ref.data(), expect.data(), m, w.rows, ys);
      EXPECT_LE(e_ref, kNmseMax) << "matmul_ref vs independent, " << v.name << " m=" << m;
      worst_m_ref = std::max(worst_m_ref, e_ref);

      std::vector<float> y1;
      for (int threads : {1, 2, 3}) {
        std::vector<float> y(static_cast<size_t>(m * ys), kSentinel);
        matmul(w, x.data(), m, y.data(), pools().get(threads), x_arg, y_arg);
        check_gaps(y, "matmul");
        const double e1 = nmse(y.data(), y_ref_d.data(), m, w.rows, ys);
        const double e2 = nmse(y.data(), expect.data(), m, w.rows, ys);
        EXPECT_LE(e1, kNmseMax) << "matmul vs matmul_ref, " << v.name << " m=" << m << " threads=" << threads
                                << (padded ? " strided" : "");
        EXPECT_LE(e2, kNmseMax) << "matmul vs independent, " << v.name << " m=" << m << " threads=" << threads
                                << (padded ? " strided" : "");
        worst_t[threads] = std::max(worst_t[threads], e1);
        worst_t_indep[threads] = std::max(worst_t_indep[threads], e2);
        // Rows are split between threads, never the sum within a row, so the thread count must not
        // change a single bit of the result.
        if (threads == 1) {
          y1 = y;
        } else {
          EXPECT_EQ(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)), 0)
              << "thread count changed the result, " << v.name << " m=" << m << " threads=" << threads;
        }
      }
    }
    std::printf("NMSE matmul_ref %s m=%lld vs independent: %.2e\n", v.name.c_str(), static_cast<long long>(m),
                worst_m_ref);
    for (int threads : {1, 2, 3}) {
      std::printf("NMSE matmul %s m=%lld threads=%d: %.2e (vs independent %.2e)\n", v.name.c_str(),
                  static_cast<long long>(m), threads, worst_t[threads], worst_t_indep[threads]);
      worst = std::max({worst, worst_t[threads], worst_t_indep[threads]});
    }
    worst = std::max(worst, worst_m_ref);
  }
  return worst;
}

struct GgmlParam {
  GgmlType type;
  int64_t rows, cols;
};
void PrintTo(const GgmlParam& p, std::ostream* os) {
  *os << ggml_type_info(p.type).name << " " << p.rows << "x" << p.cols;
}

class MatmulGgml : public ::testing::TestWithParam<GgmlParam> {};

TEST_P(MatmulGgml, MatchesReferenceAndIndependent) {
  const GgmlParam p = GetParam();
  auto c = make_ggml(p.type, p.rows, p.cols, 1234u + static_cast<uint32_t>(p.type));
  ASSERT_FALSE(HasFailure());
  // The independent expectation must not be trivially zero (e.g. scales that decoded to 0).
  double ss = 0.0;
  for (float v : c->dense) ss += static_cast<double>(v) * v;
  ASSERT_GT(ss, 0.0) << c->name;
  for (float v : c->dense) ASSERT_TRUE(std::isfinite(v)) << c->name;
  // The whole matrix, then a view starting mid-matrix (a row_slice shifts `data` by whole rows).
  const double worst = std::max(check_view(whole_view(*c)), check_view(slice_view(whole_view(*c), 5, p.rows - 9)));
  std::printf("NMSE matmul %s worst: %.2e\n", c->name.c_str(), worst);
}

// Rows: 67 (not a multiple of any thread or chunk count). Cols: 203 (not a multiple of 8, the
// dot product's unroll) for the per-element types; 512 = two K-quant super-blocks, 16 legacy blocks.
INSTANTIATE_TEST_SUITE_P(AllFormats, MatmulGgml,
                         ::testing::Values(GgmlParam{GgmlType::kF32, 67, 203}, GgmlParam{GgmlType::kF32, 40, 64},
                                           GgmlParam{GgmlType::kF32, 19, 5}, GgmlParam{GgmlType::kF16, 67, 203},
                                           GgmlParam{GgmlType::kBF16, 67, 203}, GgmlParam{GgmlType::kQ4_0, 67, 512},
                                           GgmlParam{GgmlType::kQ4_1, 67, 512}, GgmlParam{GgmlType::kQ5_0, 67, 512},
                                           GgmlParam{GgmlType::kQ5_1, 67, 512}, GgmlParam{GgmlType::kQ8_0, 67, 512},
                                           GgmlParam{GgmlType::kQ4_K, 67, 512}, GgmlParam{GgmlType::kQ5_K, 67, 512},
                                           GgmlParam{GgmlType::kQ6_K, 67, 512}, GgmlParam{GgmlType::kQ2_K, 67, 512},
                                           GgmlParam{GgmlType::kQ3_K, 67, 512}, GgmlParam{GgmlType::kIQ4_NL, 67, 512}),
                         [](const ::testing::TestParamInfo<GgmlParam>& info) {
                           return std::string(ggml_type_info(info.param.type).name) + "_" +
                                  std::to_string(info.param.rows) + "x" + std::to_string(info.param.cols);
                         });

TEST(MatmulFp8, PartialEdgeBlocks) {
  // 200 x 300 with 128 x 128 blocks: a 2 x 3 scale grid whose last row and column are partial.
  auto c = make_fp8(200, 300, 128, 128, 77u);
  const double worst = check_view(whole_view(*c));
  std::printf("NMSE matmul %s worst: %.2e\n", c->name.c_str(), worst);
}

TEST(MatmulFp8, RowSlicesInsideBlockGrid) {
  auto c = make_fp8(200, 300, 128, 128, 78u);
  const View whole = whole_view(*c);
  // Starts inside block row 0 and crosses into block row 1 (row_offset = 70).
  double worst = check_view(slice_view(whole, 70, 100));
  // Starts exactly on the block boundary and runs to the partial last block.
  worst = std::max(worst, check_view(slice_view(whole, 128, 72)));
  // Entirely inside block row 1, not at its start.
  worst = std::max(worst, check_view(slice_view(whole, 150, 23)));
  // A slice of a slice: offsets add up (rows 100..149, crossing row 128).
  const View s2 = slice_view(slice_view(whole, 70, 100), 30, 50);
  EXPECT_EQ(s2.w.row_offset, 100);
  worst = std::max(worst, check_view(s2));
  std::printf("NMSE matmul fp8_e4m3 200x300 row slices worst: %.2e\n", worst);
}

TEST(MatmulFp8, SmallNonSquareBlocks) {
  // Block shape other than 128 x 128, several partial tiles, and a view starting mid-tile.
  auto c = make_fp8(100, 90, 48, 40, 79u);
  const double worst = std::max(check_view(whole_view(*c)), check_view(slice_view(whole_view(*c), 13, 61)));
  std::printf("NMSE matmul %s worst: %.2e\n", c->name.c_str(), worst);
}

TEST(MatmulEdge, EmptyShapes) {
  auto c = make_ggml(GgmlType::kF32, 4, 16, 5u);
  std::vector<float> x(16, 1.0f), y(4, kSentinel);
  // m = 0 writes nothing.
  matmul(c->w, x.data(), 0, y.data(), pools().p3);
  matmul_ref(c->w, x.data(), 0, y.data());
  for (float v : y) EXPECT_EQ(v, kSentinel);
  // A zero-row view writes nothing either.
  WeightMatrix none = c->w.row_slice(2, 0);
  matmul(none, x.data(), 1, y.data(), pools().p3);
  for (float v : y) EXPECT_EQ(v, kSentinel);
}

}  // namespace
}  // namespace baleen
