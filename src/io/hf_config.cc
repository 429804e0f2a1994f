#include "io/hf_config.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/mapped_file.h"
#include "io/json_strict.h"

namespace baleen {
namespace {

using json = nlohmann::json;

constexpr const char* kSupportedTypes = "deepseek_v2, deepseek_v3, qwen2, llama";

// Typed access to the fields of one JSON object; `prefix` ("rope_scaling.") qualifies names in errors.
class Fields {
 public:
  Fields(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  // nullptr when the key is absent or null.
  const json* get(const char* key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(const char* key) const { return get(key) != nullptr; }
  bool present(const char* key) const { return obj_.contains(key); }

  Error missing(const char* key) const {
    return make_error(ErrorCode::kCorruptFile, "config.json: missing required field '%s%s'", prefix_.c_str(), key);
  }
  Error wrong_type(const char* key, const char* want, const json& v) const {
    return make_error(ErrorCode::kCorruptFile, "config.json: field '%s%s' must be %s, got %s", prefix_.c_str(), key,
                      want, json_type_name(v));
  }
  Error bad_value(const char* key, const std::string& why) const {
    return make_error(ErrorCode::kCorruptFile, "config.json: field '%s%s' %s", prefix_.c_str(), key, why.c_str());
  }
  Error unsupported(const char* key, const std::string& value, const char* supported) const {
    return make_error(ErrorCode::kUnsupported, "config.json: unsupported %s%s '%s' (supported: %s)", prefix_.c_str(),
                      key, value.c_str(), supported);
  }

  Result<int64_t> to_int(const char* key, const json& v) const {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return bad_value(key, "is too large");
      }
      return v.get<int64_t>();
    }
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    }
    return wrong_type(key, "an integer", v);
  }
  Result<int64_t> req_int(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return missing(key);
    return to_int(key, *v);
  }
  Result<int64_t> opt_int(const char* key, int64_t def) const {
    const json* v = get(key);
    return v == nullptr ? Result<int64_t>(def) : to_int(key, *v);
  }
  Result<double> to_num(const char* key, const json& v) const {
    if (!v.is_number()) return wrong_type(key, "a number", v);
    return v.get<double>();
  }
  Result<double> req_num(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return missing(key);
    return to_num(key, *v);
  }
  Result<double> opt_num(const char* key, double def) const {
    const json* v = get(key);
    return v == nullptr ? Result<double>(def) : to_num(key, *v);
  }
  Result<bool> opt_bool(const char* key, bool def) const {
    const json* v = get(key);
    if (v == nullptr) return def;
    if (!v->is_boolean()) return wrong_type(key, "a boolean", *v);
    return v->get<bool>();
  }
  Result<std::string> opt_str(const char* key, const std::string& def) const {
    const json* v = get(key);
    if (v == nullptr) return def;
    if (!v->is_string()) return wrong_type(key, "a string", *v);
    return v->get<std::string>();
  }
  Result<std::string> req_str(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return missing(key);
    if (!v->is_string()) return wrong_type(key, "a string", *v);
    return v->get<std::string>();
  }

 private:
  const json& obj_;
  std::string prefix_;
};

Result<RopeScaling> parse_rope_scaling(const Fields& top) {
  RopeScaling r;
  const json* v = top.get("rope_scaling");
  if (v == nullptr) return r;
  if (!v->is_object()) return top.wrong_type("rope_scaling", "an object or null", *v);
  Fields f(*v, "rope_scaling.");
  // HF spells the kind "type" (DeepSeek) or "rope_type" (Llama 3).
  std::string type;
  if (f.has("rope_type")) {
    BALEEN_ASSIGN_OR_RETURN(type, f.req_str("rope_type"));
  } else if (f.has("type")) {
    BALEEN_ASSIGN_OR_RETURN(type, f.req_str("type"));
  } else {
    return f.missing("type");
  }
  if (type == "default") return r;
  if (type == "linear") {
    r.type = RopeScalingType::kLinear;
    BALEEN_ASSIGN_OR_RETURN(r.factor, f.req_num("factor"));
  } else if (type == "yarn") {
    r.type = RopeScalingType::kYarn;
    BALEEN_ASSIGN_OR_RETURN(r.factor, f.req_num("factor"));
    BALEEN_ASSIGN_OR_RETURN(r.original_max_position_embeddings, f.req_int("original_max_position_embeddings"));
    BALEEN_ASSIGN_OR_RETURN(r.beta_fast, f.opt_num("beta_fast", 32.0));
    BALEEN_ASSIGN_OR_RETURN(r.beta_slow, f.opt_num("beta_slow", 1.0));
    BALEEN_ASSIGN_OR_RETURN(r.mscale, f.opt_num("mscale", 1.0));
    BALEEN_ASSIGN_OR_RETURN(r.mscale_all_dim, f.opt_num("mscale_all_dim", 0.0));
    if (!(r.beta_fast > r.beta_slow) || r.beta_slow <= 0) {
      return f.bad_value("beta_fast", "must be greater than beta_slow > 0");
    }
  } else if (type == "llama3") {
    r.type = RopeScalingType::kLlama3;
    BALEEN_ASSIGN_OR_RETURN(r.factor, f.req_num("factor"));
    BALEEN_ASSIGN_OR_RETURN(r.low_freq_factor, f.req_num("low_freq_factor"));
    BALEEN_ASSIGN_OR_RETURN(r.high_freq_factor, f.req_num("high_freq_factor"));
    BALEEN_ASSIGN_OR_RETURN(r.original_max_position_embeddings, f.req_int("original_max_position_embeddings"));
    if (!(r.high_freq_factor > r.low_freq_factor) || r.low_freq_factor <= 0) {
      return f.bad_value("high_freq_factor", "must be greater than low_freq_factor > 0");
    }
  } else {
    return f.unsupported("type", type, "linear, yarn, llama3, default");
  }
  if (!(r.factor > 0) || !std::isfinite(r.factor)) return f.bad_value("factor", "must be positive");
  if (r.type != RopeScalingType::kLinear && r.original_max_position_embeddings <= 0) {
    return f.bad_value("original_max_position_embeddings", "must be positive");
  }
  return r;
}

Result<std::optional<HfQuantization>> parse_quantization(const Fields& top) {
  const json* v = top.get("quantization_config");
  if (v == nullptr) return std::optional<HfQuantization>();
  if (!v->is_object()) return top.wrong_type("quantization_config", "an object", *v);
  Fields f(*v, "quantization_config.");
  HfQuantization q;
  BALEEN_ASSIGN_OR_RETURN(std::string method, f.req_str("quant_method"));
  if (method != "fp8") return f.unsupported("quant_method", method, "fp8");
  BALEEN_ASSIGN_OR_RETURN(std::string fmt, f.opt_str("fmt", "e4m3"));
  if (fmt != "e4m3") return f.unsupported("fmt", fmt, "e4m3");
  BALEEN_ASSIGN_OR_RETURN(std::string act, f.opt_str("activation_scheme", "dynamic"));
  if (act != "dynamic") return f.unsupported("activation_scheme", act, "dynamic");
  const json* bs = f.get("weight_block_size");
  if (bs == nullptr) return f.missing("weight_block_size");
  if (!bs->is_array() || bs->size() != 2) return f.wrong_type("weight_block_size", "an array of two integers", *bs);
  BALEEN_ASSIGN_OR_RETURN(q.block_rows, f.to_int("weight_block_size", (*bs)[0]));
  BALEEN_ASSIGN_OR_RETURN(q.block_cols, f.to_int("weight_block_size", (*bs)[1]));
  if (q.block_rows != 128 || q.block_cols != 128) {
    return f.unsupported("weight_block_size",
                         "[" + std::to_string(q.block_rows) + ", " + std::to_string(q.block_cols) + "]", "[128, 128]");
  }
  BALEEN_ASSIGN_OR_RETURN(std::string scale_fmt, f.opt_str("scale_fmt", ""));
  if (!scale_fmt.empty() && scale_fmt != "ue8m0") return f.unsupported("scale_fmt", scale_fmt, "ue8m0 or absent");
  q.ue8m0_scales = scale_fmt == "ue8m0";
  return std::optional<HfQuantization>(q);
}

Result<std::vector<int64_t>> parse_token_ids(const Fields& f, const char* key) {
  std::vector<int64_t> ids;
  const json* v = f.get(key);
  if (v == nullptr) return ids;
  if (v->is_array()) {
    for (const json& e : *v) {
      BALEEN_ASSIGN_OR_RETURN(int64_t id, f.to_int(key, e));
      ids.push_back(id);
    }
  } else {
    BALEEN_ASSIGN_OR_RETURN(int64_t id, f.to_int(key, *v));
    ids.push_back(id);
  }
  for (int64_t id : ids) {
    if (id < 0) return f.bad_value(key, "must be non-negative, got " + std::to_string(id));
  }
  return ids;
}

Status parse_deepseek(const Fields& f, HfModelConfig& c) {
  const bool v3 = c.model_type == HfModelType::kDeepseekV3;
  if (!f.present("q_lora_rank")) return f.missing("q_lora_rank");
  BALEEN_ASSIGN_OR_RETURN(c.q_lora_rank, f.opt_int("q_lora_rank", 0));
  BALEEN_ASSIGN_OR_RETURN(c.kv_lora_rank, f.req_int("kv_lora_rank"));
  BALEEN_ASSIGN_OR_RETURN(c.qk_nope_head_dim, f.req_int("qk_nope_head_dim"));
  BALEEN_ASSIGN_OR_RETURN(c.qk_rope_head_dim, f.req_int("qk_rope_head_dim"));
  BALEEN_ASSIGN_OR_RETURN(c.v_head_dim, f.req_int("v_head_dim"));
  BALEEN_ASSIGN_OR_RETURN(c.num_nextn_predict_layers, f.opt_int("num_nextn_predict_layers", 0));

  if (!f.present("n_routed_experts")) return f.missing("n_routed_experts");
  BALEEN_ASSIGN_OR_RETURN(c.n_routed_experts, f.opt_int("n_routed_experts", 0));
  if (c.n_routed_experts > 0) {
    BALEEN_ASSIGN_OR_RETURN(c.num_experts_per_tok, f.req_int("num_experts_per_tok"));
    BALEEN_ASSIGN_OR_RETURN(c.moe_intermediate_size, f.req_int("moe_intermediate_size"));
  }
  BALEEN_ASSIGN_OR_RETURN(c.n_shared_experts, f.opt_int("n_shared_experts", 0));
  BALEEN_ASSIGN_OR_RETURN(c.first_k_dense_replace, f.opt_int("first_k_dense_replace", 0));
  BALEEN_ASSIGN_OR_RETURN(c.moe_layer_freq, f.opt_int("moe_layer_freq", 1));
  BALEEN_ASSIGN_OR_RETURN(c.n_group, f.opt_int("n_group", 1));
  BALEEN_ASSIGN_OR_RETURN(c.topk_group, f.opt_int("topk_group", 1));
  BALEEN_ASSIGN_OR_RETURN(std::string topk, f.opt_str("topk_method", v3 ? "noaux_tc" : "greedy"));
  if (topk == "greedy") {
    c.topk_method = TopkMethod::kGreedy;
  } else if (topk == "group_limited_greedy") {
    c.topk_method = TopkMethod::kGroupLimitedGreedy;
  } else if (topk == "noaux_tc") {
    c.topk_method = TopkMethod::kNoauxTc;
  } else {
    return f.unsupported("topk_method", topk, "greedy, group_limited_greedy, noaux_tc");
  }
  BALEEN_ASSIGN_OR_RETURN(std::string scoring, f.opt_str("scoring_func", v3 ? "sigmoid" : "softmax"));
  if (scoring == "softmax") {
    c.scoring_func = ScoringFunc::kSoftmax;
  } else if (scoring == "sigmoid") {
    c.scoring_func = ScoringFunc::kSigmoid;
  } else {
    return f.unsupported("scoring_func", scoring, "softmax, sigmoid");
  }
  BALEEN_ASSIGN_OR_RETURN(c.norm_topk_prob, f.opt_bool("norm_topk_prob", v3));
  BALEEN_ASSIGN_OR_RETURN(c.routed_scaling_factor, f.opt_num("routed_scaling_factor", v3 ? 2.5 : 1.0));

  // Dimension sanity.
  if (c.q_lora_rank < 0) return f.bad_value("q_lora_rank", "must be non-negative or null");
  if (c.kv_lora_rank <= 0) return f.bad_value("kv_lora_rank", "must be positive");
  if (c.qk_nope_head_dim <= 0) return f.bad_value("qk_nope_head_dim", "must be positive");
  if (c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 != 0) {
    return f.bad_value("qk_rope_head_dim", "must be positive and even");
  }
  if (c.v_head_dim <= 0) return f.bad_value("v_head_dim", "must be positive");
  if (c.num_nextn_predict_layers < 0) return f.bad_value("num_nextn_predict_layers", "must be non-negative");
  if (c.n_routed_experts < 0) return f.bad_value("n_routed_experts", "must be non-negative");
  if (c.n_shared_experts < 0) return f.bad_value("n_shared_experts", "must be non-negative");
  if (c.first_k_dense_replace < 0) return f.bad_value("first_k_dense_replace", "must be non-negative");
  if (c.moe_layer_freq <= 0) return f.bad_value("moe_layer_freq", "must be positive");
  if (c.n_routed_experts > 0) {
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.n_routed_experts) {
      return f.bad_value("num_experts_per_tok",
                         "must be in [1, n_routed_experts = " + std::to_string(c.n_routed_experts) + "], got " +
                             std::to_string(c.num_experts_per_tok));
    }
    if (c.moe_intermediate_size <= 0) return f.bad_value("moe_intermediate_size", "must be positive");
    if (c.n_group <= 0) return f.bad_value("n_group", "must be positive");
    if (c.topk_group <= 0 || c.topk_group > c.n_group) {
      return f.bad_value("topk_group", "must be in [1, n_group = " + std::to_string(c.n_group) + "], got " +
                                           std::to_string(c.topk_group));
    }
    if (c.n_routed_experts % c.n_group != 0) {
      return f.bad_value("n_group", "must divide n_routed_experts (" + std::to_string(c.n_routed_experts) + " % " +
                                        std::to_string(c.n_group) + " != 0)");
    }
    if (c.topk_method != TopkMethod::kGreedy &&
        c.num_experts_per_tok > c.topk_group * (c.n_routed_experts / c.n_group)) {
      return f.bad_value("num_experts_per_tok", "exceeds the experts in topk_group groups");
    }
  }
  return ok_status();
}

}  // namespace

const char* hf_model_type_name(HfModelType type) {
  switch (type) {
    case HfModelType::kDeepseekV2:
      return "deepseek_v2";
    case HfModelType::kDeepseekV3:
      return "deepseek_v3";
    case HfModelType::kQwen2:
      return "qwen2";
    case HfModelType::kLlama:
      return "llama";
  }
  return "?";
}

const char* rope_scaling_type_name(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::kNone:
      return "none";
    case RopeScalingType::kLinear:
      return "linear";
    case RopeScalingType::kYarn:
      return "yarn";
    case RopeScalingType::kLlama3:
      return "llama3";
  }
  return "?";
}

const char* topk_method_name(TopkMethod m) {
  switch (m) {
    case TopkMethod::kGreedy:
      return "greedy";
    case TopkMethod::kGroupLimitedGreedy:
      return "group_limited_greedy";
    case TopkMethod::kNoauxTc:
      return "noaux_tc";
  }
  return "?";
}

const char* scoring_func_name(ScoringFunc f) { return f == ScoringFunc::kSoftmax ? "softmax" : "sigmoid"; }

Result<HfModelConfig> parse_hf_config(std::string_view json_text) {
  BALEEN_ASSIGN_OR_RETURN(json root, parse_json_strict(json_text, "config.json"));
  if (!root.is_object()) {
    return make_error(ErrorCode::kCorruptFile, "config.json must be a JSON object, got %s", json_type_name(root));
  }
  Fields f(root, "");
  HfModelConfig c;

  BALEEN_ASSIGN_OR_RETURN(std::string type, f.req_str("model_type"));
  if (type == "deepseek_v2") {
    c.model_type = HfModelType::kDeepseekV2;
  } else if (type == "deepseek_v3") {
    c.model_type = HfModelType::kDeepseekV3;
  } else if (type == "qwen2") {
    c.model_type = HfModelType::kQwen2;
  } else if (type == "llama") {
    c.model_type = HfModelType::kLlama;
  } else {
    return make_error(ErrorCode::kUnsupported, "config.json: unsupported model_type '%s' (supported: %s)", type.c_str(),
                      kSupportedTypes);
  }

  if (const json* a = f.get("architectures")) {
    if (!a->is_array()) return f.wrong_type("architectures", "an array of strings", *a);
    for (const json& e : *a) {
      if (!e.is_string()) return f.wrong_type("architectures", "an array of strings", e);
      c.architectures.push_back(e.get<std::string>());
    }
  }
  BALEEN_ASSIGN_OR_RETURN(c.torch_dtype, f.opt_str("torch_dtype", ""));
  if (c.torch_dtype.empty()) {
    BALEEN_ASSIGN_OR_RETURN(c.torch_dtype, f.opt_str("dtype", ""));
  }
  BALEEN_ASSIGN_OR_RETURN(std::string act, f.opt_str("hidden_act", "silu"));
  if (act != "silu") return f.unsupported("hidden_act", act, "silu");

  BALEEN_ASSIGN_OR_RETURN(c.hidden_size, f.req_int("hidden_size"));
  BALEEN_ASSIGN_OR_RETURN(c.intermediate_size, f.req_int("intermediate_size"));
  BALEEN_ASSIGN_OR_RETURN(c.num_hidden_layers, f.req_int("num_hidden_layers"));
  BALEEN_ASSIGN_OR_RETURN(c.num_attention_heads, f.req_int("num_attention_heads"));
  BALEEN_ASSIGN_OR_RETURN(c.num_key_value_heads, f.opt_int("num_key_value_heads", c.num_attention_heads));
  BALEEN_ASSIGN_OR_RETURN(c.vocab_size, f.req_int("vocab_size"));
  BALEEN_ASSIGN_OR_RETURN(c.max_position_embeddings, f.req_int("max_position_embeddings"));
  BALEEN_ASSIGN_OR_RETURN(c.rms_norm_eps, f.opt_num("rms_norm_eps", 1e-6));
  BALEEN_ASSIGN_OR_RETURN(c.rope_theta, f.opt_num("rope_theta", 10000.0));
  BALEEN_ASSIGN_OR_RETURN(c.rope_scaling, parse_rope_scaling(f));
  BALEEN_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.opt_bool("tie_word_embeddings", false));
  BALEEN_ASSIGN_OR_RETURN(std::vector<int64_t> bos, parse_token_ids(f, "bos_token_id"));
  if (bos.size() > 1) return f.bad_value("bos_token_id", "must be a single id");
  if (!bos.empty()) c.bos_token_id = bos[0];
  BALEEN_ASSIGN_OR_RETURN(c.eos_token_ids, parse_token_ids(f, "eos_token_id"));
  BALEEN_ASSIGN_OR_RETURN(c.attention_bias, f.opt_bool("attention_bias", false));
  BALEEN_ASSIGN_OR_RETURN(c.quantization, parse_quantization(f));

  // Common sanity.
  const std::pair<const char*, int64_t> positive[] = {
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
  };
  for (const auto& [key, value] : positive) {
    if (value <= 0) return f.bad_value(key, "must be positive, got " + std::to_string(value));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return f.bad_value("num_key_value_heads", "must divide num_attention_heads (" +
                                                  std::to_string(c.num_attention_heads) + " % " +
                                                  std::to_string(c.num_key_value_heads) + " != 0)");
  }
  if (!(c.rms_norm_eps > 0) || !std::isfinite(c.rms_norm_eps)) return f.bad_value("rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta)) return f.bad_value("rope_theta", "must be positive");

  if (c.is_deepseek()) {
    BALEEN_TRY(parse_deepseek(f, c));
    c.qkv_bias = c.attention_bias;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return f.bad_value("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + " % " +
                                                    std::to_string(c.num_attention_heads) + " != 0)");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
    BALEEN_ASSIGN_OR_RETURN(int64_t head_dim, f.opt_int("head_dim", c.head_dim));
    if (head_dim != c.head_dim) {
      return f.unsupported("head_dim", std::to_string(head_dim),
                           ("hidden_size / num_attention_heads = " + std::to_string(c.head_dim)).c_str());
    }
    if (c.model_type == HfModelType::kQwen2) {
      c.qkv_bias = true;  // Qwen2 always has q/k/v biases (and none on o_proj)
      BALEEN_ASSIGN_OR_RETURN(bool sliding, f.opt_bool("use_sliding_window", false));
      if (sliding) return f.unsupported("use_sliding_window", "true", "false");
    } else {
      c.qkv_bias = c.attention_bias;
      BALEEN_ASSIGN_OR_RETURN(bool mlp_bias, f.opt_bool("mlp_bias", false));
      if (mlp_bias) return f.unsupported("mlp_bias", "true", "false");
    }
  }
  return c;
}

Result<HfModelConfig> load_hf_config(const std::string& path) {
  std::error_code ec;
  std::string file =
      std::filesystem::is_directory(path, ec) ? (std::filesystem::path(path) / "config.json").string() : path;
  BALEEN_ASSIGN_OR_RETURN(std::string text, read_file(file));
  auto c = parse_hf_config(text);
  if (!c.ok()) return c.error().with_context(file);
  return c;
}

std::string hf_config_summary(const HfModelConfig& c) {
  char buf[512];
  std::string s = hf_model_type_name(c.model_type);
  if (!c.architectures.empty()) s += " (" + c.architectures[0] + ")";
  int64_t n_moe = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) n_moe += c.is_moe_layer(l) ? 1 : 0;
  std::snprintf(buf, sizeof(buf), ": %lld layers", static_cast<long long>(c.num_hidden_layers));
  s += buf;
  if (n_moe > 0) {
    std::snprintf(buf, sizeof(buf), " (%lld dense + %lld MoE)", static_cast<long long>(c.num_hidden_layers - n_moe),
                  static_cast<long long>(n_moe));
    s += buf;
  }
  if (c.num_nextn_predict_layers > 0) s += " + " + std::to_string(c.num_nextn_predict_layers) + " MTP";
  std::snprintf(buf, sizeof(buf), ", hidden %lld, ffn %lld, vocab %lld, ctx %lld",
                static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size),
                static_cast<long long>(c.vocab_size), static_cast<long long>(c.max_position_embeddings));
  s += buf;
  if (c.is_deepseek()) {
    std::snprintf(buf, sizeof(buf), ", MLA %lld heads q_lora %lld kv_lora %lld nope %lld rope %lld v %lld",
                  static_cast<long long>(c.num_attention_heads), static_cast<long long>(c.q_lora_rank),
                  static_cast<long long>(c.kv_lora_rank), static_cast<long long>(c.qk_nope_head_dim),
                  static_cast<long long>(c.qk_rope_head_dim), static_cast<long long>(c.v_head_dim));
    s += buf;
    if (c.n_routed_experts > 0) {
      std::snprintf(
          buf, sizeof(buf), ", MoE %lld experts (ff %lld) top-%lld in %lld/%lld groups %s/%s%s x%g + %lld shared",
          static_cast<long long>(c.n_routed_experts), static_cast<long long>(c.moe_intermediate_size),
          static_cast<long long>(c.num_experts_per_tok), static_cast<long long>(c.topk_group),
          static_cast<long long>(c.n_group), topk_method_name(c.topk_method), scoring_func_name(c.scoring_func),
          c.norm_topk_prob ? " renorm" : "", c.routed_scaling_factor, static_cast<long long>(c.n_shared_experts));
      s += buf;
    }
  } else {
    std::snprintf(buf, sizeof(buf), ", %lld/%lld heads x %lld%s", static_cast<long long>(c.num_attention_heads),
                  static_cast<long long>(c.num_key_value_heads), static_cast<long long>(c.head_dim),
                  c.qkv_bias ? " qkv-bias" : "");
    s += buf;
  }
  std::snprintf(buf, sizeof(buf), ", rope theta %g", c.rope_theta);
  s += buf;
  if (c.rope_scaling.type != RopeScalingType::kNone) {
    std::snprintf(buf, sizeof(buf), " %s x%g", rope_scaling_type_name(c.rope_scaling.type), c.rope_scaling.factor);
    s += buf;
  }
  if (c.tie_word_embeddings) s += ", tied embeddings";
  if (c.quantization) {
    std::snprintf(buf, sizeof(buf), ", fp8 e4m3 %lldx%lld%s", static_cast<long long>(c.quantization->block_rows),
                  static_cast<long long>(c.quantization->block_cols), c.quantization->ue8m0_scales ? " ue8m0" : "");
    s += buf;
  } else if (!c.torch_dtype.empty()) {
    s += ", " + c.torch_dtype;
  }
  return s;
}

}  // namespace baleen
