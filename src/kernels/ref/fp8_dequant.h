// Reference FP8 block dequantization in DeepSeek's official checkpoint format (float8_e4m3fn weights
// with one float32 scale per block, `weight_dequant` in DeepSeek-V3's kernel.py). The ground truth for
// faster dequantizers and for load-time conversion (io/fp8_weights.h validates shapes and calls it).
#pragma once

#include <cstdint>

namespace baleen {

// W[i, j] = e4m3(q[i, j]) * scale_inv[i / block_rows, j / block_cols], partial edge blocks included.
//   q:         [rows, cols] e4m3fn codes, row-major (any alignment)
//   scale_inv: [ceil(rows / block_rows), ceil(cols / block_cols)] float32, row-major
//   out:       [rows, cols] float32
// rows, cols >= 0 and block sizes > 0 are asserted (the caller validated them).
void fp8_block_dequant_ref(const uint8_t* q, const float* scale_inv, int64_t rows, int64_t cols, int64_t block_rows,
                           int64_t block_cols, float* out);

}  // namespace baleen
