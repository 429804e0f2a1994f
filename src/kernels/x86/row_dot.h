// Fast row-dot kernels for the matrix product (kernels/matmul.cc): for one weight row r,
// y[i * y_stride] = dot(W[r, :], x[i * x_stride, :]) for i < m, computed straight from the
// stored blocks (each block is decoded in registers to the very same F32 values the reference
// dequantizer produces, then FMA'd with up to 4 activation rows at once; F32 accumulation).
// One variant per ISA (row_dot_avx2.cc, row_dot_avx512.cc, built with their own target flags);
// find_row_dot picks one for a dispatch level. The scalar reference is matmul_ref / kernels/ref.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "tensor/weight.h"

namespace baleen {

// w: the matrix; r: the row (0 <= r < w.rows); x: [m, w.cols] with row stride x_stride;
// y: &out[0, r], written at y[i * y_stride]. Thread-safe; reads nothing outside the row and x rows.
using RowDotFn = void (*)(const WeightMatrix& w, int64_t r, const float* x, int64_t x_stride, int64_t m, float* y,
                          int64_t y_stride);

// The kernel for w's format/type at `level`, or nullptr when that level has none (the caller then
// falls back to dequantize-row + dot). kScalar always returns nullptr.
RowDotFn find_row_dot(const WeightMatrix& w, DispatchLevel level);

// Per-ISA tables (nullptr when no kernel). Only call them when the CPU supports the ISA.
RowDotFn row_dot_avx2(const WeightMatrix& w);
RowDotFn row_dot_avx512(const WeightMatrix& w);

}  // namespace baleen
