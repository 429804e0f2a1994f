#include "kernels/matmul.h"

#include <vector>

#include "core/cpu_features.h"
#include "core/thread_scratch.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/ops.h"
#include "kernels/x86/row_dot.h"

namespace baleen {
namespace {

// One weight row dequantized to F32 (formats without a row kernel), per thread.
std::vector<float>& dequant_row_buf() {
  thread_local std::vector<float> v;
  return v;
}
const bool kDequantRowReserved = register_thread_scratch([] { dequant_row_buf().resize(size_t{1} << 14); });

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride,
            int64_t y_stride) {
  if (x_stride == 0) x_stride = w.cols;
  if (y_stride == 0) y_stride = w.rows;
  // BF16 weights at every m: BF16 GEMM (AMX or AVX-512 BF16), kernels/matmul_bf16.h, batch
  // invariant (a token's result does not depend on the other tokens of the call). Only BF16 weights
  // take it: their values are exact in BF16, so only the activations are rounded (as llama.cpp does
  // for BF16 tensors). F32/F16/FP8 weights would lose bits they carry.
  if (w.format == WeightFormat::kGgml && w.type == GgmlType::kBF16 && matmul_bf16_available()) {
    return matmul_bf16(w, x, m, y, pool, x_stride, y_stride);
  }
  // Quantized weights, any m: 8-bit activations, integer block dots (matmul_q8.h). Every output
  // row's value is the same whatever m is (batch invariance), bit for bit.
  if (matmul_q8_applies(w, m) && matmul_act_q8_enabled()) {
    matmul_q8(w, x, m, y, pool, x_stride, y_stride);
    return;
  }
  const int64_t min_rows = m >= 8 ? 4 : 16;
  // Fast path: a SIMD kernel for this format at the current dispatch level reads each row's blocks
  // directly (decoded in registers, never written out).
  if (const RowDotFn row_dot = find_row_dot(w, dispatch_level()); row_dot != nullptr) {
    pool.parallel_for(w.rows, min_rows, [&](int64_t r0, int64_t r1, int) {
      row_dot_rows(row_dot, w, r0, r1, x, x_stride, m, y, y_stride);
    });
    return;
  }
  // Each weight row is dequantized once into a per-thread buffer and used for all m inputs.
  pool.parallel_for(w.rows, min_rows, [&](int64_t r0, int64_t r1, int) {
    std::vector<float>& row = dequant_row_buf();
    if (static_cast<int64_t>(row.size()) < w.cols) row.resize(static_cast<size_t>(w.cols));
    for (int64_t r = r0; r < r1; ++r) {
      weight_row_to_f32(w, r, row.data());
      for (int64_t i = 0; i < m; ++i) y[i * y_stride + r] = dot_f32(row.data(), x + i * x_stride, w.cols);
    }
  });
}

void matmul_ref(const WeightMatrix& w, const float* x, int64_t m, float* y, int64_t x_stride, int64_t y_stride) {
  if (x_stride == 0) x_stride = w.cols;
  if (y_stride == 0) y_stride = w.rows;
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row_to_f32(w, r, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double acc = 0.0;
      for (int64_t c = 0; c < w.cols; ++c) acc += static_cast<double>(row[c]) * x[i * x_stride + c];
      y[i * y_stride + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace baleen
