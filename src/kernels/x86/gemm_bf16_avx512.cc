// AVX-512 BF16 pieces of the BF16 GEMM (kernels/x86/gemm_bf16.h): activation packing, F32 -> BF16
// rows, and the VDPBF16PS micro-kernel (8 weight rows x up to 48 tokens of F32 accumulators).
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/gemm_bf16.h"

namespace baleen {
namespace {

// 16 floats -> 16 bf16, round to nearest even (VCVTNEPS2BF16).
inline __m256i cvt16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

// 8 weight rows (row stride ws elements) x NR blocks of 16 tokens (block stride xbs elements), full
// kp. acc[i][j] lane l = dot(row i, token 16 j + l).
template <int NR>
void kernel_8xn(const uint16_t* w, int64_t ws, const uint16_t* xp, int64_t xbs, int64_t kp, float* out) {
  __m512 acc[8][NR];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  const int64_t pairs = kp / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh b[NR];
    for (int j = 0; j < NR; ++j) b[j] = (__m512bh)_mm512_loadu_si512(xp + j * xbs + p * 32);
    for (int i = 0; i < 8; ++i) {
      int32_t pair;
      std::memcpy(&pair, w + i * ws + 2 * p, 4);
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a, b[j]);
    }
  }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < NR; ++j) _mm512_storeu_ps(out + (i * NR + j) * 16, acc[i][j]);
}

}  // namespace

void gemm_f32_to_bf16_row_avx512(const float* src, int64_t n, int64_t kp, uint16_t* dst) {
  int64_t c = 0;
  for (; c + 16 <= n; c += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c), cvt16(_mm512_loadu_ps(src + c)));
  if (c < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - c)) - 1);
    _mm256_mask_storeu_epi16(dst + c, mask, cvt16(_mm512_maskz_loadu_ps(mask, src + c)));
    c = n;
  }
  if (kp > n) std::memset(dst + n, 0, static_cast<size_t>(kp - n) * 2);
}

void gemm_pack_x_avx512(const float* x, int64_t x_stride, int64_t m, int64_t k, int64_t kp, int64_t t0, int64_t t1,
                        uint16_t* xp) {
  const int64_t pairs = kp / 2;
  alignas(64) uint32_t row[4096];  // one chunk of a token row: 4096 bf16 pairs
  const int64_t b0 = t0 / kGemmTokenBlock, b1 = (t1 + kGemmTokenBlock - 1) / kGemmTokenBlock;
  for (int64_t b = b0; b < b1; ++b) {
    uint32_t* slab = reinterpret_cast<uint32_t*>(xp) + b * pairs * 16;
    for (int64_t l = 0; l < kGemmTokenBlock; ++l) {
      const int64_t t = b * kGemmTokenBlock + l;
      // Convert the token row a chunk at a time, then scatter its pairs to lane l of the pair rows.
      for (int64_t p0 = 0; p0 < pairs; p0 += 4096) {
        const int64_t np = pairs - p0 < 4096 ? pairs - p0 : 4096;
        if (t < m) {
          const int64_t c0 = 2 * p0, n = k - c0 < 0 ? 0 : (k - c0 < 2 * np ? k - c0 : 2 * np);
          gemm_f32_to_bf16_row_avx512(x + t * x_stride + c0, n, 2 * np, reinterpret_cast<uint16_t*>(row));
        } else {
          std::memset(row, 0, static_cast<size_t>(np) * 4);
        }
        for (int64_t p = 0; p < np; ++p) slab[(p0 + p) * 16 + l] = row[p];
      }
    }
  }
}

void gemm_panel_avx512(const uint16_t* wp, int64_t rows, int64_t kp, const uint16_t* xp, int64_t m, float* y,
                       int64_t y_stride) {
  const int64_t xbs = kp * kGemmTokenBlock;  // elements per token block
  const int64_t n_blocks = (m + kGemmTokenBlock - 1) / kGemmTokenBlock;
  alignas(64) float out[8 * 3 * 16];
  for (int64_t b = 0; b < n_blocks; b += 3) {
    const int nr = n_blocks - b >= 3 ? 3 : static_cast<int>(n_blocks - b);
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
      const uint16_t* w = wp + r0 * kp;
      const uint16_t* xb = xp + b * xbs;
      if (nr == 3) {
        kernel_8xn<3>(w, kp, xb, xbs, kp, out);
      } else if (nr == 2) {
        kernel_8xn<2>(w, kp, xb, xbs, kp, out);
      } else {
        kernel_8xn<1>(w, kp, xb, xbs, kp, out);
      }
      const int64_t nrow = rows - r0 < 8 ? rows - r0 : 8;
      for (int64_t j = 0; j < nr; ++j) {
        for (int64_t l = 0; l < kGemmTokenBlock; ++l) {
          const int64_t t = (b + j) * kGemmTokenBlock + l;
          if (t >= m) break;
          float* yt = y + t * y_stride + r0;
          for (int64_t i = 0; i < nrow; ++i) yt[i] = out[(i * nr + j) * 16 + l];
        }
      }
    }
  }
}

}  // namespace baleen
