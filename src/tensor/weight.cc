#include "tensor/weight.h"

#include <array>

#include "core/assert.h"
#include "kernels/ref/dequant.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = e4m3_to_f32(static_cast<uint8_t>(i));
    return t;
  }();
  return table;
}

}  // namespace

void weight_row_to_f32(const WeightMatrix& w, int64_t r, float* out) {
  BALEEN_ASSERT(r >= 0 && r < w.rows, "row %lld of %lld", static_cast<long long>(r), static_cast<long long>(w.rows));
  const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_stride;
  if (w.format == WeightFormat::kGgml) {
    Status st = dequantize_row_ref(w.type, row, out, static_cast<uint64_t>(w.cols));
    BALEEN_ASSERT(st.ok(), "dequantize: %s", st.ok() ? "" : st.error().message().c_str());
    return;
  }
  const auto& lut = e4m3_table();
  const float* scales = w.scale_inv + ((r + w.row_offset) / w.block_rows) * w.scale_cols;
  for (int64_t c0 = 0; c0 < w.cols; c0 += w.block_cols) {
    const float s = scales[c0 / w.block_cols];
    const int64_t c1 = c0 + w.block_cols < w.cols ? c0 + w.block_cols : w.cols;
    for (int64_t c = c0; c < c1; ++c) out[c] = lut[row[c]] * s;
  }
}

}  // namespace baleen
