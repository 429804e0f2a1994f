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
// matmul_q8 at DispatchLevel::kAvx512. With AMX (Intel's tile units), most types take AMX-INT8
// tiles instead: same integer sums, same float steps, same bits.
#pragma once

#include <cstdint>

#include "kernels/ref/q8_act.h"
#include "tensor/weight.h"

namespace baleen {

// The panel's layout, per (16-token group, block), in bytes. 32-element blocks: codes [8][16][4],
// da[16] (float), sum[16] (int32). 256-element blocks: codes [64][16][4], da[16], sum32 pairs [4][16]
// and sum16 pairs [8][16] (two int16 per int32, as vpdpwssd reads them). A group's blocks follow each
// other; groups follow each other.
namespace q8_panel {
constexpr int kTok = 16;  // tokens per group (int32 / float lanes of a 512-bit vector)
constexpr int64_t kQ32 = 8 * 64, kP32 = kQ32 + 64 + 64;
constexpr int64_t kQ256 = 64 * 64, kSum32 = kQ256 + 64, kSum16 = kSum32 + 4 * 64, kP256 = kSum16 + 8 * 64;
}  // namespace q8_panel

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
// y[i * y_stride + r] for i < m, r0 <= r < r1. Thread-safe. Hands the rows to q8_gemm_rows_amx when
// amx_available() (core/cpu_features.h) and q8_gemm_amx_takes(w.type).
void q8_gemm_rows_avx512(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* panel, int64_t m, float* y,
                         int64_t y_stride);

// The AMX-INT8 tiles (kernels/x86/q8_gemm_amx.cc): same contract and same bits as
// q8_gemm_rows_avx512, for the types q8_gemm_amx_takes (Q4_K, Q5_K, Q8_0, Q4_0, Q5_0). Only call when
// amx_available(). Loads its tile configuration and releases the tile state before returning.
bool q8_gemm_amx_takes(GgmlType type);
void q8_gemm_rows_amx(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* panel, int64_t m, float* y,
                      int64_t y_stride);

}  // namespace baleen
