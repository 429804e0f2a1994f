// Hugging Face config.json -> a typed, validated HfModelConfig for the architectures Baleen runs:
// deepseek_v2 / deepseek_v3 (MLA + DeepSeekMoE, optional FP8 block quantization) and the dense
// R1-Distill bases qwen2 / llama. Unknown harmless keys are ignored; unsupported values, missing
// required fields and inconsistent dimensions are errors that name the field. Used by HF-folder
// loading, convert and `baleen inspect` (hf_config_summary).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace baleen {

enum class HfModelType { kDeepseekV2, kDeepseekV3, kQwen2, kLlama };
const char* hf_model_type_name(HfModelType type);  // "deepseek_v2", ...

enum class RopeScalingType { kNone, kLinear, kYarn, kLlama3 };
const char* rope_scaling_type_name(RopeScalingType type);  // "none", "linear", "yarn", "llama3"

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // yarn, llama3
  // yarn (DeepSeek): defaults as in HF's DeepSeek modelling code.
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
};

enum class TopkMethod { kGreedy, kGroupLimitedGreedy, kNoauxTc };
const char* topk_method_name(TopkMethod m);
enum class ScoringFunc { kSoftmax, kSigmoid };
const char* scoring_func_name(ScoringFunc f);

// quantization_config of DeepSeek FP8 checkpoints: quant_method fp8, fmt e4m3, 128x128 blocks,
// dynamic activations; ue8m0 when scale_fmt says so (V3.1+).
struct HfQuantization {
  int64_t block_rows = 128;
  int64_t block_cols = 128;
  bool ue8m0_scales = false;
};

struct HfModelConfig {
  HfModelType model_type = HfModelType::kLlama;
  std::vector<std::string> architectures;
  std::string torch_dtype;  // "bfloat16", ... ("" when absent); from "torch_dtype" or "dtype"

  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // dense FFN width
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // llama/qwen2: hidden_size / num_attention_heads; MLA: 0 (see below)
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json allows an int or a list
  bool attention_bias = false;         // bias on q/k/v/o as the config states it
  bool qkv_bias = false;               // q/k/v projections carry a bias (qwen2: always; else attention_bias)

  // DeepSeek MLA (deepseek_v2 / deepseek_v3 only).
  int64_t q_lora_rank = 0;  // null in config -> 0: a plain q_proj (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;

  // DeepSeekMoE (n_routed_experts == 0: every layer dense).
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod topk_method = TopkMethod::kGreedy;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int64_t num_nextn_predict_layers = 0;  // MTP layers after the main ones (V3)

  std::optional<HfQuantization> quantization;  // FP8 checkpoints

  bool is_deepseek() const { return model_type == HfModelType::kDeepseekV2 || model_type == HfModelType::kDeepseekV3; }
  // qk_nope_head_dim + qk_rope_head_dim for MLA, head_dim otherwise.
  int64_t qk_head_dim() const { return is_deepseek() ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
  // True when main-model layer `layer` (0-based) uses the MoE FFN (spec 1.2).
  bool is_moe_layer(int64_t layer) const {
    return is_deepseek() && n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
};

// Parses config.json text. Errors: kUnsupported for an unknown model_type (listing the supported
// ones) or an unsupported value (message names field and value); kCorruptFile for invalid JSON,
// missing required fields, wrong types and inconsistent dimensions (message names the field).
Result<HfModelConfig> parse_hf_config(std::string_view json_text);
// Reads `path` (a config.json or a folder holding one) and parses it.
Result<HfModelConfig> load_hf_config(const std::string& path);

// One line for `baleen inspect`, e.g. "deepseek_v3 (DeepseekV3ForCausalLM): 3 layers (1 dense + 2 MoE)
// + 1 MTP, hidden 256, vocab 512, ctx 163840, MLA 4 heads q_lora 128 kv_lora 64 ...".
std::string hf_config_summary(const HfModelConfig& config);

}  // namespace baleen
