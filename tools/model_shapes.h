// Model shapes `baleen gen-random` can generate, and the per-tensor plan (GGUF names, ggml shapes,
// storage types) for a shape and a quantization mix. Names, shapes and metadata follow llama.cpp's
// deepseek2 converter (deepseek-spec 8.3, conformance README 6.2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace baleen::cli {

struct ModelShape {
  std::string id;            // --shape value
  std::string display_name;  // general.name
  uint32_t hidden = 0, n_layers = 0, n_heads = 0;
  uint32_t q_lora_rank = 0;  // 0: no q compression (attn_q), and no q_lora_rank key (V2-Lite)
  uint32_t kv_lora_rank = 0, qk_nope = 0, qk_rope = 0, v_head = 0;
  uint32_t dense_ff = 0, first_dense = 0;
  uint32_t n_experts = 0, n_experts_used = 0, n_groups = 1, n_groups_used = 1, n_shared = 0, moe_ff = 0;
  uint32_t vocab = 0;
  bool sigmoid_gating = false;  // V3 noaux_tc (sigmoid + exp_probs_b); else softmax greedy
  bool norm_topk_prob = false;  // expert_weights_norm (written only when true, as the converter)
  float routed_scaling = 1.0f;  // expert_weights_scale
  float mscale_all_dim = 1.0f;  // yarn_log_multiplier = 0.1 * mscale_all_dim
  uint32_t context_length = 163840;
  float rope_theta = 10000.0f, yarn_factor = 40.0f, rms_eps = 1e-6f;
  uint32_t yarn_original_ctx = 4096;
  std::string tokenizer_pre;  // tokenizer.ggml.pre
};

// The known shapes: "deepseek-v2-lite", "deepseek-v3-mini".
const std::vector<ModelShape>& model_shapes();
const ModelShape* find_model_shape(const std::string& id);

enum class QuantMix { kQ4_K_M, kQ8_0, kBF16 };
std::optional<QuantMix> parse_quant_mix(const std::string& name);  // "q4_k_m", "q8_0", "bf16"
uint32_t quant_mix_file_type(QuantMix mix);                        // general.file_type (15, 7, 32)

// How a tensor's values are drawn ("test init" of the conformance models, norms exactly 1).
enum class TensorInit {
  kMatrix,  // N(0, 1/fan_in)
  kEmbed,   // N(0, 1)
  kOnes,    // RMSNorm weights
  kBias,    // exp_probs_b: N(0, 0.1^2)
};

struct TensorPlan {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<uint64_t> ne;  // ggml order
  TensorInit init = TensorInit::kMatrix;
  uint64_t fan_in = 1;
  uint64_t n_elements() const;
  uint64_t n_bytes() const;
};

// Every tensor of `shape` in file order (token_embd, blk.0 .. blk.N-1, output_norm, output), with
// the types `mix` gives. Q4_K_M follows llama-quantize's mix (see model_shapes.cc).
std::vector<TensorPlan> plan_tensors(const ModelShape& shape, QuantMix mix);

}  // namespace baleen::cli
