// RMS normalisation of the models' norms: out[i] = x[i] * inv * weight[i] with
// inv = float(1 / sqrt(sum(x^2) / n + eps)), the sum of squares taken in double. `rms_norm` runs the
// AVX-512 kernel (kernels/x86/rms_norm_avx512.cc: 8-lane double partial sums, so the sum's rounding
// differs from the sequential one of rms_norm_ref by ~1e-16 relative, and inv by at most 1 float
// ulp) when dispatch_level() is kAvx512, else rms_norm_ref (kernels/ref/ops.h). Every caller goes
// through here, so a row's result never depends on the path that normalised another.
#pragma once

#include <cstdint>

namespace baleen {

// out may alias x.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// The AVX-512 kernel; call only when the CPU has AVX-512F.
void rms_norm_avx512(const float* x, const float* weight, int64_t n, float eps, float* out);

}  // namespace baleen
