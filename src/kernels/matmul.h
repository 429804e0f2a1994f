// Matrix products of F32 activations with weights in any stored format (tensor/weight.h):
// y[m, rows] = x[m, cols] . W^T, F32 accumulation. `matmul` is the multithreaded path the model
// uses (weights are read from their blocks a row at a time, never expanded to a full copy): it runs
// the SIMD row-dot kernel for the weight's format at the current dispatch level (kernels/x86/,
// core/cpu_features.h) and otherwise dequantizes each row to F32 and dots it.
// `matmul_ref` is the scalar reference (double accumulators) the tests compare against.
//
// Quantized weights (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K) take the integer-activation path
// (kernels/matmul_q8.h) at every m, as llama.cpp does: x is quantized to
// 8 bits per block (scale amax/127), which changes results versus matmul_ref by the activation
// rounding (NMSE ~1e-5, measured per type in tests/kernels/matmul_q8_test.cc). To force the exact
// F32 path (tests, debugging): env BALEEN_ACT_Q8=0 (read once, on first use) or
// set_matmul_act_q8(false). On the integer path each output is bit-identical whatever m is and
// whichever kernel runs (batch invariance: a token's logits do not depend on what else is batched).
// With the switch off: the BF16 GEMM for m >= kMatmulBf16MinM, the F32 row dot otherwise.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

// x: [m, w.cols] row-major with row stride x_stride (elements; 0 = w.cols).
// y: [m, w.rows] row-major with row stride y_stride (elements; 0 = w.rows). y is overwritten.
void matmul(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride = 0,
            int64_t y_stride = 0);
// Whether matmul may use the integer-activation path (default on; BALEEN_ACT_Q8=0 turns it off).
bool matmul_act_q8_enabled();
// Turns it on/off for the whole process; returns the previous setting. For tests and benchmarks:
// do not flip it while matmuls run on other threads if you need consistent results.
bool set_matmul_act_q8(bool on);

void matmul_ref(const WeightMatrix& w, const float* x, int64_t m, float* y, int64_t x_stride = 0, int64_t y_stride = 0);

}  // namespace baleen
