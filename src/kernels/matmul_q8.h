// The integer-activation path of matmul (kernels/matmul.h) for quantized weights at any m: each
// activation row is quantized once per call to 8-bit blocks (kernels/ref/q8_act.h), then every
// weight row is dotted block by block in integer arithmetic (kernels/x86/q8_dot.h at the current
// dispatch level; the scalar reference at kScalar). Used by matmul for Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and
// Q6_K weights when matmul_act_q8_enabled() (see matmul.h). All kernels apply the block scales with
// the reference's float operations in its order, so y is bit-identical to matmul_q8_ref at every
// level and every m (batch invariance).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

// Whether m tokens times weights of this type take the integer GEMM (kernels/x86/q8_gemm.h): at the
// AVX-512 level, from 6 tokens for K-quants and 4 for 32-element blocks (9 and 5 with the split
// kernel variant, kernels/x86/q8_dot.h, except Q6_K); else the row-dot kernels.
// Either gives the same bits, this only picks the faster. The
// GEMM's time is nearly flat up to 16 tokens (one group), the row dots' grows with m. Measured
// (bench/gemm_bench gemm_m, 2 threads, ms, row dots at m / GEMM):
//   q4_K expert_up 1408x2048:   m=4 0.078 / 0.112, m=6 0.124 / 0.113, m=8 0.156 / 0.114 -> 6
//   q5_0 expert_down 2048x1408: m=3 0.108 / 0.116, m=4 0.157 / 0.117 -> 4
//   q8_0 expert_down 2048x1408: m=3 0.096 / 0.109, m=4 0.145 / 0.111 -> 4
// Those are wide AVX-512 cores (Zen 5). On split ones (Avx512Variant::kSplit, Zen 4) the GEMM's
// 16-token groups cost twice as much and the split row kernels take up to 4 activation rows per pass
// (2 VM cores, same bench):
//   q4_K expert_up:   m=8 0.143 / 0.175, m=10 0.185 / 0.228, m=12 0.226 / 0.192 -> 9
//   q5_0 expert_down: m=4 0.170 / 0.174, m=6 0.261 / 0.172                     -> 5
//   q8_0 expert_down: m=4 0.161 / 0.185, m=6 0.225 / 0.188                     -> 5
// (MoE prefill gives many experts this few tokens; batched decode gives the dense products m = B.)
// Intel takes the split kernels too (q8_dot.h), with their thresholds: on the Emerald Rapids VM,
// with AMX, V2-Lite batch 8 ran 26.9-27.0 t/s with these against 26.2-26.4 with 6 / 4 (the m = 8
// dense products on the AMX GEMM instead of two 4-row row-kernel calls); pp512 the same.
bool q8_gemm_takes(GgmlType type, int64_t m);

// Whether the integer path applies to w and m (ignores the on/off switch).
bool matmul_q8_applies(const WeightMatrix& w, int64_t m);

// y = x . W^T through the integer path, for w with an integer path (matmul_q8_applies(w, 1)) and
// any m >= 1. Strides in elements, not 0.
void matmul_q8(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride,
               int64_t y_stride);

// Scalar reference of matmul_q8 (quantize_act_q8_ref + dot_q8_ref per row, one thread).
void matmul_q8_ref(const WeightMatrix& w, const float* x, int64_t m, float* y, int64_t x_stride = 0,
                   int64_t y_stride = 0);

}  // namespace baleen
