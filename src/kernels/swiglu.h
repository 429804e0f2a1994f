// SwiGLU activation of the FFNs: out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
// `swiglu` runs the AVX-512 kernel (kernels/x86/swiglu_avx512.cc: exp by range reduction to
// |r| <= ln2/2 and a degree-7 polynomial, then 2^n by vscalefps; within 2 ulp of expf) when
// dispatch_level() is kAvx512, else swiglu_ref (kernels/ref/ops.h, libm expf). Elementwise, so a
// row's result never depends on what else is in the call (batch invariance).
#pragma once

#include <cstdint>

namespace baleen {

// out may alias gate or up.
void swiglu(const float* gate, const float* up, int64_t n, float* out);

// The AVX-512 kernel; call only when the CPU has AVX-512F.
void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out);

}  // namespace baleen
