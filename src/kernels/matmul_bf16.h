// Large-m matrix products (prefill) as a BF16 GEMM: y[m, rows] = x[m, cols] . W^T with x and W
// rounded to BF16 (8-bit mantissa, relative error <= 2^-9 each) and F32 accumulation. The
// activations are packed once (kernels/x86/gemm_bf16.h layout), weight rows are split across the
// pool in panels, each panel is dequantized once to BF16 (direct decoders for common GGML types,
// otherwise weight_row_to_f32) and multiplied with all m tokens by the AMX kernel (TDPBF16PS) when
// amx_available(), else the AVX-512 BF16 kernel (VDPBF16PS). kernels/matmul.cc calls it for
// m >= kMatmulBf16MinM when matmul_bf16_available(); matmul_ref is the reference.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

// Below this many activation rows the per-row SIMD kernels (exact F32 products) are used. On the
// AVX-512 BF16 host measured with bench/gemm_bench (gemm_m/ sweep, Q4_K 1408x2048) the GEMM is
// already ahead at m = 8 (1.3x) and 3.5x at m = 16; 32 is kept so products of up to 31 rows stay
// exact F32 (decode, short prompts, and the m = 17 cases of the exact matmul tests). Lowering it to
// 8 or 16 speeds up MoE experts with few routed tokens.
constexpr int64_t kMatmulBf16MinM = 32;

// True when dispatch_level() is kAvx512 (AVX-512 BF16; AMX is a further option inside) and the
// switch is on. The switch starts on unless env BALEEN_BF16_GEMM=0.
bool matmul_bf16_available();
// For tests and benchmarks; returns matmul_bf16_available().
bool set_matmul_bf16_enabled(bool enabled);

// Same contract as matmul (kernels/matmul.h). Only call when matmul_bf16_available().
void matmul_bf16(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride = 0,
                 int64_t y_stride = 0);

}  // namespace baleen
