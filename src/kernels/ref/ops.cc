#include "kernels/ref/ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace baleen {

void rms_norm_ref(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void softmax_ref(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float silu_ref(float x) { return x / (1.0f + std::exp(-x)); }

void swiglu_ref(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu_ref(gate[i]) * up[i];
}

void rope_ref(float* x, int64_t n_dims, int64_t pos, const float* inv_freq, RopeStyle style) {
  const int64_t half = n_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    // Angle in double: positions up to 10^5+ times frequencies near 1 need more than float's 24 bits.
    const double angle = static_cast<double>(pos) * static_cast<double>(inv_freq[i]);
    const auto c = static_cast<float>(std::cos(angle));
    const auto s = static_cast<float>(std::sin(angle));
    float* a = style == RopeStyle::kAdjacentPairs ? &x[2 * i] : &x[i];
    float* b = style == RopeStyle::kAdjacentPairs ? &x[2 * i + 1] : &x[i + half];
    const float x0 = *a, x1 = *b;
    *a = x0 * c - x1 * s;
    *b = x0 * s + x1 * c;
  }
}

void rope_cos_sin(int64_t n_dims, int64_t pos, const float* inv_freq, float* cs) {
  const int64_t half = n_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(pos) * static_cast<double>(inv_freq[i]);  // as in rope_ref
    cs[i] = static_cast<float>(std::cos(angle));
    cs[half + i] = static_cast<float>(std::sin(angle));
  }
}

void rope_apply(float* x, int64_t n_dims, const float* cs, RopeStyle style) {
  const int64_t half = n_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[i], s = cs[half + i];
    float* a = style == RopeStyle::kAdjacentPairs ? &x[2 * i] : &x[i];
    float* b = style == RopeStyle::kAdjacentPairs ? &x[2 * i + 1] : &x[i + half];
    const float x0 = *a, x1 = *b;
    *a = x0 * c - x1 * s;
    *b = x0 * s + x1 * c;
  }
}

std::vector<float> rope_inv_freq(int64_t n_dims, double theta) {
  std::vector<float> f(static_cast<size_t>(n_dims / 2));
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    f[i] = static_cast<float>(std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(n_dims)));
  }
  return f;
}

std::vector<float> yarn_inv_freq(int64_t n_dims, double theta, double factor, double original_ctx, double beta_fast,
                                 double beta_slow) {
  // deepseek-spec 3.3 (DeepSeek-V3 inference/model.py precompute_freqs_cis).
  const double d = static_cast<double>(n_dims);
  auto corr = [&](double r) {
    return d * std::log(original_ctx / (2.0 * std::numbers::pi * r)) / (2.0 * std::log(theta));
  };
  double low = std::max(std::floor(corr(beta_fast)), 0.0);
  double high = std::min(std::ceil(corr(beta_slow)), d - 1.0);
  if (low == high) high += 0.001;
  std::vector<float> f(static_cast<size_t>(n_dims / 2));
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const double base = std::pow(theta, -2.0 * static_cast<double>(i) / d);
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    f[i] = static_cast<float>(base * (1.0 - ramp) + base / factor * ramp);
  }
  return f;
}

std::vector<float> llama3_inv_freq(int64_t n_dims, double theta, double factor, double low_freq_factor,
                                   double high_freq_factor, double original_ctx) {
  // Llama 3.1 rope scaling (transformers `_compute_llama3_parameters`).
  const double low_freq_wavelen = original_ctx / low_freq_factor;
  const double high_freq_wavelen = original_ctx / high_freq_factor;
  std::vector<float> f(static_cast<size_t>(n_dims / 2));
  for (int64_t i = 0; i < n_dims / 2; ++i) {
    const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(n_dims));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double out = freq;
    if (wavelen > low_freq_wavelen) {
      out = freq / factor;
    } else if (wavelen >= high_freq_wavelen) {
      const double smooth = (original_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      out = (1.0 - smooth) * freq / factor + smooth * freq;
    }
    f[i] = static_cast<float>(out);
  }
  return f;
}

double yarn_mscale(double factor, double m) { return factor <= 1.0 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; }

}  // namespace baleen
