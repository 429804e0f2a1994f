// MLA attention of one query row in the absorbed form (deepseek-spec 3.6) for a group of heads:
// for each head g, scores s_u = scale * (q~_g . c_u + q_pe_g . k_pe_u) over the cached positions
// u < n_ctx (cache row u = [c_u (kv_lora_rank) | k_pe_u (rope_dim)]), p = softmax(s), and the
// latent context z_g = sum_u p_u c_u. Decode and short prefill chunks run this per (token, head
// group); every head of a group reads the same cache rows, so the group reads them once per pass
// instead of once per head (at a few thousand positions the cache no longer fits in L2 and the
// per-head passes would stream it from L3 or memory 16-128 times per layer).
//
// mla_decode_heads uses the AVX-512 kernel (kernels/x86/mla_decode_avx512.cc) when
// dispatch_level() is kAvx512, n_heads is 8, kv_lora_rank % 32 == 0 and (kv_lora_rank + rope_dim)
// % 16 == 0, else a float loop per head; mla_decode_heads_ref is the scalar reference (double
// accumulation).
#pragma once

#include <cstdint>
#include <vector>

namespace baleen {

// Cache rows per step of the AVX-512 kernel's single pass.
constexpr int64_t kMlaDecodeBlock = 32;

struct MlaDecodeArgs {
  const float* q_abs = nullptr;  // head g's q~ at q_abs + g * q_abs_stride, [kv_lora_rank]
  int64_t q_abs_stride = 0;
  const float* q_pe = nullptr;  // head g's rotated q_pe at q_pe + g * q_pe_stride, [rope_dim]
  int64_t q_pe_stride = 0;
  const float* cache = nullptr;  // row u at cache + u * cache_stride: [kv_lora_rank | rope_dim]
  int64_t cache_stride = 0;
  int64_t n_ctx = 0;  // positions attended (>= 1)
  int64_t kv_lora_rank = 0;
  int64_t rope_dim = 0;
  float scale = 1.0f;
  float* z = nullptr;  // head g's output at z + g * z_stride, [kv_lora_rank]
  int64_t z_stride = 0;
};

// Floats of per-call scratch mla_decode_heads needs.
int64_t mla_decode_scratch_floats(int64_t n_heads, int64_t kv_lora_rank, int64_t rope_dim, int64_t n_ctx);

// Heads 0 .. n_heads - 1 of `a` (scratch: mla_decode_scratch_floats of them).
void mla_decode_heads(const MlaDecodeArgs& a, int64_t n_heads, float* scratch);
void mla_decode_heads_ref(const MlaDecodeArgs& a, int64_t n_heads);

// The AVX-512 kernel (8 heads); only with dispatch_level() kAvx512 and the shapes above.
void mla_decode_8_avx512(const MlaDecodeArgs& a, float* scratch);

}  // namespace baleen
