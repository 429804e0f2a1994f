// Scalar reference for the integer-activation matrix product (kernels/matmul_q8.cc): each
// activation row is quantized once to 8-bit blocks, then every weight block is dotted with integer
// arithmetic and the block scales are applied in float. This is how llama.cpp runs quantized
// weights on CPU (its q8_0 / q8_K activation formats, read as a format description; no code taken).
//
// Activation formats (one per weight block size; `act_q8_kind`):
//   kQ8_32  (Q4_0, Q5_0, Q8_0): per 32 elements ActQ8_32 {float d; int16 sum; int8 q[32]}.
//   kQ8_256 (Q4_K, Q5_K, Q6_K):   per 256 elements ActQ8_256 {float d; int16 sums per 16 and per
//                                  32 elements; int8 q[256]}.
// Quantization (both): d = amax / 127, q = nearbyint(x * (127 / amax)) (round half to even; q = 0
// when amax = 0), so |q| <= 127 and x ~= d * q. The SIMD quantizers produce the very same bytes.
//
// Integer block dots (w = the weight formula of kernels/ref/dequant.h, a = activation codes):
//   Q8_0: sum_j wq_j a_j                                     * (dw * da)
//   Q4_0: (sum_j q_j a_j - 8 * sum_j a_j)                    * (dw * da)
//   Q5_0: (sum_j q_j a_j - 16 * sum_j a_j)                   * (dw * da)
//   Q4_K / Q5_K: per 32-element sub-block s: scale sc_s, min mn_s;
//         S = sum_s sc_s * sum_j q_j a_j,  M = sum_s mn_s * sum_j a_j;  da * d * S - da * dmin * M
//   Q6_K: per 16-element sub-block s: int8 scale sc_s;
//         S = sum_s sc_s * (sum_j q_j a_j - 32 * sum_j a_j);        da * d * S
// All integer sums fit in int32 (largest: Q6_K, 256 * 63 * 127 * 127 < 2^31). The SIMD kernels
// compute the same integers; they differ from this reference only in the order of the float
// additions across blocks.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace baleen {

enum class ActQ8Kind { kNone, kQ8_32, kQ8_256 };

struct ActQ8_32 {
  float d;
  int16_t sum;  // sum of q
  int16_t pad;
  int8_t q[32];
};
static_assert(sizeof(ActQ8_32) == 40);

struct ActQ8_256 {
  float d;
  int16_t sum16[16];  // sum of q[16 s .. 16 s + 16)
  int16_t sum32[8];   // sum of q[32 s .. 32 s + 32)
  int8_t q[256];
};
static_assert(sizeof(ActQ8_256) == 308);

// The activation format the integer path uses for weights of `type`; kNone: no integer path.
ActQ8Kind act_q8_kind(GgmlType type);
// Elements per activation block (32 or 256) and bytes per block for a kind (not kNone).
int act_q8_block_elems(ActQ8Kind kind);
int act_q8_block_bytes(ActQ8Kind kind);
// Bytes of one quantized activation row of `cols` elements (cols a multiple of the block size).
int64_t act_q8_row_bytes(ActQ8Kind kind, int64_t cols);

// Quantizes x[cols] into `out` (act_q8_row_bytes bytes).
void quantize_act_q8_ref(ActQ8Kind kind, const float* x, int64_t cols, void* out);

// Dot product of one weight row of `type` (`cols` elements, whole blocks) with a quantized
// activation row of act_q8_kind(type), blocks summed in order in float.
float dot_q8_ref(GgmlType type, const uint8_t* w_row, const void* act, int64_t cols);

}  // namespace baleen
