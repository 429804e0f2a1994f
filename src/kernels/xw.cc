#include "kernels/xw.h"

#include "core/cpu_features.h"

namespace baleen {

void xw_f32_ref(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
                int64_t y_stride) {
  for (int64_t t = 0; t < m; ++t) {
    float* yt = y + t * y_stride;
    for (int64_t c = 0; c < cols; ++c) yt[c] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float a = x[t * x_stride + r];
      const float* wr = w + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float p = a * wr[c];  // rounded on its own: the SIMD kernel does the same (no FMA)
        yt[c] = yt[c] + p;
      }
    }
  }
}

void xw_f32(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
            int64_t y_stride) {
  if (dispatch_level() == DispatchLevel::kAvx512 && xw_f32_avx512(w, rows, cols, x, x_stride, m, y, y_stride)) return;
  xw_f32_ref(w, rows, cols, x, x_stride, m, y, y_stride);
}

}  // namespace baleen
