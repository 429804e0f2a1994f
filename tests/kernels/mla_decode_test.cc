// kernels/mla_decode.h: mla_decode_heads (the AVX-512 8-head kernel at level avx512 when the shape
// allows it, the per-head float loop otherwise) against mla_decode_heads_ref (double accumulation)
// by normalised MSE over every head's output, at every dispatch level this CPU runs, for context
// lengths around the kernel's steps (odd, multiples of 16 and not), MLA shapes of DeepSeek-V2
// (512 + 64) and small ones, and large scores (softmax range). The reference itself is checked
// against softmax written out by hand for one head and two positions.
#include "kernels/mla_decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "kernel_test_util.h"

namespace baleen {
namespace {

constexpr double kNmseMax = 1e-10;  // float sums of a few thousand terms against double

struct Case {
  const char* name;
  int64_t heads, rank, rope, n_ctx;
  float qscale;
};

void run_case(const Case& c, DispatchLevel level) {
  std::mt19937 rng(static_cast<uint32_t>(c.n_ctx * 31 + c.heads));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const int64_t W = c.rank + c.rope + 8;  // cache rows wider than used (as a stride)
  const int64_t qk = 128 + c.rope;        // q_pe inside a wider per-head query row
  std::vector<float> qa(static_cast<size_t>(c.heads * c.rank)), q(static_cast<size_t>(c.heads * qk));
  std::vector<float> cache(static_cast<size_t>(c.n_ctx * W));
  for (float& v : qa) v = uni(rng) * c.qscale;
  for (float& v : q) v = uni(rng) * c.qscale;
  for (float& v : cache) v = uni(rng);
  MlaDecodeArgs a;
  a.q_abs = qa.data();
  a.q_abs_stride = c.rank;
  a.q_pe = q.data() + 128;
  a.q_pe_stride = qk;
  a.cache = cache.data();
  a.cache_stride = W;
  a.n_ctx = c.n_ctx;
  a.kv_lora_rank = c.rank;
  a.rope_dim = c.rope;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.rank));
  std::vector<float> z(static_cast<size_t>(c.heads * c.rank + 16), 7.0f), ref(z.size(), 7.0f);
  a.z = ref.data();
  a.z_stride = c.rank;
  mla_decode_heads_ref(a, c.heads);
  a.z = z.data();
  std::vector<float> scratch(static_cast<size_t>(mla_decode_scratch_floats(c.heads, c.rank, c.rope, c.n_ctx)));
  mla_decode_heads(a, c.heads, scratch.data());
  const double e = kernel_test::nmse(z, ref, c.heads, c.rank, c.rank);
  std::printf("NMSE mla_decode %-22s level=%-6s %.2e\n", c.name, dispatch_level_name(level), e);
  EXPECT_LT(e, kNmseMax) << c.name << " " << dispatch_level_name(level);
  for (size_t i = static_cast<size_t>(c.heads * c.rank); i < z.size(); ++i) EXPECT_EQ(z[i], 7.0f) << "wrote past z";
}

TEST(MlaDecode, MatchesReference) {
  const DispatchLevel saved = dispatch_level();
  const Case cases[] = {
      {"v2 8h ctx=1", 8, 512, 64, 1, 1.0f},          {"v2 8h ctx=2", 8, 512, 64, 2, 1.0f},
      {"v2 8h ctx=17", 8, 512, 64, 17, 1.0f},        {"v2 8h ctx=64", 8, 512, 64, 64, 1.0f},
      {"v2 8h ctx=1001", 8, 512, 64, 1001, 1.0f},    {"small 8h ctx=33", 8, 64, 32, 33, 1.0f},
      {"v2 8h ctx=32", 8, 512, 64, 32, 1.0f},        {"v2 8h ctx=96", 8, 512, 64, 96, 2.0f},
      {"large scores ctx=40", 8, 512, 64, 40, 4.0f}, {"4h fallback ctx=30", 4, 512, 64, 30, 1.0f},
      {"rope 24 fallback", 8, 64, 24, 9, 1.0f},
  };
  for (DispatchLevel level : kernel_test::supported_levels()) {
    set_dispatch_level(level);
    for (const Case& c : cases) run_case(c, level);
  }
  set_dispatch_level(saved);
}

// Head 0 with q~ = (1, 0), q_pe = (0), two positions c_0 = (0, 1), c_1 = (2, 3) and scale 1: scores
// 0 and 2, p = (1, e^2) / (1 + e^2), z = p_0 c_0 + p_1 c_1.
TEST(MlaDecode, ReferenceMatchesFormula) {
  const float qa[2] = {1.0f, 0.0f}, q_pe[1] = {0.0f};
  const float cache[6] = {0.0f, 1.0f, 0.0f, 2.0f, 3.0f, 0.0f};
  float z[2] = {0.0f, 0.0f};
  MlaDecodeArgs a;
  a.q_abs = qa;
  a.q_pe = q_pe;
  a.cache = cache;
  a.cache_stride = 3;
  a.n_ctx = 2;
  a.kv_lora_rank = 2;
  a.rope_dim = 1;
  a.scale = 1.0f;
  a.z = z;
  mla_decode_heads_ref(a, 1);
  const double p1 = std::exp(2.0) / (1.0 + std::exp(2.0)), p0 = 1.0 - p1;
  EXPECT_NEAR(z[0], p0 * 0.0 + p1 * 2.0, 1e-6);
  EXPECT_NEAR(z[1], p0 * 1.0 + p1 * 3.0, 1e-6);
}

}  // namespace
}  // namespace baleen
