// AVX-512 kernel of kernels/xw.h: two tokens x up to 128 columns held in 16 accumulators while r
// runs over the rows, so each W row chunk is loaded once per token pair. mul then add (this file
// builds with -ffp-contract=off), in r order: the same bits as xw_f32_ref.
#include <immintrin.h>

#include "kernels/xw.h"

namespace baleen {
namespace {

template <int NB, int NT>
void block(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, float* y, int64_t y_stride) {
  __m512 acc[NT][NB];
  for (int t = 0; t < NT; ++t)
    for (int v = 0; v < NB; ++v) acc[t][v] = _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    __m512 wv[NB];
    for (int v = 0; v < NB; ++v) wv[v] = _mm512_loadu_ps(wr + 16 * v);
    for (int t = 0; t < NT; ++t) {
      const __m512 a = _mm512_set1_ps(x[t * x_stride + r]);
      for (int v = 0; v < NB; ++v) acc[t][v] = _mm512_add_ps(acc[t][v], _mm512_mul_ps(a, wv[v]));
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int v = 0; v < NB; ++v) _mm512_storeu_ps(y + t * y_stride + 16 * v, acc[t][v]);
}

template <int NT>
void column_block(int nb, const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, float* y,
                  int64_t y_stride) {
  switch (nb) {
    case 1:
      return block<1, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 2:
      return block<2, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 3:
      return block<3, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 4:
      return block<4, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 5:
      return block<5, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 6:
      return block<6, NT>(w, rows, cols, x, x_stride, y, y_stride);
    case 7:
      return block<7, NT>(w, rows, cols, x, x_stride, y, y_stride);
    default:
      return block<8, NT>(w, rows, cols, x, x_stride, y, y_stride);
  }
}

}  // namespace

bool xw_f32_avx512(const float* w, int64_t rows, int64_t cols, const float* x, int64_t x_stride, int64_t m, float* y,
                   int64_t y_stride) {
  if (cols % 16 != 0 || cols <= 0) return false;
  for (int64_t c0 = 0; c0 < cols; c0 += 128) {
    const int nb = static_cast<int>((cols - c0 < 128 ? cols - c0 : 128) / 16);
    int64_t t = 0;
    for (; t + 2 <= m; t += 2)
      column_block<2>(nb, w + c0, rows, cols, x + t * x_stride, x_stride, y + t * y_stride + c0, y_stride);
    if (t < m) column_block<1>(nb, w + c0, rows, cols, x + t * x_stride, x_stride, y + t * y_stride + c0, y_stride);
  }
  return true;
}

}  // namespace baleen
