// Kernel harness for the SIMD dispatch (core/cpu_features.h, kernels/x86/): for every dispatch
// level this CPU supports (forced with set_dispatch_level), every weight type with a fast row-dot
// kernel, m = 1, 3, 4, 5, 17 (the kernels take activation rows 4 at a time, so these hit every
// remainder) and several row lengths, `matmul` is compared with `matmul_ref` by normalised MSE.
// Prints one "NMSE matmul <type> <level> m=<m>: <value>" line per case.
//
// Threshold 1e-10, why: the fast kernels decode each block to exactly the float weights the
// reference dequantizer produces (same float operations, same order, no FMA contraction in the
// decode) and multiply them by the same float activations; each product is rounded once in F32.
// The only difference from matmul_ref is F32 accumulation in a different order versus a double
// sum, whose error is ~ u * sqrt(n) relative (u = 2^-24): NMSE ~ u^2 * n ~ 1e-12 for n ~ 1000.
// A wrong nibble, scale, bit plane or tail element gives 1e-6 or far more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "kernels/x86/row_dot.h"
#include "tensor/dtype.h"
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
constexpr float kSentinel = 12345.0f;

using kernel_test::nmse;
using kernel_test::supported_levels;
ThreadPool& pool() { return kernel_test::shared_pool(); }

// Restores the best level after each test so test order does not matter.
class DispatchTest : public ::testing::Test {
 protected:
  void TearDown() override { set_dispatch_level(DispatchLevel::kAvx512); }
};

struct Weights {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  WeightMatrix w;
};

// GGML weights quantized from uniform [-1, 1) values; rows padded by 8 bytes of 0xFF.
Weights make_ggml(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  kernel_test::QuantizedWeights q = kernel_test::make_quantized(type, rows, cols, seed);
  Weights c;
  c.name = ggml_type_info(type).name;
  c.bytes = std::move(q.bytes);  // the vector's buffer moves with it: q.w.data stays valid
  c.w = q.w;
  return c;
}

// FP8 e4m3 codes (NaN codes excluded, subnormals included) with random block scales.
Weights make_fp8(int64_t rows, int64_t cols, int32_t block, uint32_t seed) {
  Weights c;
  c.name = "fp8_e4m3";
  std::mt19937 rng(seed);
  c.bytes.resize(static_cast<size_t>(rows * cols));
  for (uint8_t& b : c.bytes) {
    do b = static_cast<uint8_t>(rng());
    while ((b & 0x7F) == 0x7F);
  }
  const int64_t gr = (rows + block - 1) / block, gc = (cols + block - 1) / block;
  std::uniform_real_distribution<float> scale(1e-4f, 4e-3f);
  c.scales.resize(static_cast<size_t>(gr * gc));
  for (float& s : c.scales) s = scale(rng);
  c.w.format = WeightFormat::kFp8E4M3Block;
  c.w.rows = rows;
  c.w.cols = cols;
  c.w.data = c.bytes.data();
  c.w.row_stride = static_cast<uint64_t>(cols);
  c.w.scale_inv = c.scales.data();
  c.w.scale_cols = gc;
  c.w.block_rows = block;
  c.w.block_cols = block;
  return c;
}

// Every supported level and m on one matrix; x rows are padded with NaN (a read past cols poisons
// the result) and y rows with a sentinel (a write outside the output rows is caught).
void check_all_levels(const Weights& c, bool expect_fast = true) {
  const WeightMatrix& w = c.w;
  std::mt19937 rng(static_cast<uint32_t>(w.rows * 31 + w.cols));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (DispatchLevel level : supported_levels()) {
    ASSERT_EQ(set_dispatch_level(level), level);
    if (expect_fast && level != DispatchLevel::kScalar) {
      EXPECT_NE(find_row_dot(w, level), nullptr) << c.name << " has no " << dispatch_level_name(level) << " kernel";
    }
    for (int64_t m : {1, 3, 4, 5, 17}) {
      const int64_t xs = w.cols + 3, ys = w.rows + 2;
      std::vector<float> x(static_cast<size_t>(m * xs), std::numeric_limits<float>::quiet_NaN());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < w.cols; ++k) x[i * xs + k] = uni(rng);
      std::vector<float> y_ref(static_cast<size_t>(m * ys), kSentinel), y(y_ref.size(), kSentinel);
      matmul_ref(w, x.data(), m, y_ref.data(), xs, ys);
      matmul(w, x.data(), m, y.data(), pool(), xs, ys);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = w.rows; j < ys; ++j) ASSERT_EQ(y[i * ys + j], kSentinel) << "write outside rows";
      const double e = nmse(y, y_ref, m, w.rows, ys);
      std::printf("NMSE matmul %s %lldx%lld %s m=%lld: %.2e\n", c.name.c_str(), static_cast<long long>(w.rows),
                  static_cast<long long>(w.cols), dispatch_level_name(level), static_cast<long long>(m), e);
      EXPECT_LE(e, kNmseMax) << c.name << " " << w.rows << "x" << w.cols << " " << dispatch_level_name(level)
                             << " m=" << m;
    }
  }
}

TEST_F(DispatchTest, PerElementTypesOddSizes) {
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16}) {
    for (int64_t cols : {203, 5, 16, 31, 256, 1000}) {
      check_all_levels(make_ggml(t, 37, cols, 11u + static_cast<uint32_t>(cols)));
    }
  }
}

TEST_F(DispatchTest, LegacyQuants) {
  // Multiples of the 32-element block that are not multiples of 256.
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (int64_t cols : {32, 96, 288, 512}) check_all_levels(make_ggml(t, 37, cols, 21u + static_cast<uint32_t>(cols)));
  }
}

TEST_F(DispatchTest, KQuants) {
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    for (int64_t cols : {256, 768}) check_all_levels(make_ggml(t, 37, cols, 31u + static_cast<uint32_t>(cols)));
  }
}

TEST_F(DispatchTest, Fp8Blocks) {
  // 200 x 300 with 128 x 128 blocks: partial edge tiles, a tail of 44 columns per row.
  Weights c = make_fp8(200, 300, 128, 41u);
  check_all_levels(c);
  // A view starting inside the block grid (row_offset 70).
  Weights v = c;
  v.name = "fp8_e4m3 rows[70,+100)";
  v.w = c.w.row_slice(70, 100);
  check_all_levels(v);
  // Block width not a multiple of the vector width.
  check_all_levels(make_fp8(50, 90, 40, 42u));
}

TEST_F(DispatchTest, UnsupportedTypesFallBack) {
  // No fast kernel for Q4_1: matmul must take the dequantize-row path at every level.
  Weights c = make_ggml(GgmlType::kQ4_1, 9, 64, 5u);
  for (DispatchLevel level : supported_levels()) EXPECT_EQ(find_row_dot(c.w, level), nullptr);
  check_all_levels(c, /*expect_fast=*/false);
}

// Independent source: GCC's own CPU detection (libgcc's cpuid + xgetbv), not our code.
TEST(CpuFeatures, MatchesCompilerDetection) {
  __builtin_cpu_init();
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(f.avx2, static_cast<bool>(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(f.fma, static_cast<bool>(__builtin_cpu_supports("fma")));
  EXPECT_EQ(f.avx512f, static_cast<bool>(__builtin_cpu_supports("avx512f")));
  EXPECT_EQ(f.avx512bw, static_cast<bool>(__builtin_cpu_supports("avx512bw")));
  EXPECT_EQ(f.avx512vl, static_cast<bool>(__builtin_cpu_supports("avx512vl")));
  EXPECT_EQ(f.avx512vnni, static_cast<bool>(__builtin_cpu_supports("avx512vnni")));
  EXPECT_EQ(f.avx512bf16, static_cast<bool>(__builtin_cpu_supports("avx512bf16")));
  const bool avx2_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f.f16c;
  const bool avx512_ok = avx2_ok && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                         __builtin_cpu_supports("avx512bf16");
  const DispatchLevel expect = avx512_ok ? DispatchLevel::kAvx512
                               : avx2_ok ? DispatchLevel::kAvx2
                                         : DispatchLevel::kScalar;
  EXPECT_EQ(max_dispatch_level(f), expect);
  std::printf("CPU dispatch level: %s\n", dispatch_level_name(expect));
  // Without BALEEN_DISPATCH in the environment the startup level is the best one.
  if (std::getenv("BALEEN_DISPATCH") == nullptr) {
    EXPECT_EQ(dispatch_level(), expect);
  }
}

TEST_F(DispatchTest, ForcingALevelClamps) {
  CpuFeatures none;
  EXPECT_EQ(clamp_dispatch_level(DispatchLevel::kAvx512, none), DispatchLevel::kScalar);
  CpuFeatures avx2_only;
  avx2_only.avx = avx2_only.avx2 = avx2_only.fma = avx2_only.f16c = true;
  EXPECT_EQ(clamp_dispatch_level(DispatchLevel::kAvx512, avx2_only), DispatchLevel::kAvx2);
  EXPECT_EQ(clamp_dispatch_level(DispatchLevel::kScalar, avx2_only), DispatchLevel::kScalar);
  // AVX-512F without BF16 (e.g. Skylake-SP) is not enough for the avx512 files' flags.
  CpuFeatures skx = avx2_only;
  skx.avx512f = skx.avx512bw = skx.avx512vl = true;
  EXPECT_EQ(clamp_dispatch_level(DispatchLevel::kAvx512, skx), DispatchLevel::kAvx2);
  CpuFeatures full = skx;
  full.avx512vnni = full.avx512bf16 = true;
  EXPECT_EQ(clamp_dispatch_level(DispatchLevel::kAvx512, full), DispatchLevel::kAvx512);
  // On this CPU: forcing avx512 gives at most what it has.
  const DispatchLevel best = max_dispatch_level(cpu_features());
  EXPECT_EQ(set_dispatch_level(DispatchLevel::kAvx512), best);
  EXPECT_EQ(dispatch_level(), best);
  EXPECT_EQ(set_dispatch_level(DispatchLevel::kScalar), DispatchLevel::kScalar);
  EXPECT_EQ(dispatch_level(), DispatchLevel::kScalar);
}

// avx512_split (AMD family 19h with AVX-512, i.e. Zen 4), against the kernel's /proc/cpuinfo.
TEST(CpuFeatures, SplitAvx512MatchesCpuinfo) {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) GTEST_SKIP() << "no /proc/cpuinfo";
  bool amd = false;
  int family = -1;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "vendor_id", 9) == 0) amd = std::strstr(line, "AuthenticAMD") != nullptr;
    if (std::strncmp(line, "cpu family", 10) == 0 && family < 0) {
      const char* colon = std::strchr(line, ':');
      if (colon != nullptr) family = std::atoi(colon + 1);
    }
  }
  std::fclose(f);
  EXPECT_EQ(cpu_features().avx512_split, cpu_features().avx512f && amd && family == 25)
      << "vendor AMD " << amd << ", family " << family;
}

TEST(CpuFeatures, ParsesLevelNames) {
  EXPECT_EQ(parse_dispatch_level("scalar"), DispatchLevel::kScalar);
  EXPECT_EQ(parse_dispatch_level("avx2"), DispatchLevel::kAvx2);
  EXPECT_EQ(parse_dispatch_level("avx512"), DispatchLevel::kAvx512);
  EXPECT_EQ(parse_dispatch_level("AVX2"), std::nullopt);
  EXPECT_EQ(parse_dispatch_level(""), std::nullopt);
  for (DispatchLevel l : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512})
    EXPECT_EQ(parse_dispatch_level(dispatch_level_name(l)), l);
}

// BALEEN_DISPATCH is read once at startup, so it is checked in a child process running this binary.
TEST(CpuFeatures, EnvironmentOverride) {
  if (const char* child = std::getenv("BALEEN_DISPATCH_TEST_CHILD"); child != nullptr) {
    std::printf("level=%s\n", dispatch_level_name(dispatch_level()));
    return;
  }
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(len, 0);
  self[len] = '\0';
  const DispatchLevel best = max_dispatch_level(cpu_features());
  for (DispatchLevel l : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512}) {
    const std::string cmd = std::string("BALEEN_DISPATCH_TEST_CHILD=1 BALEEN_DISPATCH=") + dispatch_level_name(l) +
                            " '" + self + "' --gtest_filter=CpuFeatures.EnvironmentOverride 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    EXPECT_EQ(pclose(p), 0) << out;
    const DispatchLevel expect = static_cast<int>(l) <= static_cast<int>(best) ? l : best;
    EXPECT_NE(out.find(std::string("level=") + dispatch_level_name(expect) + "\n"), std::string::npos)
        << "BALEEN_DISPATCH=" << dispatch_level_name(l) << " gave: " << out;
  }
}

}  // namespace
}  // namespace baleen
