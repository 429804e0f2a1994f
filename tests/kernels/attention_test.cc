// Causal prefill attention (kernels/attention.h): causal_attention (AVX-512 kernel at dispatch level
// avx512, the per-row reference otherwise) against causal_attention_ref, and the reference itself
// against a direct softmax formula on a tiny case. Shapes: DeepSeek-V2-Lite MLA prefill (16 heads,
// qk 192, v 128) with and without cached context (pos0), GQA (8 query heads on 2 kv heads),
// v_dim 48 (the one-vector P.V path), v_dim 20 (not a multiple of 16: reference fallback), n = 1,
// padded strides, 1-3 threads, and large scores (online-softmax rescaling). Outside-of-output
// writes are caught by sentinels. Prints one "NMSE attention ..." line per case.
//
// Tolerance 1e-9, why: the kernel computes in F32 what the reference computes in double. A score is
// a qk_dim-term F32 dot product (absolute error ~ 2^-24 * sqrt(qk_dim) * |terms| ~ 1e-6 for the
// magnitudes here, scale applied), which perturbs each softmax weight by that relative amount; the
// polynomial exp adds < 1e-7 relative and the F32 P.V sums ~ 2^-24 * sqrt(n). Relative errors
// ~ 1e-6 give NMSE ~ 1e-12; a real defect (wrong mask, kv head, stride, rescale) gives 1e-4 or more.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"

namespace baleen {
namespace {

constexpr double kNmseMax = 1e-9;
constexpr float kSentinel = 12345.0f;

struct Shape {
  const char* name;
  int64_t n_heads, n_kv_heads, qk_dim, v_dim, n, pos0;
  float q_mag;  // q values in [-q_mag, q_mag]
};

void run_case(const Shape& s, int threads) {
  const int64_t n_keys = s.pos0 + s.n;
  const int64_t qs = s.n_heads * s.qk_dim + 3, ks = s.n_kv_heads * s.qk_dim + 5, vs = s.n_kv_heads * s.v_dim + 7;
  const int64_t os = s.n_heads * s.v_dim + 2;
  std::mt19937 rng(static_cast<uint32_t>(s.n * 31 + s.qk_dim));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(s.n * qs)), k(static_cast<size_t>(n_keys * ks)),
      v(static_cast<size_t>(n_keys * vs));
  for (float& x : q) x = s.q_mag * uni(rng);
  for (float& x : k) x = uni(rng);
  for (float& x : v) x = uni(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.qk_dim));
  std::vector<float> ref(static_cast<size_t>(s.n * os), kSentinel), out(ref.size(), kSentinel);
  causal_attention_ref(q.data(), qs, k.data(), ks, v.data(), vs, s.n_heads, s.n_kv_heads, s.qk_dim, s.v_dim, s.n,
                       s.pos0, scale, ref.data(), os);
  ThreadPool pool(threads);
  causal_attention(q.data(), qs, k.data(), ks, v.data(), vs, s.n_heads, s.n_kv_heads, s.qk_dim, s.v_dim, s.n, s.pos0,
                   scale, out.data(), os, pool);
  double num = 0.0, den = 0.0;
  for (int64_t t = 0; t < s.n; ++t) {
    for (int64_t j = 0; j < os; ++j) {
      const float o = out[t * os + j], r = ref[t * os + j];
      if (j >= s.n_heads * s.v_dim) {
        ASSERT_EQ(o, kSentinel) << s.name << ": wrote outside the output rows";
        continue;
      }
      num += (static_cast<double>(o) - r) * (static_cast<double>(o) - r);
      den += static_cast<double>(r) * r;
    }
  }
  const double e = std::isnan(num) ? std::numeric_limits<double>::infinity() : num / den;
  std::printf("NMSE attention %-26s level=%-6s threads=%d  %.2e\n", s.name, dispatch_level_name(dispatch_level()),
              threads, e);
  EXPECT_LT(e, kNmseMax) << s.name;
}

TEST(CausalAttention, MatchesReference) {
  const Shape shapes[] = {
      {"mla 16h qk192 v128", 16, 16, 192, 128, 100, 0, 1.0f},
      {"mla cached pos0=37", 16, 16, 192, 128, 45, 37, 1.0f},
      {"gqa 8h/2kv qk64 v64", 8, 2, 64, 64, 70, 20, 1.0f},
      {"qk40 v48", 4, 4, 40, 48, 33, 0, 1.0f},
      {"v20 fallback", 3, 1, 24, 20, 19, 5, 1.0f},
      {"n=1 pos0=50", 4, 2, 32, 32, 1, 50, 1.0f},
      {"large scores", 2, 2, 64, 32, 80, 0, 8.0f},
      {"three row blocks pos0=13", 2, 1, 48, 32, 150, 13, 1.0f},
  };
  for (const Shape& s : shapes) {
    for (int threads : {1, 2, 3}) run_case(s, threads);
  }
}

// The reference against softmax written out by hand: one head, 2 query rows at positions 1 and 2.
TEST(CausalAttention, ReferenceMatchesFormula) {
  const float q[2] = {1.0f, -2.0f};          // qk_dim = 1
  const float k[3] = {0.5f, 1.0f, -1.0f};    // positions 0..2
  const float v[3] = {1.0f, 10.0f, 100.0f};  // v_dim = 1
  float out[2];
  causal_attention_ref(q, 1, k, 1, v, 1, 1, 1, 1, 1, 2, 1, 2.0f, out, 1);
  // Row 0 (position 1): scores 2 * 1 * {0.5, 1} = {1, 2}.
  const double e0 = std::exp(1.0), e1 = std::exp(2.0);
  EXPECT_NEAR(out[0], (e0 * 1 + e1 * 10) / (e0 + e1), 1e-5);
  // Row 1 (position 2): scores 2 * -2 * {0.5, 1, -1} = {-2, -4, 4}.
  const double f0 = std::exp(-2.0), f1 = std::exp(-4.0), f2 = std::exp(4.0);
  EXPECT_NEAR(out[1], (f0 * 1 + f1 * 10 + f2 * 100) / (f0 + f1 + f2), 1e-4);
}

}  // namespace
}  // namespace baleen
