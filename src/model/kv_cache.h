// Per-session KV cache: one contiguous F32 buffer per layer, a row per position.
// MLA layers store only [kv_lora_rank] normalised latent followed by [qk_rope_head_dim] rotated
// shared k_pe (deepseek-spec 3.6, 3.7); GQA layers store K then V rows of n_kv_heads * head_dim each.
// Used by the attention code (mla.cc, dense.cc) through layer views.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace baleen {

// One layer's cache. MLA: row(p) = [latent | k_pe], width = kv_lora_rank + qk_rope_head_dim.
// GQA: k_row(p) / v_row(p), each n_kv_heads * head_dim wide.
struct KvLayer {
  float* data = nullptr;
  int64_t width = 0;     // floats per position (MLA) or per K / V row (GQA)
  int64_t capacity = 0;  // positions
  bool split_kv = false;
  float* row(int64_t pos) const { return data + pos * width; }
  float* k_row(int64_t pos) const { return data + pos * width; }
  float* v_row(int64_t pos) const { return data + (capacity + pos) * width; }
};

class KvCache {
 public:
  // n_layers caches of n_ctx positions for `cfg`'s attention geometry.
  void init(const ModelConfig& cfg, int64_t n_layers, int64_t n_ctx);
  KvLayer layer(int64_t il) { return {buf_[il].data(), width_, n_ctx_, split_kv_}; }
  int64_t n_ctx() const { return n_ctx_; }

 private:
  std::vector<std::vector<float>> buf_;
  int64_t width_ = 0;
  int64_t n_ctx_ = 0;
  bool split_kv_ = false;
};

}  // namespace baleen
