// Kernel harness for the reference row operations (kernels/ref/ops.h): RMSNorm, softmax and SwiGLU
// against their formulas evaluated in long double here; RoPE (both layouts) against the explicit
// rotation of deepseek-spec 3.2 plus its invariants (norm preserved, scores depend only on the
// relative position); inverse frequencies, YaRN (spec 3.3), mscale / softmax scale (spec 3.4 and
// the conformance README's micro models) and Llama-3 scaling (README 6.2, and the rope_freqs.weight
// tensor of the llama-micro GGUF when the conformance data is present). Prints "NMSE ..." lines.
//
// Threshold for the element-wise ops, 1e-12: each output is a handful of correctly rounded float
// operations on the input (relative error a few units of 2^-24 ~ 6e-8 per element), so the NMSE
// against the exact value is ~1e-14; a wrong formula, a missing max-subtraction or a float-precision
// angle at large positions is 1e-6 or worse.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "kernels/ref/ops.h"
#include "testing.h"

namespace baleen {
namespace {

using ld = long double;
constexpr double kNmseMax = 1e-12;
const ld kPi = std::numbers::pi_v<long double>;

double nmse(const std::vector<float>& a, const std::vector<ld>& b) {
  ld num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const ld d = static_cast<ld>(a[i]) - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (std::isnan(static_cast<double>(num))) return std::numeric_limits<double>::infinity();
  return static_cast<double>(den > 0 ? num / den : num);
}

std::vector<float> random_vec(std::mt19937& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> uni(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = uni(rng);
  return v;
}

// ---- RMSNorm, softmax, SwiGLU -------------------------------------------------------------------

TEST(OpsRef, RmsNorm) {
  std::mt19937 rng(1);
  double worst = 0;
  struct Case {
    int64_t n;
    float scale, eps;
  };
  // Ordinary activations, large ones (sum of squares far beyond float's exact range) and tiny ones
  // (where eps dominates mean(x^2)).
  for (Case c : {Case{256, 1.0f, 1e-6f}, Case{7168, 30.0f, 1e-6f}, Case{1, 2.0f, 1e-5f}, Case{64, 1e-4f, 1e-6f},
                 Case{512, 1e3f, 1e-5f}}) {
    std::vector<float> x = random_vec(rng, c.n, -c.scale, c.scale);
    std::vector<float> w = random_vec(rng, c.n, 0.8f, 1.2f);
    ld ss = 0;
    for (float v : x) ss += static_cast<ld>(v) * v;
    const ld inv = 1.0L / std::sqrt(ss / c.n + static_cast<ld>(c.eps));
    std::vector<ld> expect(x.size());
    for (size_t i = 0; i < x.size(); ++i) expect[i] = x[i] * inv * w[i];
    std::vector<float> out(x.size());
    rms_norm_ref(x.data(), w.data(), c.n, c.eps, out.data());
    const double e = nmse(out, expect);
    EXPECT_LE(e, kNmseMax) << "n=" << c.n << " scale=" << c.scale;
    worst = std::max(worst, e);
    // In place (out aliases x) gives the same bits.
    std::vector<float> inplace = x;
    rms_norm_ref(inplace.data(), w.data(), c.n, c.eps, inplace.data());
    EXPECT_EQ(inplace, out);
  }
  std::printf("NMSE rms_norm_ref: %.2e\n", worst);
}

std::vector<ld> softmax_exact(const std::vector<float>& x) {
  ld mx = -std::numeric_limits<ld>::infinity();
  for (float v : x) mx = std::max(mx, static_cast<ld>(v));
  std::vector<ld> e(x.size());
  ld sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += e[i] = std::exp(static_cast<ld>(x[i]) - mx);
  for (ld& v : e) v /= sum;
  return e;
}

TEST(OpsRef, Softmax) {
  std::mt19937 rng(2);
  double worst = 0;
  std::vector<std::vector<float>> cases = {
      random_vec(rng, 1000, -10.0f, 10.0f),
      random_vec(rng, 4096, -3.0f, 3.0f),
      {0.5f},
      // Far beyond exp's float range: only correct if the maximum is subtracted first.
      {1000.0f, 999.0f, 998.5f, -1000.0f, 1000.0f},
      // Masked entries (causal mask) give exactly 0.
      {1.0f, -std::numeric_limits<float>::infinity(), 2.0f, -std::numeric_limits<float>::infinity()}};
  for (const auto& x : cases) {
    std::vector<float> y = x;
    softmax_ref(y.data(), static_cast<int64_t>(y.size()));
    const double e = nmse(y, softmax_exact(x));
    EXPECT_LE(e, kNmseMax) << "n=" << x.size();
    worst = std::max(worst, e);
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_TRUE(std::isfinite(y[i]) && y[i] >= 0.0f) << i;
      if (std::isinf(x[i])) {
        EXPECT_EQ(y[i], 0.0f);
      }
      sum += y[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  std::printf("NMSE softmax_ref: %.2e\n", worst);
}

TEST(OpsRef, Swiglu) {
  std::mt19937 rng(3);
  std::vector<float> gate = random_vec(rng, 3000, -30.0f, 30.0f);
  std::vector<float> up = random_vec(rng, 3000, -4.0f, 4.0f);
  // Saturated tails: silu(-100) ~ -100 e^-100, silu(100) = 100.
  gate.insert(gate.end(), {-100.0f, 100.0f, 0.0f, -1e-3f, 88.0f, -88.0f});
  up.insert(up.end(), {1.0f, 1.0f, 5.0f, 2.0f, -1.0f, 3.0f});
  const int64_t n = static_cast<int64_t>(gate.size());
  std::vector<ld> expect(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) {
    const ld g = gate[i];
    expect[i] = g / (1.0L + std::exp(-g)) * static_cast<ld>(up[i]);
  }
  std::vector<float> out(gate.size());
  swiglu_ref(gate.data(), up.data(), n, out.data());
  const double e = nmse(out, expect);
  EXPECT_LE(e, kNmseMax);
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
  // silu alone, element-wise relative error (not only on average).
  for (float g : {-20.0f, -2.5f, -0.1f, 0.0f, 0.3f, 1.0f, 7.0f}) {
    const ld ex = static_cast<ld>(g) / (1.0L + std::exp(-static_cast<ld>(g)));
    EXPECT_NEAR(silu_ref(g), static_cast<double>(ex), 4e-7 * std::fabs(static_cast<double>(ex)) + 1e-30) << g;
  }
  std::printf("NMSE swiglu_ref: %.2e\n", e);
}

// ---- RoPE ---------------------------------------------------------------------------------------

// deepseek-spec 3.2 rotation, in long double: pair i is (x[2i], x[2i+1]) for adjacent pairs and
// (x[i], x[i + d/2]) for halves; y_a = x_a cos - x_b sin, y_b = x_a sin + x_b cos, angle p * w_i.
std::vector<ld> rope_exact(const std::vector<float>& x, int64_t pos, const std::vector<float>& inv_freq,
                           RopeStyle style) {
  const size_t d = x.size(), half = d / 2;
  std::vector<ld> y(x.begin(), x.end());
  for (size_t i = 0; i < half; ++i) {
    const size_t a = style == RopeStyle::kAdjacentPairs ? 2 * i : i;
    const size_t b = style == RopeStyle::kAdjacentPairs ? 2 * i + 1 : i + half;
    const ld angle = static_cast<ld>(pos) * static_cast<ld>(inv_freq[i]);
    const ld c = std::cos(angle), s = std::sin(angle);
    y[a] = static_cast<ld>(x[a]) * c - static_cast<ld>(x[b]) * s;
    y[b] = static_cast<ld>(x[a]) * s + static_cast<ld>(x[b]) * c;
  }
  return y;
}

std::vector<float> rope(std::vector<float> x, int64_t pos, const std::vector<float>& inv_freq, RopeStyle style) {
  rope_ref(x.data(), static_cast<int64_t>(x.size()), pos, inv_freq.data(), style);
  return x;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

const char* style_name(RopeStyle s) { return s == RopeStyle::kAdjacentPairs ? "adjacent" : "halves"; }

TEST(OpsRef, RopeMatchesRotationFormulas) {
  std::mt19937 rng(4);
  const std::vector<std::vector<float>> freqs = {rope_inv_freq(64, 1e4), yarn_inv_freq(64, 1e4, 40, 4096, 32, 1),
                                                 rope_inv_freq(16, 1e4), rope_inv_freq(128, 5e5)};
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    double worst = 0;
    for (const auto& f : freqs) {
      const int64_t d = static_cast<int64_t>(f.size()) * 2;
      // Large positions: an angle formed in float (ulp(1e5) ~ 0.008 rad) would fail here.
      for (int64_t pos : {0, 1, 7, 4095, 65537, 163839}) {
        const std::vector<float> x = random_vec(rng, d, -2.0f, 2.0f);
        const double e = nmse(rope(x, pos, f, style), rope_exact(x, pos, f, style));
        EXPECT_LE(e, kNmseMax) << style_name(style) << " d=" << d << " pos=" << pos;
        worst = std::max(worst, e);
      }
    }
    std::printf("NMSE rope_ref %s: %.2e\n", style_name(style), worst);
  }
  // Position 0 is the identity, bit for bit.
  const std::vector<float> x = random_vec(rng, 64, -2.0f, 2.0f);
  EXPECT_EQ(rope(x, 0, freqs[0], RopeStyle::kAdjacentPairs), x);
  EXPECT_EQ(rope(x, 0, freqs[0], RopeStyle::kHalves), x);
}

TEST(OpsRef, RopeHalvesIsAdjacentUnderInterleavePermutation) {
  // Spec 3.2: HF's interleaved->half map [x0, x2, x4, ..., x1, x3, ...] turns the adjacent-pair
  // rotation into rotate-half. Same float operations, so the results agree exactly.
  std::mt19937 rng(5);
  const auto f = yarn_inv_freq(64, 1e4, 40, 4096, 32, 1);
  const int64_t d = 64;
  auto permute = [&](const std::vector<float>& v) {
    std::vector<float> p(v.size());
    for (int64_t i = 0; i < d / 2; ++i) {
      p[i] = v[2 * i];
      p[i + d / 2] = v[2 * i + 1];
    }
    return p;
  };
  for (int64_t pos : {3, 1000, 150000}) {
    const std::vector<float> x = random_vec(rng, d, -1.0f, 1.0f);
    EXPECT_EQ(rope(permute(x), pos, f, RopeStyle::kHalves), permute(rope(x, pos, f, RopeStyle::kAdjacentPairs))) << pos;
  }
}

TEST(OpsRef, RopeInvariants) {
  std::mt19937 rng(6);
  const auto f = yarn_inv_freq(64, 1e4, 40, 4096, 32, 1);
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    double worst_norm = 0, worst_rel = 0;
    for (int trial = 0; trial < 8; ++trial) {
      const std::vector<float> q = random_vec(rng, 64, -1.0f, 1.0f);
      const std::vector<float> k = random_vec(rng, 64, -1.0f, 1.0f);
      const double qn = std::sqrt(dot(q, q)), kn = std::sqrt(dot(k, k));
      // A rotation preserves the norm.
      for (int64_t pos : {1, 17, 4096, 100003}) {
        const auto y = rope(q, pos, f, style);
        const double rel = std::fabs(std::sqrt(dot(y, y)) - qn) / qn;
        EXPECT_LE(rel, 1e-6) << style_name(style) << " pos=" << pos;
        worst_norm = std::max(worst_norm, rel);
      }
      // <rope(q, p), rope(k, p')> depends only on p - p'.
      for (int64_t delta : {0, 1, 5, 300, 4097}) {
        const double base = dot(rope(q, delta, f, style), k);  // p' = 0: rope(k, 0) = k
        for (int64_t shift : {1, 2, 1000, 65536, 120000}) {
          const double s = dot(rope(q, shift + delta, f, style), rope(k, shift, f, style));
          const double rel = std::fabs(s - base) / (qn * kn);
          EXPECT_LE(rel, 1e-5) << style_name(style) << " delta=" << delta << " shift=" << shift;
          worst_rel = std::max(worst_rel, rel);
        }
      }
      // ... and does depend on it (the check above is not vacuous).
      EXPECT_GT(std::fabs(dot(rope(q, 3, f, style), k) - dot(q, k)), 1e-3 * qn * kn);
    }
    std::printf("rope_ref %s: worst relative norm change %.2e, worst relative-position defect %.2e\n",
                style_name(style), worst_norm, worst_rel);
  }
}

TEST(OpsRef, RopeTableStepsEqualRopeRefBitForBit) {
  // The model rotates every head of a row with one precomputed table (rope_cos_sin + rope_apply);
  // that must be rope_ref exactly, so the split changes no logit.
  std::mt19937 rng(6);
  const std::vector<std::vector<float>> freqs = {rope_inv_freq(64, 1e4), yarn_inv_freq(64, 1e4, 40, 4096, 32, 1),
                                                 rope_inv_freq(128, 5e5)};
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    for (const auto& f : freqs) {
      const int64_t d = static_cast<int64_t>(f.size()) * 2;
      for (int64_t pos : {int64_t{0}, int64_t{1}, int64_t{37}, int64_t{4095}, int64_t{163839}}) {
        const std::vector<float> x = random_vec(rng, d, -2.0f, 2.0f);
        std::vector<float> cs(static_cast<size_t>(d)), y = x;
        rope_cos_sin(d, pos, f.data(), cs.data());
        rope_apply(y.data(), d, cs.data(), style);
        EXPECT_EQ(y, rope(x, pos, f, style)) << style_name(style) << " d " << d << " pos " << pos;
      }
    }
  }
}

// ---- Frequencies and scales -----------------------------------------------------------------------

// |a - b| <= tol * |b|.
::testing::AssertionResult rel_near(double a, double b, double tol) {
  if (std::fabs(a - b) <= tol * std::fabs(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << b << " (relative " << std::fabs(a - b) / std::fabs(b) << " > "
                                       << tol << ")";
}

constexpr double kFloatUlp = 1.0 / (1 << 23);  // one float ulp, relative

ld base_freq(int64_t i, int64_t d, ld theta) { return std::pow(theta, -2.0L * i / d); }

TEST(OpsRef, RopeInvFreq) {
  for (auto [d, theta] : {std::pair<int64_t, double>{64, 1e4}, {128, 5e5}, {16, 1e4}, {64, 1e6}}) {
    const auto f = rope_inv_freq(d, theta);
    ASSERT_EQ(static_cast<int64_t>(f.size()), d / 2);
    EXPECT_EQ(f[0], 1.0f);
    for (int64_t i = 0; i < d / 2; ++i)
      EXPECT_TRUE(rel_near(f[i], static_cast<double>(base_freq(i, d, theta)), kFloatUlp)) << "d=" << d << " i=" << i;
  }
}

TEST(OpsRef, YarnInvFreqV3) {
  // deepseek-spec 3.3 with V3 numbers: d = 64, theta = 1e4, s = 40, L0 = 4096, beta 32 / 1.
  const int64_t d = 64;
  const ld theta = 1e4L, s = 40.0L;
  // The correction dimensions, recomputed here: corr(r) = d ln(L0 / (2 pi r)) / (2 ln theta).
  auto corr = [&](ld r) { return d * std::log(4096.0L / (2 * kPi * r)) / (2 * std::log(theta)); };
  EXPECT_NEAR(static_cast<double>(corr(32)), 10.47, 0.005);
  EXPECT_NEAR(static_cast<double>(corr(1)), 22.51, 0.005);
  const int low = 10, high = 23;  // floor(10.47), ceil(22.51): the values the spec states
  const auto f = yarn_inv_freq(d, 1e4, 40, 4096, 32, 1);
  ASSERT_EQ(f.size(), 32u);
  for (int i = 0; i < 32; ++i) {
    const ld b = base_freq(i, d, theta);
    if (i < low) {
      EXPECT_TRUE(rel_near(f[i], static_cast<double>(b), kFloatUlp)) << "unchanged at i=" << i;
    } else if (i >= high) {
      EXPECT_TRUE(rel_near(f[i], static_cast<double>(b / s), kFloatUlp)) << "divided by 40 at i=" << i;
    } else {
      // Linear ramp: the fraction of the way from w_i to w_i / s is (i - low) / (high - low).
      const ld ramp = (b - static_cast<ld>(f[i])) / (b - b / s);
      EXPECT_NEAR(static_cast<double>(ramp), static_cast<double>(i - low) / (high - low), 1e-5) << "ramp at i=" << i;
      const ld expect = b * (1 - static_cast<ld>(i - low) / (high - low)) + b / s * (i - low) / (high - low);
      EXPECT_TRUE(rel_near(f[i], static_cast<double>(expect), kFloatUlp)) << "i=" << i;
    }
  }
}

TEST(OpsRef, YarnMscaleAndSoftmaxScale) {
  // deepseek-spec 3.4 table: softmax_scale = 192^-0.5 * mscale(40, m)^2.
  EXPECT_NEAR(yarn_mscale(40, 1.0), 1.368888, 5e-7);
  EXPECT_NEAR(yarn_mscale(40, 0.707), 1.260804, 5e-7);
  EXPECT_NEAR(std::pow(yarn_mscale(40, 1.0), 2) / std::sqrt(192.0), 0.135234, 5e-7);
  EXPECT_NEAR(std::pow(yarn_mscale(40, 0.707), 2) / std::sqrt(192.0), 0.114721, 5e-7);
  // Conformance README 6.1, micro models (d_qk = 32 + 16 = 48).
  EXPECT_NEAR(std::pow(yarn_mscale(40, 0.707), 2) / std::sqrt(48.0), 0.229443, 5e-7);
  EXPECT_NEAR(std::pow(yarn_mscale(40, 1.0), 2) / std::sqrt(48.0), 0.270468, 5e-7);
  // No scaling: mscale is 1.
  EXPECT_EQ(yarn_mscale(1.0, 1.0), 1.0);
  EXPECT_EQ(yarn_mscale(0.5, 0.707), 1.0);
}

// Conformance README 6.2: rope_freqs.weight holds inv_freq_i / factor_i style factors of 1 for
// i < 15, 1.553, 2.695, 5.257 for i = 15..17 and 8 above (factor 8, low 1, high 4, original 8192,
// theta 5e5, d 64).
TEST(OpsRef, Llama3InvFreq) {
  const auto f = llama3_inv_freq(64, 5e5, 8, 1, 4, 8192);
  ASSERT_EQ(f.size(), 32u);
  for (int i = 0; i < 32; ++i) {
    const double factor = i < 15 ? 1.0 : i == 15 ? 1.553 : i == 16 ? 2.695 : i == 17 ? 5.257 : 8.0;
    EXPECT_TRUE(rel_near(f[i], static_cast<double>(base_freq(i, 64, 5e5L)) / factor, 1e-3)) << "i=" << i;
  }
}

TEST(OpsRef, Llama3InvFreqMatchesLlamaMicroGguf) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto g = GgufFile::open(testing::conformance_path("models/micro/llama-micro/llama-micro-f32.gguf"));
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  const GgufTensorInfo* t = g->find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, GgmlType::kF32);
  ASSERT_EQ(t->n_elements, 32u);
  double theta = 5e5;
  if (auto fb = g->get_number("llama.rope.freq_base"); fb.ok()) theta = *fb;
  EXPECT_EQ(theta, 5e5);
  std::vector<float> factors(32);
  std::memcpy(factors.data(), t->data, 32 * sizeof(float));
  const auto f = llama3_inv_freq(64, theta, 8, 1, 4, 8192);
  double worst = 0;
  for (int i = 0; i < 32; ++i) {
    const double expect = static_cast<double>(base_freq(i, 64, theta)) / factors[i];
    EXPECT_TRUE(rel_near(f[i], expect, 1e-5)) << "i=" << i << " factor " << factors[i];
    worst = std::max(worst, std::fabs(f[i] - expect) / expect);
  }
  std::printf("llama3_inv_freq vs llama-micro rope_freqs.weight: worst relative error %.2e\n", worst);
}

}  // namespace
}  // namespace baleen
