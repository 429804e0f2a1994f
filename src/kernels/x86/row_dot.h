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

// Rows [r0, r1) for all m activation rows: the activations in blocks of kRowDotTokenBlock rows
// (a multiple of the kernels' 4-row groups, so every output is computed exactly as one row_dot call
// over all m would) with every row per block, so that a block's activations and the rows stay in
// L2 instead of all m activation rows streaming from L3 once per weight row.
constexpr int64_t kRowDotTokenBlock = 16;
inline void row_dot_rows(RowDotFn row_dot, const WeightMatrix& w, int64_t r0, int64_t r1, const float* x,
                         int64_t x_stride, int64_t m, float* y, int64_t y_stride) {
  for (int64_t i0 = 0; i0 < m; i0 += kRowDotTokenBlock) {
    const int64_t mb = m - i0 < kRowDotTokenBlock ? m - i0 : kRowDotTokenBlock;
    for (int64_t r = r0; r < r1; ++r) row_dot(w, r, x + i0 * x_stride, x_stride, mb, y + i0 * y_stride + r, y_stride);
  }
}

// Per-ISA tables (nullptr when no kernel). Only call them when the CPU supports the ISA.
RowDotFn row_dot_avx2(const WeightMatrix& w);
RowDotFn row_dot_avx512(const WeightMatrix& w);

}  // namespace baleen
