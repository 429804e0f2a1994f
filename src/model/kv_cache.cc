#include "model/kv_cache.h"

namespace baleen {

void KvCache::init(const ModelConfig& cfg, int64_t n_layers, int64_t n_ctx) {
  n_ctx_ = n_ctx;
  split_kv_ = cfg.arch != ModelArch::kDeepseek2;
  width_ = split_kv_ ? cfg.n_kv_heads * cfg.head_dim : cfg.kv_lora_rank + cfg.qk_rope_head_dim;
  const auto per_layer = static_cast<size_t>(n_ctx * width_ * (split_kv_ ? 2 : 1));
  buf_.assign(static_cast<size_t>(n_layers), std::vector<float>(per_layer, 0.0f));
}

}  // namespace baleen
