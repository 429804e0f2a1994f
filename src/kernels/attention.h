// Causal multi-head attention for prefill over expanded K/V (MLA's naive prefill after kv_b, or
// GQA): n query rows at positions pos0 .. pos0 + n - 1 attend to key/value positions 0 .. pos0 + n - 1,
// row t to positions p <= pos0 + t. softmax in F32 with online (flash-style) rescaling.
//
// Layout (strides in floats):
//   q   row t, head h      at q + t * q_stride + h * qk_dim          [n, n_heads, qk_dim]
//   k   position p, kv g   at k + p * k_stride + g * qk_dim          [pos0 + n, n_kv_heads, qk_dim]
//   v   position p, kv g   at v + p * v_stride + g * v_dim           [pos0 + n, n_kv_heads, v_dim]
//   out row t, head h      at out + t * out_stride + h * v_dim       [n, n_heads, v_dim]
// Query head h reads kv head g = h / (n_heads / n_kv_heads) (n_kv_heads divides n_heads; MHA:
// n_kv_heads = n_heads). scores = scale * q . k. out must not alias q, k or v.
// `causal_attention` is parallel over (head, block of rows) and uses the AVX-512 kernel
// (kernels/x86/attention_avx512.cc) when dispatch_level() is kAvx512 and v_dim % 16 == 0, else the
// reference per row; `causal_attention_ref` is the scalar reference (double accumulation).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace baleen {

struct AttentionArgs {
  const float* q;
  int64_t q_stride;
  const float* k;
  int64_t k_stride;
  const float* v;
  int64_t v_stride;
  int64_t n_heads;
  int64_t n_kv_heads;
  int64_t qk_dim;
  int64_t v_dim;
  int64_t n;     // query rows
  int64_t pos0;  // position of query row 0 (keys before it are cached context)
  float scale;
  float* out;
  int64_t out_stride;
};

void causal_attention(const float* q, int64_t q_stride, const float* k, int64_t k_stride, const float* v,
                      int64_t v_stride, int64_t n_heads, int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim, int64_t n,
                      int64_t pos0, float scale, float* out, int64_t out_stride, ThreadPool& pool);
void causal_attention_ref(const float* q, int64_t q_stride, const float* k, int64_t k_stride, const float* v,
                          int64_t v_stride, int64_t n_heads, int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim,
                          int64_t n, int64_t pos0, float scale, float* out, int64_t out_stride);

// The reference for query rows [t0, t1) of head h (used by causal_attention's fallback).
void causal_attention_rows_ref(const AttentionArgs& a, int64_t h, int64_t t0, int64_t t1);

}  // namespace baleen
