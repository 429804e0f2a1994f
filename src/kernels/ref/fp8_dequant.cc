#include "kernels/ref/fp8_dequant.h"

#include "core/assert.h"
#include "tensor/numeric.h"

namespace baleen {

void fp8_block_dequant_ref(const uint8_t* q, const float* scale_inv, int64_t rows, int64_t cols, int64_t block_rows,
                           int64_t block_cols, float* out) {
  BALEEN_ASSERT(rows >= 0 && cols >= 0 && block_rows > 0 && block_cols > 0, "rows=%lld cols=%lld block=%lldx%lld",
                static_cast<long long>(rows), static_cast<long long>(cols), static_cast<long long>(block_rows),
                static_cast<long long>(block_cols));
  // All 256 codes decoded once, so the inner loop is a table lookup and a multiply.
  float table[256];
  for (int c = 0; c < 256; ++c) table[c] = e4m3_to_f32(static_cast<uint8_t>(c));
  const int64_t scale_cols = (cols + block_cols - 1) / block_cols;
  for (int64_t i = 0; i < rows; ++i) {
    const float* srow = scale_inv + (i / block_rows) * scale_cols;
    const uint8_t* qrow = q + i * cols;
    float* orow = out + i * cols;
    for (int64_t j = 0; j < cols; ++j) orow[j] = table[qrow[j]] * srow[j / block_cols];
  }
}

}  // namespace baleen
