#include "model/k_b_q8.h"

#include <vector>

#include "kernels/ref/dequant.h"
#include "kernels/ref/q8_act.h"
#include "kernels/ref/quantize.h"

namespace baleen {

bool KbQ8::applies(const std::vector<WeightMatrix>& heads) {
  if (heads.empty()) return false;
  const WeightMatrix& w = heads[0];
  return w.format == WeightFormat::kGgml && act_q8_kind(w.type) != ActQ8Kind::kNone && w.rows % 32 == 0 && w.cols > 0;
}

WeightMatrix transpose_to_q8_0(const WeightMatrix& w, uint8_t* out) {
  std::vector<float> rows(static_cast<size_t>(w.rows * w.cols)), col(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r) weight_row_to_f32(w, r, rows.data() + r * w.cols);
  WeightMatrix t;
  t.format = WeightFormat::kGgml;
  t.type = GgmlType::kQ8_0;
  t.rows = w.cols;
  t.cols = w.rows;
  t.data = out;
  t.row_stride = ggml_row_bytes(GgmlType::kQ8_0, static_cast<uint64_t>(w.rows));
  for (int64_t c = 0; c < w.cols; ++c) {
    for (int64_t r = 0; r < w.rows; ++r) col[r] = rows[r * w.cols + c];
    quantize_row_q8_0_ref(col.data(), out + static_cast<uint64_t>(c) * t.row_stride, static_cast<uint64_t>(w.rows));
  }
  return t;
}

const std::vector<WeightMatrix>& KbQ8::get(const std::vector<WeightMatrix>& heads, ThreadPool& pool) {
  std::call_once(once_, [&] {
    const auto n = static_cast<int64_t>(heads.size());
    const uint64_t head_bytes =
        ggml_row_bytes(GgmlType::kQ8_0, static_cast<uint64_t>(heads[0].rows)) * static_cast<uint64_t>(heads[0].cols);
    bytes_.resize(head_bytes * static_cast<uint64_t>(n));
    t_.resize(heads.size());
    pool.parallel_for(n, 1, [&](int64_t h0, int64_t h1, int) {
      for (int64_t h = h0; h < h1; ++h) t_[h] = transpose_to_q8_0(heads[h], bytes_.data() + head_bytes * h);
    });
  });
  return t_;
}

}  // namespace baleen
