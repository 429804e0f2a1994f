// Building blocks of the BF16 GEMM used for large-m matrix products (kernels/matmul_bf16.cc):
// y[t, r] = sum_k W[r, k] * x[t, k] with both operands rounded to BF16 and F32 accumulation.
// Two packed operands, shared by the AVX-512 BF16 kernel (VDPBF16PS) and the AMX kernel
// (TDPBF16PS):
//   weight panel  wp: [panel_rows, kp] BF16 row-major (kp = K rounded up to kGemmKAlign, zero
//                 padded; rows past the matrix are zero). Read as AMX A tiles (16 rows x 32 k) or
//                 by broadcasting one (k, k+1) pair (a dword) of a row.
//   activations   xp: [ceil(m / 16)][kp / 2][16][2] BF16: per block of 16 tokens, per k pair, the
//                 16 tokens' (x[t, k], x[t, k + 1]) pairs ("VNNI" layout). Tokens past m are zero.
//                 A block's slab is an AMX B tile sequence (16 pair rows x 64 bytes per 32 k) and
//                 one 512-bit load gives the 16 tokens' pair for VDPBF16PS.
// The small-m path (gemv_bf16_avx512) reads BF16 weight rows in place and gives bitwise the values
// of gemm_panel_avx512 for the same rows and tokens (see gemv_bf16_avx512.cc), so a token's result
// does not depend on how many tokens share the product.
// Only call the *_avx512 functions when dispatch_level() is kAvx512, the *_amx ones when
// amx_available() (core/cpu_features.h).
#pragma once

#include <cstdint>

#include "tensor/weight.h"

namespace baleen {

constexpr int64_t kGemmKAlign = 32;    // kp is a multiple of this (one AMX tile of BF16 k)
constexpr int64_t kGemmRowAlign = 32;  // panel_rows is a multiple of this (2 AMX A tiles)
constexpr int64_t kGemmTokenBlock = 16;
constexpr int64_t kGemvTokenGroup = 8;  // tokens per pass of gemv_bf16_avx512 over a 16-row block

inline int64_t gemm_round_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// Packs tokens [t0, t1) (t0 a multiple of 16) of x [m, k] (row stride x_stride) into xp's blocks
// t0/16 .. ceil(t1/16)-1; tokens >= m inside the last block are zeroed. xp as above (whole array).
void gemm_pack_x_avx512(const float* x, int64_t x_stride, int64_t m, int64_t k, int64_t kp, int64_t t0, int64_t t1,
                        uint16_t* xp);

// dst[0, kp) = bf16(src[0, n)) rounded to nearest even, then zeros.
void gemm_f32_to_bf16_row_avx512(const float* src, int64_t n, int64_t kp, uint16_t* dst);

// Writes weight rows [r0, r0 + n) of w as BF16 into dst rows (row stride kp, zero padded), decoding
// the blocks directly. Returns false (and writes nothing) when w's format has no direct decoder;
// the caller then goes through weight_row_to_f32. Values are bf16(the reference F32 dequant).
bool gemm_dequant_rows_bf16_avx512(const WeightMatrix& w, int64_t r0, int64_t n, int64_t kp, uint16_t* dst);

// For panel rows [0, rows) (rows <= panel_rows, panel_rows a multiple of 32) and all m tokens:
// y[t * y_stride + r] = dot(wp row r, token t). Overwrites those y entries only.
void gemm_panel_avx512(const uint16_t* wp, int64_t rows, int64_t kp, const uint16_t* xp, int64_t m, float* y,
                       int64_t y_stride);
void gemm_panel_amx(const uint16_t* wp, int64_t rows, int64_t kp, const uint16_t* xp, int64_t m, float* y,
                    int64_t y_stride);
// Rows [0, rows) of a GGML BF16 matrix at w (row stride w_stride bytes, cols elements each) times
// m tokens xb [m, kp] BF16 (gemm_f32_to_bf16_row_avx512 of each token: rounded, zero past cols):
// y[t * y_stride + r] = bitwise gemm_panel_avx512's value for that row and token. Overwrites those
// y entries only; reads no weight byte past a row's cols elements.
void gemv_bf16_avx512(const uint8_t* w, uint64_t w_stride, int64_t rows, int64_t cols, int64_t kp, const uint16_t* xb,
                      int64_t m, float* y, int64_t y_stride);
// AMX tile state is per thread: configure before gemm_panel_amx on a thread, release after.
void gemm_amx_begin();
void gemm_amx_end();

}  // namespace baleen
