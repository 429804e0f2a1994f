// Integer GEMM of the integer-activation path (kernels/matmul_q8.h) for prefill-sized m, AVX-512
// VNNI. The quantized activation rows (kernels/ref/q8_act.h, built once per call) are repacked
// once per call into a token-interleaved panel: per group of 16 tokens and block, the codes as
// [k / 4][token][4 bytes] plus the per-token scales and partial sums, so one vpdpbusd multiplies
// 4 columns of one (broadcast) weight row with 16 tokens. Each thread unpacks its weight rows'
// blocks to unsigned 8-bit codes (plus per-block scales) and runs register tiles of 4 rows x 32
// tokens. The integer block sums equal those of dot_q8_ref and the block scales are applied with
// the same float operations in the same order (sum = sum + (dw * da) * float(S) [- ...], blocks in
// order, no FMA), so every output is bit-identical to matmul_q8_ref and to the row-dot kernels
// (kernels/x86/q8_dot.h): the result for a token does not depend on m. Reached only through
// matmul_q8 at DispatchLevel::kAvx512.
#pragma once

#include <cstdint>

#include "kernels/ref/q8_act.h"
#include "tensor/weight.h"

namespace baleen {

// Bytes of the activation panel for m tokens of `cols` columns.
int64_t q8_gemm_panel_bytes(ActQ8Kind kind, int64_t m, int64_t cols);
// Number of 16-token groups of the panel (ceil(m / 16)).
inline int64_t q8_gemm_groups(int64_t m) { return (m + 15) / 16; }

// Writes groups [g0, g1) of the panel from m quantized rows: token i's row at act + i *
// act_row_bytes, or with `rows` at act + rows[i] * act_row_bytes (a gather: the tokens an expert
// picked, straight from the quantized rows of all tokens); tokens past m are zero. Thread-safe for
// disjoint group ranges.
void q8_gemm_pack_avx512(ActQ8Kind kind, const uint8_t* act, int64_t act_row_bytes, int64_t m, int64_t cols, int64_t g0,
                         int64_t g1, uint8_t* panel, const int32_t* rows = nullptr);

// Rows [r0, r1) of w (a type with an integer path) times the m tokens of the panel:
// y[i * y_stride + r] for i < m, r0 <= r < r1. Thread-safe.
void q8_gemm_rows_avx512(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* panel, int64_t m, float* y,
                         int64_t y_stride);

}  // namespace baleen
