// Small-m BF16 products read straight from BF16 weight rows (kernels/x86/gemm_bf16.h,
// gemv_bf16_avx512), bitwise equal to the GEMM's AVX-512 kernel (gemm_bf16_avx512.cc).
//
// Why equal: the GEMM gives every (weight row r, token t) one F32 accumulator lane and folds the k
// pairs p = 0 .. kp/2 - 1 into it in order, one VDPBF16PS per pair with a = the row's pair
// (w[r, 2p], w[r, 2p + 1]) and b = the token's pair (x[t, 2p], x[t, 2p + 1]) (both BF16, zero past
// cols). Here the lanes are 16 weight rows instead of 16 tokens: 16 rows x 16 pairs (32 k) are
// loaded and transposed in registers so that vector j holds pair j of the 16 rows, and the token's
// pair is broadcast. Each lane still sees VDPBF16PS(acc, a = that row's pair, b = that token's
// pair) for the same p in the same order, from the same zero accumulator; lanes are independent,
// so the F32 result is the same bits whatever m, the row block or the thread split.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/gemm_bf16.h"

namespace baleen {
namespace {

// r[i] (row i, 16 dwords) -> r[j] lane i = old r[i] dword j (16 x 16 dword transpose).
inline void transpose16(__m512i r[16]) {
  __m512i u[16];
  for (int g = 0; g < 4; ++g) {  // 4 x 4 transposes inside each 128-bit lane, rows 4g .. 4g + 3
    const __m512i t0 = _mm512_unpacklo_epi32(r[4 * g], r[4 * g + 1]);
    const __m512i t1 = _mm512_unpackhi_epi32(r[4 * g], r[4 * g + 1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[4 * g + 2], r[4 * g + 3]);
    const __m512i t3 = _mm512_unpackhi_epi32(r[4 * g + 2], r[4 * g + 3]);
    u[4 * g + 0] = _mm512_unpacklo_epi64(t0, t2);  // lane q: rows 4g..4g+3 of column 4q + 0
    u[4 * g + 1] = _mm512_unpackhi_epi64(t0, t2);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t1, t3);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int c = 0; c < 4; ++c) {  // gather lane q of u[4g + c] (g = 0..3) into column 4q + c
    const __m512i s0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
    const __m512i s1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
    const __m512i s2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
    const __m512i s3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
    r[4 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
  }
}

// Weight rows are read as 16 interleaved streams (64 bytes of each per chunk), more than the
// hardware prefetchers follow: each row is prefetched this many elements ahead (256 measured best of
// 256 / 512 / 1024 / 2048 with bench/matmul_bench bf16 m=1 on the AVX-512 BF16 host).
constexpr int64_t kPrefetchK = 256;

// One 32-k chunk of 16 rows (row stride ws bytes; rows >= nrow read as zero; element mask `mask`
// per row, zeros past cols) times T tokens: acc[t] lane i += row i's 16 pairs, in pair order.
template <int T>
inline void chunk(const uint8_t* w, uint64_t ws, int nrow, __mmask32 mask, const uint32_t* xw, int64_t xs,
                  __m512 (&acc)[T]) {
  __m512i v[16];
  for (int i = 0; i < 16; ++i) v[i] = i < nrow ? _mm512_maskz_loadu_epi16(mask, w + i * ws) : _mm512_setzero_si512();
  transpose16(v);
  for (int j = 0; j < 16; ++j) {
    for (int t = 0; t < T; ++t) {
      const __m512i x = _mm512_set1_epi32(static_cast<int>(xw[t * xs + j]));
      acc[t] = _mm512_dpbf16_ps(acc[t], (__m512bh)v[j], (__m512bh)x);
    }
  }
}

// Rows [0, nrow) (nrow <= 16) at w (row stride ws bytes, cols valid BF16 each) times T tokens of xb
// (row stride kp elements): y[t * y_stride + i] for i < nrow.
template <int T>
void rows_tokens(const uint8_t* w, uint64_t ws, int nrow, int64_t cols, int64_t kp, const uint16_t* xb, float* y,
                 int64_t y_stride) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  const uint32_t* xw = reinterpret_cast<const uint32_t*>(xb);  // token t pair p: xw[t * kp / 2 + p]
  const int64_t xs = kp / 2;
  const int64_t full = cols / 32 * 32;
  int64_t k0 = 0;
  for (; k0 < full; k0 += 32) {
    if (k0 + kPrefetchK < cols) {
      for (int i = 0; i < nrow; ++i)
        _mm_prefetch(reinterpret_cast<const char*>(w + i * ws + 2 * (k0 + kPrefetchK)), _MM_HINT_T0);
    }
    chunk<T>(w + 2 * k0, ws, nrow, ~__mmask32{0}, xw + k0 / 2, xs, acc);
  }
  for (; k0 < kp; k0 += 32) {  // the last chunk, part past cols (zeros in the GEMM's panel)
    const int64_t valid = cols - k0;
    const __mmask32 mask = valid <= 0 ? 0 : (__mmask32{1} << valid) - 1;
    chunk<T>(w + 2 * k0, ws, nrow, mask, xw + k0 / 2, xs, acc);
  }
  const __mmask16 out = nrow >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << nrow) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, out, acc[t]);
}

using BlockFn = void (*)(const uint8_t*, uint64_t, int, int64_t, int64_t, const uint16_t*, float*, int64_t);
constexpr BlockFn kKernel[kGemvTokenGroup + 1] = {nullptr,        rows_tokens<1>, rows_tokens<2>,
                                                  rows_tokens<3>, rows_tokens<4>, rows_tokens<5>,
                                                  rows_tokens<6>, rows_tokens<7>, rows_tokens<8>};

}  // namespace

void gemv_bf16_avx512(const uint8_t* w, uint64_t w_stride, int64_t rows, int64_t cols, int64_t kp, const uint16_t* xb,
                      int64_t m, float* y, int64_t y_stride) {
  // Token groups inside each 16-row block: the block's rows (16 x kp BF16) are read from memory once
  // and stay in L1/L2 for the later groups.
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int nrow = rows - r0 < 16 ? static_cast<int>(rows - r0) : 16;
    for (int64_t t0 = 0; t0 < m; t0 += kGemvTokenGroup) {
      const int64_t n = m - t0 < kGemvTokenGroup ? m - t0 : kGemvTokenGroup;
      kKernel[n](w + r0 * w_stride, w_stride, nrow, cols, kp, xb + t0 * kp, y + t0 * y_stride + r0, y_stride);
    }
  }
}

}  // namespace baleen
