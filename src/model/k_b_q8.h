// MLA's W_UK per head with the latent as columns, for the naive prefill's key expansion
// k_nope[t, h, :] = W_UK[h] c_t through the integer GEMM. GGUF stores attn_k_b as W_UK^T
// ([kv_lora_rank, qk_nope_head_dim], blocks along qk_nope_head_dim), which only an F32 x . W
// product can read (layer.cc matmul_xw_heads, ~4x slower than the 8-bit GEMM per multiply-add).
// When the file's attn_k_b is a quantized type, the product already runs on 8-bit activations, so
// the transpose is requantized to Q8_0 (blocks of 32 latent dimensions, d = absmax / 127): each
// weight moves by at most 1/254 of its block's largest, well inside the source type's own step
// (Q5_0: 1/32). Built on first use (once per layer, thread-safe) so that loading and decoding pay
// nothing for it: [qk_nope_head_dim, kv_lora_rank] Q8_0 per head, 34/32 bytes per element
// (V2-Lite: 1.1 MB per layer).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

class KbQ8 {
 public:
  // True when heads (GGUF attn_k_b views, [kv_lora_rank, nope] each) are of a type with an
  // 8-bit-activation path and kv_lora_rank is a multiple of 32.
  static bool applies(const std::vector<WeightMatrix>& heads);

  // The requantized transposes, built from `heads` on the first call (heads[h] must stay the same
  // views on every call).
  const std::vector<WeightMatrix>& get(const std::vector<WeightMatrix>& heads, ThreadPool& pool);

 private:
  std::once_flag once_;
  std::vector<uint8_t> bytes_;
  std::vector<WeightMatrix> t_;
};

// Transposes one head: w [rows, cols] (any GGML type) -> Q8_0 [cols, rows] at out (cols * rows /
// 32 blocks of 34 bytes). rows % 32 == 0.
WeightMatrix transpose_to_q8_0(const WeightMatrix& w, uint8_t* out);

}  // namespace baleen
