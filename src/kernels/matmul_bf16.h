// Matrix products on BF16 weights (and, for tests/benchmarks, other formats) as a BF16 GEMM: y[m, rows] = x[m, cols] .
// W^T with x and W rounded to BF16 (8-bit mantissa, relative error <= 2^-9 each) and F32 accumulation. The activations
// are packed once (kernels/x86/gemm_bf16.h layout), weight rows are split across the pool in panels, each panel is
// dequantized once to BF16 (direct decoders for common GGML types, otherwise weight_row_to_f32) and multiplied with all
// m tokens by the AMX kernel (TDPBF16PS) when amx_available(), else the AVX-512 BF16 kernel (VDPBF16PS), or for few
// tokens on BF16 weights without AMX by the small-m kernel that gives the same bits. Batch invariance: a token's row of
// y is the same bits whatever m, the other tokens, the strides or the thread count (each (row, token) accumulator sees
// the same operations in the same order on every path taken for a given AMX setting). kernels/matmul.cc calls it for
// BF16 weights at every m when matmul_bf16_available(); matmul_ref is the reference.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

// Up to this many tokens, BF16 weights without AMX take the small-m kernel (gemv_bf16_avx512: weight
// rows read in place, 16 rows per vector); above, the panel GEMM. Both give the same bits for a
// given (row, token), so this is a speed choice only. bench/matmul_bench (BF16 4096 x 4096, one
// thread, AVX-512 BF16 host) had the small-m kernel ahead up to m = 8 (1.5x at m = 2..8) and the
// GEMM ahead from m = 12 (1.2x, 1.7x at m = 16).
constexpr int64_t kMatmulBf16GemvMaxM = 8;

// True when dispatch_level() is kAvx512 (AVX-512 BF16; AMX is a further option inside) and the
// switch is on. The switch starts off (exact F32 path for BF16 weights) unless env BALEEN_BF16_GEMM=1.
bool matmul_bf16_available();
// For tests and benchmarks; returns matmul_bf16_available().
bool set_matmul_bf16_enabled(bool enabled);

// Same contract as matmul (kernels/matmul.h). Only call when matmul_bf16_available().
void matmul_bf16(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride = 0,
                 int64_t y_stride = 0);

}  // namespace baleen
