// Matrix products of F32 activations with weights in any stored format (tensor/weight.h):
// y[m, rows] = x[m, cols] . W^T, F32 accumulation. `matmul` is the multithreaded path the model
// uses (weights are read from their blocks a row at a time, never expanded to a full copy): it runs
// the SIMD row-dot kernel for the weight's format at the current dispatch level (kernels/x86/,
// core/cpu_features.h) and otherwise dequantizes each row to F32 and dots it.
// `matmul_ref` is the scalar reference (double accumulators) the tests compare against.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

// x: [m, w.cols] row-major with row stride x_stride (elements; 0 = w.cols).
// y: [m, w.rows] row-major with row stride y_stride (elements; 0 = w.rows). y is overwritten.
void matmul(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride = 0,
            int64_t y_stride = 0);
void matmul_ref(const WeightMatrix& w, const float* x, int64_t m, float* y, int64_t x_stride = 0,
                int64_t y_stride = 0);

}  // namespace baleen
