// Scalar reference implementations of the element-wise and row operations of the forward pass
// (plain loops, double accumulators where it matters). The model calls these directly today;
// vectorised versions added later are tested against them by normalised MSE.
#pragma once

#include <cstdint>
#include <vector>

namespace baleen {

// Float dot product with 8 independent partial sums, so the compiler can vectorise it without
// reassociating one accumulator. Used by matmul's dequantize-row path and by attention.
inline float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]; out may alias x.
void rms_norm_ref(const float* x, const float* weight, int64_t n, float eps, float* out);
// In-place softmax over n values.
void softmax_ref(float* x, int64_t n);
// silu(x) = x / (1 + exp(-x)).
float silu_ref(float x);
// out[i] = silu(gate[i]) * up[i].
void swiglu_ref(const float* gate, const float* up, int64_t n, float* out);

// RoPE. `inv_freq` has n_dims/2 entries (angle of pair i at position p = p * inv_freq[i]).
// kAdjacentPairs rotates (x[2i], x[2i+1]) (GPT-J / llama.cpp "normal", DeepSeek's checkpoint
// layout); kHalves rotates (x[i], x[i + n/2]) (NeoX / HF rotate_half).
enum class RopeStyle { kAdjacentPairs, kHalves };
void rope_ref(float* x, int64_t n_dims, int64_t pos, const float* inv_freq, RopeStyle style);
// rope_ref in two steps, for callers that rotate many heads at one position: the cos / sin of
// every pair (cs[i] = cos, cs[n_dims / 2 + i] = sin; the very values rope_ref computes), then the
// rotation. rope_apply(x, rope_cos_sin(pos)) gives rope_ref's bits.
void rope_cos_sin(int64_t n_dims, int64_t pos, const float* inv_freq, float* cs);
void rope_apply(float* x, int64_t n_dims, const float* cs, RopeStyle style);

// Inverse frequencies theta^(-2i/d), i < d/2.
std::vector<float> rope_inv_freq(int64_t n_dims, double theta);
// YaRN (deepseek-spec 3.3): base frequencies blended towards freq/factor with the linear ramp
// between the correction dimensions of beta_fast and beta_slow.
std::vector<float> yarn_inv_freq(int64_t n_dims, double theta, double factor, double original_ctx, double beta_fast,
                                 double beta_slow);
// Llama-3 rope scaling (factor, low/high freq factors, original context).
std::vector<float> llama3_inv_freq(int64_t n_dims, double theta, double factor, double low_freq_factor,
                                   double high_freq_factor, double original_ctx);
// YaRN attention scale helper: 0.1 * m * ln(s) + 1 for s > 1, else 1.
double yarn_mscale(double factor, double m);

}  // namespace baleen
