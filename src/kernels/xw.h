// Products with the weight on the other side of matmul's: y = x . W for an F32 matrix W stored
// [rows, cols] row-major (MLA's per-head W_UK^T from GGUF attn_k_b, applied to the latent cache in
// the naive prefill form). Every output element is accumulated in r order, one product at a time
// (mul then add, no FMA), so the SIMD path gives the reference's exact bits.
#pragma once

#include <cstdint>

namespace baleen {

// y[t * y_stride + c] = sum_{r < rows} x[t * x_stride + r] * w[r * cols + c] for t < m, c < cols.
// Single-threaded (callers split heads across threads). Uses the AVX-512 kernel when the dispatch
// level allows and cols % 16 == 0, else xw_f32_ref.
void xw_f32(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
            int64_t y_stride);
void xw_f32_ref(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
                int64_t y_stride);

// The AVX-512 kernel (kernels/x86/xw_avx512.cc); false when it does not handle the shape.
bool xw_f32_avx512(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
                   int64_t y_stride);

}  // namespace baleen
