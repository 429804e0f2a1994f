#include "model/config.h"

#include <cmath>
#include <string>

namespace baleen {

const char* model_arch_name(ModelArch arch) {
  switch (arch) {
    case ModelArch::kDeepseek2:
      return "deepseek2";
    case ModelArch::kLlama:
      return "llama";
    case ModelArch::kQwen2:
      return "qwen2";
  }
  return "?";
}

uint64_t ModelConfig::kv_bytes_per_token(int bytes_per_element) const {
  const auto b = static_cast<uint64_t>(bytes_per_element);
  const auto layers = static_cast<uint64_t>(n_layers);
  if (arch == ModelArch::kDeepseek2) return static_cast<uint64_t>(kv_lora_rank + qk_rope_head_dim) * layers * b;
  return 2 * static_cast<uint64_t>(n_kv_heads * head_dim) * layers * b;
}

namespace {

// Typed access to `<arch>.<key>` with defaults; errors name the full key.
class GgufKeys {
 public:
  GgufKeys(const GgufFile& f, std::string arch) : f_(f), prefix_(std::move(arch) + ".") {}
  Result<int64_t> req_int(const std::string& key) const { return f_.get_int(prefix_ + key); }
  Result<int64_t> opt_int(const std::string& key, int64_t def) const {
    if (f_.find(prefix_ + key) == nullptr) return def;
    return f_.get_int(prefix_ + key);
  }
  Result<double> opt_num(const std::string& key, double def) const {
    if (f_.find(prefix_ + key) == nullptr) return def;
    return f_.get_number(prefix_ + key);
  }
  Result<bool> opt_bool(const std::string& key, bool def) const {
    if (f_.find(prefix_ + key) == nullptr) return def;
    return f_.get_bool(prefix_ + key);
  }
  Result<std::string> opt_str(const std::string& key, const std::string& def) const {
    if (f_.find(prefix_ + key) == nullptr) return def;
    return f_.get_string(prefix_ + key);
  }
  bool has(const std::string& key) const { return f_.find(prefix_ + key) != nullptr; }

 private:
  const GgufFile& f_;
  std::string prefix_;
};

Status positive(const char* what, int64_t v) {
  if (v <= 0)
    return make_error(ErrorCode::kCorruptFile, "%s must be positive, got %lld", what, static_cast<long long>(v));
  return ok_status();
}

}  // namespace

Result<ModelConfig> config_from_gguf(const GgufFile& gguf) {
  const std::string arch = gguf.architecture();
  ModelConfig c;
  if (arch == "deepseek2") {
    c.arch = ModelArch::kDeepseek2;
  } else if (arch == "llama") {
    c.arch = ModelArch::kLlama;
  } else if (arch == "qwen2") {
    c.arch = ModelArch::kQwen2;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported architecture '%s' (general.architecture; supported: deepseek2, llama, qwen2)",
                      arch.c_str());
  }
  const GgufKeys k(gguf, arch);
  BALEEN_ASSIGN_OR_RETURN(c.hidden_size, k.req_int("embedding_length"));
  BALEEN_ASSIGN_OR_RETURN(c.n_layers, k.req_int("block_count"));
  BALEEN_ASSIGN_OR_RETURN(c.n_heads, k.req_int("attention.head_count"));
  BALEEN_ASSIGN_OR_RETURN(c.n_kv_heads, k.opt_int("attention.head_count_kv", c.n_heads));
  BALEEN_ASSIGN_OR_RETURN(c.intermediate_size, k.opt_int("feed_forward_length", 0));
  BALEEN_ASSIGN_OR_RETURN(c.max_position_embeddings, k.opt_int("context_length", 4096));
  BALEEN_ASSIGN_OR_RETURN(c.rms_norm_eps, k.opt_num("attention.layer_norm_rms_epsilon", 1e-6));
  BALEEN_ASSIGN_OR_RETURN(c.rope_theta, k.opt_num("rope.freq_base", 10000.0));
  BALEEN_TRY(positive((arch + ".embedding_length").c_str(), c.hidden_size));
  BALEEN_TRY(positive((arch + ".block_count").c_str(), c.n_layers));
  BALEEN_TRY(positive((arch + ".attention.head_count").c_str(), c.n_heads));
  BALEEN_TRY(positive((arch + ".attention.head_count_kv").c_str(), c.n_kv_heads));
  // Vocabulary: the token embedding's row count is authoritative (vocab_size is optional).
  if (const GgufTensorInfo* t = gguf.find_tensor("token_embd.weight"); t != nullptr && t->ne.size() == 2) {
    c.n_vocab = static_cast<int64_t>(t->ne[1]);
  } else {
    BALEEN_ASSIGN_OR_RETURN(c.n_vocab, k.opt_int("vocab_size", 0));
  }

  BALEEN_ASSIGN_OR_RETURN(std::string scaling, k.opt_str("rope.scaling.type", ""));
  if (scaling == "none") scaling.clear();
  c.rope_scaling = scaling;
  BALEEN_ASSIGN_OR_RETURN(c.rope_factor, k.opt_num("rope.scaling.factor", 1.0));
  BALEEN_ASSIGN_OR_RETURN(c.rope_original_ctx, k.opt_num("rope.scaling.original_context_length", 0.0));
  BALEEN_ASSIGN_OR_RETURN(c.yarn_beta_fast, k.opt_num("rope.scaling.yarn_beta_fast", 32.0));
  BALEEN_ASSIGN_OR_RETURN(c.yarn_beta_slow, k.opt_num("rope.scaling.yarn_beta_slow", 1.0));
  // llama.cpp stores 0.1 * mscale_all_dim (conformance README 6.2, deepseek-spec 3.4).
  BALEEN_ASSIGN_OR_RETURN(double log_mul, k.opt_num("rope.scaling.yarn_log_multiplier", 0.0));
  c.yarn_mscale_all_dim = log_mul / 0.1;
  c.yarn_mscale = c.yarn_mscale_all_dim;
  if (!c.rope_scaling.empty() && c.rope_scaling != "yarn" && c.rope_scaling != "linear") {
    return make_error(ErrorCode::kUnsupported, "unsupported %s.rope.scaling.type '%s'", arch.c_str(),
                      c.rope_scaling.c_str());
  }

  if (c.arch == ModelArch::kDeepseek2) {
    if (!k.has("attention.key_length_mla") || gguf.find_tensor("blk.0.attn_kv_b.weight") != nullptr) {
      return make_error(ErrorCode::kUnsupported,
                        "legacy deepseek2 GGUF (attn_kv_b without attn_k_b/attn_v_b and the *_mla keys); "
                        "re-convert it with a llama.cpp converter from April 2025 or later");
    }
    BALEEN_ASSIGN_OR_RETURN(c.q_lora_rank, k.opt_int("attention.q_lora_rank", 0));
    BALEEN_ASSIGN_OR_RETURN(c.kv_lora_rank, k.req_int("attention.kv_lora_rank"));
    BALEEN_ASSIGN_OR_RETURN(c.qk_rope_head_dim, k.req_int("rope.dimension_count"));
    BALEEN_ASSIGN_OR_RETURN(int64_t key_mla, k.req_int("attention.key_length_mla"));
    BALEEN_ASSIGN_OR_RETURN(c.v_head_dim, k.req_int("attention.value_length_mla"));
    c.qk_nope_head_dim = key_mla - c.qk_rope_head_dim;
    BALEEN_TRY(positive("kv_lora_rank", c.kv_lora_rank));
    BALEEN_TRY(positive("qk_nope_head_dim", c.qk_nope_head_dim));
    BALEEN_TRY(positive("v_head_dim", c.v_head_dim));
    if (c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 != 0) {
      return make_error(ErrorCode::kCorruptFile, "%s.rope.dimension_count must be positive and even, got %lld",
                        arch.c_str(), static_cast<long long>(c.qk_rope_head_dim));
    }
    c.n_kv_heads = c.n_heads;  // MLA: the GGUF's head_count_kv = 1 describes the latent cache
    BALEEN_ASSIGN_OR_RETURN(c.first_k_dense_replace, k.opt_int("leading_dense_block_count", 0));
    BALEEN_ASSIGN_OR_RETURN(c.n_routed_experts, k.opt_int("expert_count", 0));
    BALEEN_ASSIGN_OR_RETURN(c.n_shared_experts, k.opt_int("expert_shared_count", 0));
    BALEEN_ASSIGN_OR_RETURN(c.num_experts_per_tok, k.opt_int("expert_used_count", 0));
    BALEEN_ASSIGN_OR_RETURN(c.moe_intermediate_size, k.opt_int("expert_feed_forward_length", 0));
    BALEEN_ASSIGN_OR_RETURN(c.n_group, k.opt_int("expert_group_count", 1));
    BALEEN_ASSIGN_OR_RETURN(c.topk_group, k.opt_int("expert_group_used_count", 1));
    BALEEN_ASSIGN_OR_RETURN(int64_t gating, k.opt_int("expert_gating_func", 1));
    if (gating != 1 && gating != 2) {
      return make_error(ErrorCode::kUnsupported, "%s.expert_gating_func %lld (1 softmax, 2 sigmoid)", arch.c_str(),
                        static_cast<long long>(gating));
    }
    c.scoring_sigmoid = gating == 2;
    BALEEN_ASSIGN_OR_RETURN(c.norm_topk_prob, k.opt_bool("expert_weights_norm", false));
    BALEEN_ASSIGN_OR_RETURN(c.routed_scaling_factor, k.opt_num("expert_weights_scale", 1.0));
    if (c.routed_scaling_factor == 0.0) c.routed_scaling_factor = 1.0;
    if (c.n_group < 1) c.n_group = 1;
    if (c.topk_group < 1) c.topk_group = c.n_group;
    if (c.n_routed_experts > 0) {
      BALEEN_TRY(positive("expert_used_count", c.num_experts_per_tok));
      BALEEN_TRY(positive("expert_feed_forward_length", c.moe_intermediate_size));
      if (c.num_experts_per_tok > c.n_routed_experts || c.n_routed_experts % c.n_group != 0 ||
          c.topk_group > c.n_group) {
        return make_error(ErrorCode::kCorruptFile, "inconsistent expert counts: %lld experts, %lld used, %lld groups",
                          static_cast<long long>(c.n_routed_experts), static_cast<long long>(c.num_experts_per_tok),
                          static_cast<long long>(c.n_group));
      }
    }
  } else {
    if (c.hidden_size % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0) {
      return make_error(ErrorCode::kCorruptFile, "%s: %lld heads / %lld kv heads do not divide hidden %lld",
                        arch.c_str(), static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads),
                        static_cast<long long>(c.hidden_size));
    }
    BALEEN_ASSIGN_OR_RETURN(c.head_dim, k.opt_int("attention.key_length", c.hidden_size / c.n_heads));
    BALEEN_ASSIGN_OR_RETURN(int64_t rope_dims, k.opt_int("rope.dimension_count", c.head_dim));
    if (rope_dims != c.head_dim || c.head_dim % 2 != 0) {
      return make_error(ErrorCode::kUnsupported, "%s: partial rotary (rope.dimension_count %lld, head dim %lld)",
                        arch.c_str(), static_cast<long long>(rope_dims), static_cast<long long>(c.head_dim));
    }
    BALEEN_TRY(positive("feed_forward_length", c.intermediate_size));
  }
  if (c.n_vocab <= 0) return make_error(ErrorCode::kNotFound, "tensor 'token_embd.weight' not found");

  if (const GgufValue* v = gguf.find("tokenizer.ggml.bos_token_id"); v != nullptr && v->as_int()) {
    c.bos_token_id = *v->as_int();
  }
  if (const GgufValue* v = gguf.find("tokenizer.ggml.eos_token_id"); v != nullptr && v->as_int()) {
    c.eos_token_ids.push_back(*v->as_int());
  }
  return c;
}

ModelConfig config_from_hf(const HfModelConfig& hf) {
  ModelConfig c;
  switch (hf.model_type) {
    case HfModelType::kDeepseekV2:
    case HfModelType::kDeepseekV3:
      c.arch = ModelArch::kDeepseek2;
      break;
    case HfModelType::kLlama:
      c.arch = ModelArch::kLlama;
      break;
    case HfModelType::kQwen2:
      c.arch = ModelArch::kQwen2;
      break;
  }
  c.n_vocab = hf.vocab_size;
  c.hidden_size = hf.hidden_size;
  c.n_layers = hf.num_hidden_layers;
  c.n_heads = hf.num_attention_heads;
  c.n_kv_heads = hf.is_deepseek() ? hf.num_attention_heads : hf.num_key_value_heads;
  c.head_dim = hf.is_deepseek() ? 0 : hf.head_dim;
  c.intermediate_size = hf.intermediate_size;
  c.max_position_embeddings = hf.max_position_embeddings;
  c.rms_norm_eps = hf.rms_norm_eps;
  c.rope_theta = hf.rope_theta;
  const RopeScaling& rs = hf.rope_scaling;
  switch (rs.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      c.rope_scaling = "linear";
      break;
    case RopeScalingType::kYarn:
      c.rope_scaling = "yarn";
      break;
    case RopeScalingType::kLlama3:
      c.rope_scaling = "llama3";
      break;
  }
  c.rope_factor = rs.factor;
  c.rope_original_ctx = static_cast<double>(rs.original_max_position_embeddings);
  c.yarn_beta_fast = rs.beta_fast;
  c.yarn_beta_slow = rs.beta_slow;
  c.yarn_mscale = rs.mscale;
  c.yarn_mscale_all_dim = rs.mscale_all_dim;
  c.llama3_low_freq_factor = rs.low_freq_factor;
  c.llama3_high_freq_factor = rs.high_freq_factor;
  c.q_lora_rank = hf.q_lora_rank;
  c.kv_lora_rank = hf.kv_lora_rank;
  c.qk_nope_head_dim = hf.qk_nope_head_dim;
  c.qk_rope_head_dim = hf.qk_rope_head_dim;
  c.v_head_dim = hf.v_head_dim;
  c.first_k_dense_replace = hf.n_routed_experts > 0 ? hf.first_k_dense_replace : hf.num_hidden_layers;
  c.n_routed_experts = hf.n_routed_experts;
  c.n_shared_experts = hf.n_shared_experts;
  c.num_experts_per_tok = hf.num_experts_per_tok;
  c.moe_intermediate_size = hf.moe_intermediate_size;
  const bool grouped = hf.topk_method != TopkMethod::kGreedy;
  c.n_group = grouped ? hf.n_group : 1;
  c.topk_group = grouped ? hf.topk_group : 1;
  c.scoring_sigmoid = hf.scoring_func == ScoringFunc::kSigmoid;
  // HF V2 normalises only for top_k > 1; V3 (sigmoid) always honours the flag.
  c.norm_topk_prob = hf.norm_topk_prob && (hf.num_experts_per_tok > 1 || c.scoring_sigmoid);
  c.routed_scaling_factor = hf.routed_scaling_factor;
  c.n_mtp_layers = hf.num_nextn_predict_layers;
  if (hf.bos_token_id) c.bos_token_id = *hf.bos_token_id;
  c.eos_token_ids = hf.eos_token_ids;
  return c;
}

RopeSetup make_rope_setup(const ModelConfig& cfg, RopeStyle style, const std::vector<float>& freq_factors) {
  RopeSetup r;
  r.style = style;
  const bool mla = cfg.arch == ModelArch::kDeepseek2;
  r.rope_dims = mla ? cfg.qk_rope_head_dim : cfg.head_dim;
  if (cfg.rope_scaling == "yarn") {
    r.inv_freq = yarn_inv_freq(r.rope_dims, cfg.rope_theta, cfg.rope_factor, cfg.rope_original_ctx, cfg.yarn_beta_fast,
                               cfg.yarn_beta_slow);
  } else if (cfg.rope_scaling == "llama3") {
    r.inv_freq = llama3_inv_freq(r.rope_dims, cfg.rope_theta, cfg.rope_factor, cfg.llama3_low_freq_factor,
                                 cfg.llama3_high_freq_factor, cfg.rope_original_ctx);
  } else {
    r.inv_freq = rope_inv_freq(r.rope_dims, cfg.rope_theta);
    if (cfg.rope_scaling == "linear" && cfg.rope_factor > 0.0) {
      for (float& f : r.inv_freq) f = static_cast<float>(f / cfg.rope_factor);
    }
  }
  for (size_t i = 0; i < freq_factors.size() && i < r.inv_freq.size(); ++i) r.inv_freq[i] /= freq_factors[i];
  if (mla) {
    double scale = 1.0 / std::sqrt(static_cast<double>(cfg.qk_nope_head_dim + cfg.qk_rope_head_dim));
    if (cfg.rope_scaling == "yarn") {
      const double m = yarn_mscale(cfg.rope_factor, cfg.yarn_mscale_all_dim);
      scale *= m * m;
    }
    r.attn_scale = static_cast<float>(scale);
  } else {
    r.attn_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg.head_dim)));
  }
  return r;
}

}  // namespace baleen
