// Integer-activation path of matmul (kernels/matmul_q8.h, kernels/x86/q8_dot.h,
// kernels/ref/q8_act.h): for every dispatch level this CPU supports (at AVX-512 both kernel variants,
// wide and split, whichever core this is) x Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K x m in {1, 2, 3, 4, 5, 8}
// x several row lengths (odd row counts, strided x and y):
//  1. the SIMD activation quantizer writes exactly the bytes of quantize_act_q8_ref;
//  2. matmul (integer path) vs matmul_q8_ref (scalar integer reference): bit-identical at every
//     level. Both compute the same integer block sums and apply the block scales with the same float
//     operations in the same order (one running sum, blocks in order, no FMA).
//  3. matmul (integer path) vs matmul_ref (exact F32 math on the stored weights), by NMSE against
//     a bound derived from the activation rounding: x is replaced by d * q with d = amax / 127 per
//     block of 32 or 256 elements, an error uniform in [-d/2, d/2] (variance d^2 / 12) independent
//     of the weights, so the expected NMSE of the outputs is
//       P = sum_i sum_blocks n_block * d_block^2 / 12 / sum_i sum_k x[i, k]^2
//     (weights uncorrelated with x). Bound: 3 * P (measured / P is 1.2..1.7 over these cases). For x uniform in [-1, 1)
//     P = (1/127)^2 / 12 / (1/3) = 1.55e-5; the test also puts an outlier (9.0) in one row and an all-zero block in
//     another, which raises P for short rows to ~6e-4. Measured values are printed as "NMSE q8 <type> ...".
// Also: the BALEEN_ACT_Q8 switch (set_matmul_act_q8(false) gives the exact path back, at any m).
// Batch invariance at larger m (the integer GEMM): matmul_q8_gemm_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/q8_act.h"
#include "kernels/ref/quantize.h"
#include "kernels/x86/q8_dot.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

using kernel_test::nmse;
using kernel_test::supported_levels;
using Weights = kernel_test::QuantizedWeights;
Weights make_weights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  return kernel_test::make_quantized(type, rows, cols, seed);
}
ThreadPool& pool() { return kernel_test::shared_pool(); }

constexpr double kNmseIntMax = 1e-10;      // SIMD integer path vs scalar integer reference
constexpr double kExactBoundFactor = 3.0;  // integer path vs exact F32 math: NMSE <= 3 P
constexpr float kSentinel = 12345.0f;

class Q8Test : public ::testing::Test {
 protected:
  void SetUp() override {
    set_matmul_act_q8(true);
    default_variant_ = avx512_variant();
  }
  void TearDown() override {
    set_dispatch_level(DispatchLevel::kAvx512);
    set_matmul_act_q8(true);
    set_avx512_variant(default_variant_);
  }
  Avx512Variant default_variant_ = Avx512Variant::kWide;
};

// (level, AVX-512 kernel variant) pairs to run: every supported level, AVX-512 with both variants
// (they give the same results on any AVX-512 core; only their speed depends on the core).
struct LevelVariant {
  DispatchLevel level;
  Avx512Variant variant;
  std::string name() const {
    return std::string(dispatch_level_name(level)) +
           (level == DispatchLevel::kAvx512 ? (variant == Avx512Variant::kSplit ? "/split" : "/wide") : "");
  }
};
std::vector<LevelVariant> levels_and_variants() {
  std::vector<LevelVariant> out;
  for (DispatchLevel level : supported_levels()) {
    out.push_back({level, Avx512Variant::kWide});
    if (level == DispatchLevel::kAvx512) out.push_back({level, Avx512Variant::kSplit});
  }
  return out;
}

const std::vector<GgmlType>& int_types() {
  static const std::vector<GgmlType> t = {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0,
                                          GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};
  return t;
}

// Row lengths: for the split kernels' 8-block (32-element) and 4-block (256-element) steps, a
// tail alone (1 to 7 blocks), whole steps, and whole steps plus a tail (1408: V2-Lite's expert
// down, 44 blocks; the one-token 512-bit step's even tails of 2, 4 and 6 blocks: 64, 192, 320,
// 448); 128 (MLA's attn_k_b rows): the split kernels' two-rows-per-step path at m = 1.
std::vector<int64_t> cols_for(GgmlType t) {
  if (act_q8_kind(t) == ActQ8Kind::kQ8_32) return {32, 64, 96, 128, 192, 288, 320, 416, 448, 480, 1024, 1408};
  return {256, 768, 1280, 1536, 2048};
}

using kernel_test::make_activations;

// P of the header comment for m rows of x (blocks of `block` elements).
double predicted_nmse(const std::vector<float>& x, int64_t m, int64_t cols, int64_t xs, int64_t block) {
  double err = 0.0, sig = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < cols; b += block) {
      double amax = 0.0;
      for (int64_t k = b; k < b + block; ++k) {
        amax = std::max(amax, std::fabs(static_cast<double>(x[i * xs + k])));
        sig += static_cast<double>(x[i * xs + k]) * x[i * xs + k];
      }
      const double d = amax / 127.0;
      err += static_cast<double>(block) * d * d / 12.0;
    }
  }
  return sig > 0.0 ? err / sig : 0.0;
}

TEST_F(Q8Test, SimdQuantizerMatchesReferenceBytes) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
  for (ActQ8Kind kind : {ActQ8Kind::kQ8_32, ActQ8Kind::kQ8_256}) {
    const GgmlType type = kind == ActQ8Kind::kQ8_32 ? GgmlType::kQ8_0 : GgmlType::kQ4_K;
    const int64_t cols = 1024;
    std::vector<float> x(cols);
    for (float& v : x) v = uni(rng);
    // Exact ties: amax 127 makes the scale 1, so k + 0.5 must round half to even.
    for (int k = 0; k < 16; ++k) x[k] = static_cast<float>(k - 8) + 0.5f;
    x[16] = 127.0f;
    std::fill(x.begin() + 512, x.begin() + 768, 0.0f);  // an all-zero block
    const int64_t bytes = act_q8_row_bytes(kind, cols);
    std::vector<uint8_t> ref(static_cast<size_t>(bytes)), got(static_cast<size_t>(bytes));
    quantize_act_q8_ref(kind, x.data(), cols, ref.data());
    // Ties to even in the reference.
    EXPECT_EQ(reinterpret_cast<const int8_t*>(ref.data() + (kind == ActQ8Kind::kQ8_32 ? 8 : 52))[0], -8);
    for (DispatchLevel level : supported_levels()) {
      if (level == DispatchLevel::kScalar) continue;
      const Q8Kernels k = find_q8_kernels(type, level);
      ASSERT_NE(k.quantize, nullptr) << dispatch_level_name(level);
      std::fill(got.begin(), got.end(), 0xAB);
      k.quantize(kind, x.data(), cols, got.data());
      EXPECT_EQ(std::memcmp(got.data(), ref.data(), ref.size()), 0)
          << "quantizer bytes differ at " << dispatch_level_name(level) << " kind " << static_cast<int>(kind);
    }
  }
}

TEST_F(Q8Test, AllTypesLevelsAndBatchSizes) {
  for (GgmlType type : int_types()) {
    const std::string tname_s(ggml_type_info(type).name);
    const char* tname = tname_s.c_str();
    for (int64_t cols : cols_for(type)) {
      const Weights c = make_weights(type, 37, cols, 100u + static_cast<uint32_t>(cols));
      const WeightMatrix& w = c.w;
      std::mt19937 rng(static_cast<uint32_t>(cols * 3 + 1));
      double worst_exact = 0.0, worst_ratio = 0.0;
      for (int64_t m : {1, 2, 3, 4, 5, 8}) {
        ASSERT_TRUE(matmul_q8_applies(w, m));
        const int64_t xs = w.cols + 3, ys = w.rows + 2;
        const std::vector<float> x = make_activations(m, w.cols, xs, rng);
        std::vector<float> y_ref(static_cast<size_t>(m * ys), kSentinel), y_q8ref(y_ref.size(), kSentinel);
        matmul_ref(w, x.data(), m, y_ref.data(), xs, ys);
        matmul_q8_ref(w, x.data(), m, y_q8ref.data(), xs, ys);
        const double p = predicted_nmse(x, m, w.cols, xs, act_q8_block_elems(act_q8_kind(type)));
        const double bound = kExactBoundFactor * p;
        const double e_exact_ref = nmse(y_q8ref, y_ref, m, w.rows, ys);
        EXPECT_LE(e_exact_ref, bound) << tname << " cols=" << cols << " m=" << m;
        worst_ratio = std::max(worst_ratio, e_exact_ref / p);
        for (const LevelVariant lv : levels_and_variants()) {
          const DispatchLevel level = lv.level;
          ASSERT_EQ(set_dispatch_level(level), level);
          set_avx512_variant(lv.variant);
          if (level != DispatchLevel::kScalar) {
            EXPECT_NE(find_q8_kernels(type, level).rows, nullptr) << tname << " " << lv.name();
          }
          std::vector<float> y(y_ref.size(), kSentinel);
          matmul(w, x.data(), m, y.data(), pool(), xs, ys);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = w.rows; j < ys; ++j) ASSERT_EQ(y[i * ys + j], kSentinel) << "write outside rows";
          const double e_int = nmse(y, y_q8ref, m, w.rows, ys);
          const double e_exact = nmse(y, y_ref, m, w.rows, ys);
          worst_exact = std::max(worst_exact, e_exact);
          EXPECT_EQ(e_int, 0.0) << tname << " cols=" << cols << " " << lv.name() << " m=" << m
                                << ": not bit-identical to matmul_q8_ref";
          EXPECT_LE(e_int, kNmseIntMax) << tname << " cols=" << cols << " " << lv.name() << " m=" << m
                                        << " vs matmul_q8_ref";
          EXPECT_LE(e_exact, bound) << tname << " cols=" << cols << " " << lv.name() << " m=" << m << " vs matmul_ref";
          std::printf("NMSE q8 %s %lldx%lld %s m=%lld: vs int ref %.2e, vs exact %.2e (predicted %.2e)\n", tname,
                      static_cast<long long>(w.rows), static_cast<long long>(w.cols), lv.name().c_str(),
                      static_cast<long long>(m), e_int, e_exact, p);
        }
      }
      std::printf("NMSE q8 %s cols=%lld worst vs exact: %.2e (worst measured / predicted %.2f)\n", tname,
                  static_cast<long long>(cols), worst_exact, worst_ratio);
    }
  }
}

// Rows of the x86 kernels called directly on a range in the middle of the matrix (the thread
// split): only [r0, r1) is written.
TEST_F(Q8Test, RowRangeWritesOnlyItsRows) {
  for (GgmlType type : int_types()) {
    const Weights c = make_weights(type, 29, 512, 7u);
    const ActQ8Kind kind = act_q8_kind(type);
    const int64_t m = 5, ab = act_q8_row_bytes(kind, 512);
    std::mt19937 rng(9);
    const std::vector<float> x = make_activations(m, 512, 512, rng);
    std::vector<uint8_t> act(static_cast<size_t>(ab * m));
    for (int64_t i = 0; i < m; ++i) quantize_act_q8_ref(kind, x.data() + i * 512, 512, act.data() + i * ab);
    std::vector<float> y_ref(static_cast<size_t>(m * 29));
    matmul_q8_ref(c.w, x.data(), m, y_ref.data());
    for (const LevelVariant lv : levels_and_variants()) {
      if (lv.level == DispatchLevel::kScalar) continue;
      set_avx512_variant(lv.variant);
      const Q8Kernels k = find_q8_kernels(type, lv.level);
      std::vector<float> y(y_ref.size(), kSentinel);
      k.rows(c.w, 7, 20, act.data(), ab, m, y.data(), 29);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < 29; ++r) {
          if (r < 7 || r >= 20) {
            EXPECT_EQ(y[i * 29 + r], kSentinel);
          } else {
            EXPECT_EQ(y[i * 29 + r], y_ref[i * 29 + r]);
          }
        }
      }
    }
  }
}

// A next-rows hint (kernels/x86/q8_dot.h: the rows the thread reads after this call, prefetched over
// its last passes) changes no output: every row range, long enough to reach the hinted passes or
// not, gives the same bits as without a hint, hinting at another matrix or at the range's own next
// rows, for one and several activation rows.
TEST_F(Q8Test, NextRowsHintChangesNoOutput) {
  for (GgmlType type : int_types()) {
    const Weights c = make_weights(type, 61, 512, 13u);
    const Weights other = make_weights(type, 40, 512, 17u);
    const ActQ8Kind kind = act_q8_kind(type);
    const int64_t ab = act_q8_row_bytes(kind, 512);
    std::mt19937 rng(21);
    const std::vector<float> x = make_activations(5, 512, 512, rng);
    std::vector<uint8_t> act(static_cast<size_t>(ab * 5));
    for (int64_t i = 0; i < 5; ++i) quantize_act_q8_ref(kind, x.data() + i * 512, 512, act.data() + i * ab);
    for (const LevelVariant lv : levels_and_variants()) {
      if (lv.level == DispatchLevel::kScalar) continue;
      set_avx512_variant(lv.variant);
      const Q8Kernels k = find_q8_kernels(type, lv.level);
      for (int64_t m : {1, 5}) {
        for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, 61}, {4, 9}, {8, 40}, {3, 60}}) {
          std::vector<float> want(static_cast<size_t>(m * 61), kSentinel);
          set_next_rows(NextRows{});
          k.rows(c.w, r0, r1, act.data(), ab, m, want.data(), 61);
          for (const NextRows hint :
               {NextRows{other.w.data, other.w.rows, static_cast<int64_t>(other.w.row_stride)},
                NextRows{c.w.data + r1 * c.w.row_stride, 61 - r1, static_cast<int64_t>(c.w.row_stride)}}) {
            std::vector<float> got(want.size(), kSentinel);
            set_next_rows(hint);
            k.rows(c.w, r0, r1, act.data(), ab, m, got.data(), 61);
            set_next_rows(NextRows{});
            EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
                << ggml_type_info(type).name << " " << lv.name() << " m " << m << " rows " << r0 << ".." << r1;
          }
        }
      }
    }
  }
}

// One activation row (decode): the AVX-512 kernels take rows in groups (wide Q4_K / Q5_K: 16 rows,
// split: 4 rows of every type, the last group padded) and the rest one at a time; row ranges with
// whole groups and none left over, with groups and a tail, and with only a tail (rows 53, scales and
// mins drawn per row by make_weights) must each be bit-identical to the scalar reference and write
// nothing outside their rows. Rows padded (a read past a row sees 0xFF) and back to back (the split
// kernels take 128-column rows two per step only then).
TEST_F(Q8Test, OneRowGroupsAndTails) {
  struct Range {
    int64_t r0, r1;
  };
  for (GgmlType type : int_types()) {
    for (int64_t cols : cols_for(type)) {
      for (const uint64_t pad : {uint64_t{8}, uint64_t{0}}) {
        const Weights c = kernel_test::make_quantized(type, 53, cols, 11u + static_cast<uint32_t>(cols), pad);
        const ActQ8Kind kind = act_q8_kind(type);
        const int64_t ab = act_q8_row_bytes(kind, cols);
        std::mt19937 rng(static_cast<uint32_t>(cols));
        const std::vector<float> x = make_activations(1, cols, cols, rng);
        std::vector<uint8_t> act(static_cast<size_t>(ab));
        quantize_act_q8_ref(kind, x.data(), cols, act.data());
        std::vector<float> y_ref(53);
        matmul_q8_ref(c.w, x.data(), 1, y_ref.data());
        for (const LevelVariant lv : levels_and_variants()) {
          if (lv.level == DispatchLevel::kScalar) continue;
          set_avx512_variant(lv.variant);
          const Q8Kernels k = find_q8_kernels(type, lv.level);
          for (const Range rg : {Range{3, 51}, Range{5, 40}, Range{0, 53}, Range{40, 53}, Range{10, 12}}) {
            std::vector<float> y(53, kSentinel);
            k.rows(c.w, rg.r0, rg.r1, act.data(), ab, 1, y.data(), 53);
            for (int64_t r = 0; r < 53; ++r) {
              if (r < rg.r0 || r >= rg.r1) {
                ASSERT_EQ(y[r], kSentinel) << ggml_type_info(type).name << " row " << r;
              } else {
                ASSERT_EQ(y[r], y_ref[r]) << ggml_type_info(type).name << " cols=" << cols << " pad=" << pad << " "
                                          << lv.name() << " rows [" << rg.r0 << ", " << rg.r1 << ") row " << r;
              }
            }
          }
        }
      }
    }
  }
}

TEST_F(Q8Test, SwitchGivesExactPathAtAnyM) {
  const Weights c = make_weights(GgmlType::kQ4_K, 21, 512, 3u);
  std::mt19937 rng(4);
  for (int64_t m : {int64_t{1}, int64_t{9}, int64_t{40}}) {
    const std::vector<float> x = make_activations(m, 512, 512, rng);
    std::vector<float> y_ref(static_cast<size_t>(m * 21)), y(y_ref.size());
    matmul_ref(c.w, x.data(), m, y_ref.data());
    EXPECT_TRUE(set_matmul_act_q8(false));
    EXPECT_FALSE(matmul_act_q8_enabled());
    matmul(c.w, x.data(), m, y.data(), pool());
    // The exact paths' bounds: F32 row dot 1e-10 (matmul_test.cc), BF16 GEMM (activations rounded
    // to bf16, ~2^-9 relative per product) well below the 8-bit activation rounding (~1e-5).
    EXPECT_LE(nmse(y, y_ref, m, 21, 21), m >= 32 ? 1e-4 : 1e-10) << "m=" << m;
    set_matmul_act_q8(true);
  }
  EXPECT_TRUE(matmul_q8_applies(c.w, 9));
  EXPECT_TRUE(matmul_q8_applies(c.w, 512));
  EXPECT_FALSE(matmul_q8_applies(c.w, 0));
  WeightMatrix f32 = c.w;
  f32.type = GgmlType::kF32;
  EXPECT_FALSE(matmul_q8_applies(f32, 1));
}

}  // namespace
}  // namespace baleen
