// AVX-512 F32 kernel of causal_attention (kernels/attention.h). Only call when dispatch_level() is
// kAvx512.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace baleen {

constexpr int64_t kAttnKeyBlock = 32;  // keys per online-softmax step (two 16-lane vectors)
constexpr int64_t kAttnRowBlock = 64;  // query rows per kernel call

// kt: kv head g's keys transposed, [qk_dim][kt_stride] with kt_stride >= round_up(pos0 + n, 32),
// columns past pos0 + n zero. Computes out rows [t0, t1) (t1 - t0 <= kAttnRowBlock) of head h.
// Requires a.v_dim % 16 == 0.
// Keys [p0, p1) of kv head g (k position p at k + p * k_stride + g * qk_dim) into kt, laid out
// [n_kv_heads][qk_dim][kt_stride]; positions from n_keys up to p1 (and kt_stride) are written as
// zero. p0 is a multiple of 16; p1 <= kt_stride or p1 a multiple of 16.
void transpose_keys_avx512(const float* k, int64_t k_stride, int64_t g, int64_t qk_dim, int64_t n_keys, int64_t p0,
                           int64_t p1, float* kt, int64_t kt_stride);

void attention_rows_avx512(const AttentionArgs& a, const float* kt, int64_t kt_stride, int64_t h, int64_t t0,
                           int64_t t1);

}  // namespace baleen
