// A weight matrix as the model uses it: `rows` output features x `cols` input features, stored
// row-major in any GGML type (blocks along a row) or as DeepSeek FP8 e4m3 with 128x128 block
// scales. A view: it points into a mapped file (or a buffer the model owns) and never copies.
// Matrix products (kernels/matmul.h) read it a row / block at a time.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace baleen {

enum class WeightFormat {
  kGgml,          // `type` blocks along each row (F32, F16, BF16, Q8_0, Q4_K, ...)
  kFp8E4M3Block,  // one e4m3 byte per element, fp32 scale_inv per [block_rows x block_cols] tile
};

struct WeightMatrix {
  WeightFormat format = WeightFormat::kGgml;
  GgmlType type = GgmlType::kF32;  // kGgml only
  int64_t rows = 0;                // output features
  int64_t cols = 0;                // input features (row length in elements)
  const uint8_t* data = nullptr;   // row 0
  uint64_t row_stride = 0;         // bytes from one row to the next

  // kFp8E4M3Block only: W[r, c] = e4m3(data[r * row_stride + c]) * scale_inv[((r + row_offset) /
  // block_rows) * scale_cols + c / block_cols]. row_offset lets a view start inside the block grid
  // (e.g. one head's rows of kv_b_proj).
  const float* scale_inv = nullptr;
  int64_t scale_cols = 0;
  int64_t row_offset = 0;
  int32_t block_rows = 128;
  int32_t block_cols = 128;

  bool empty() const { return data == nullptr || rows == 0; }
  // Rows [begin, begin + n) as a matrix of their own.
  WeightMatrix row_slice(int64_t begin, int64_t n) const {
    WeightMatrix w = *this;
    w.data = data + static_cast<uint64_t>(begin) * row_stride;
    w.rows = n;
    w.row_offset = row_offset + begin;
    return w;
  }
};

// Dequantizes row r (0 <= r < w.rows) into out[w.cols]. Reference path, exact.
void weight_row_to_f32(const WeightMatrix& w, int64_t r, float* out);

}  // namespace baleen
