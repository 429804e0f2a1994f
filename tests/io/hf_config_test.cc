// HfModelConfig parsing: the three conformance configs against the numbers stated in
// conformance/README.md sections 6.1 and 7.1, hand-written R1-Distill base configs against
// deepseek-spec.md section 1.3, and error cases that must name the offending field.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "io/hf_config.h"
#include "testing.h"

namespace baleen {
namespace {

using json = nlohmann::json;

TEST(HfConfigConformance, Ds2Micro) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto r = load_hf_config(testing::conformance_path("hf/ds2-micro-bf16"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const HfModelConfig& c = *r;
  EXPECT_EQ(c.model_type, HfModelType::kDeepseekV2);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"DeepseekV2ForCausalLM"});
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.q_lora_rank, 0);
  EXPECT_EQ(c.kv_lora_rank, 64);
  EXPECT_EQ(c.qk_nope_head_dim, 32);
  EXPECT_EQ(c.qk_rope_head_dim, 16);
  EXPECT_EQ(c.v_head_dim, 32);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(1));
  EXPECT_TRUE(c.is_moe_layer(2));
  EXPECT_EQ(c.n_routed_experts, 8);
  EXPECT_EQ(c.moe_intermediate_size, 32);
  EXPECT_EQ(c.num_experts_per_tok, 2);
  EXPECT_EQ(c.scoring_func, ScoringFunc::kSoftmax);
  EXPECT_EQ(c.topk_method, TopkMethod::kGreedy);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.0);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kYarn);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_fast, 32);
  EXPECT_DOUBLE_EQ(c.rope_scaling.beta_slow, 1);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 0.707);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 0.707);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e4);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.max_position_embeddings, 163840);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(c.num_nextn_predict_layers, 0);
  EXPECT_FALSE(c.quantization.has_value());
  std::string s = hf_config_summary(c);
  EXPECT_NE(s.find("deepseek_v2"), std::string::npos) << s;
  EXPECT_EQ(s.find('\n'), std::string::npos);
  std::printf("summary: %s\n", s.c_str());
}

void expect_ds3(const HfModelConfig& c) {
  EXPECT_EQ(c.model_type, HfModelType::kDeepseekV3);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"DeepseekV3ForCausalLM"});
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.q_lora_rank, 128);
  EXPECT_EQ(c.kv_lora_rank, 64);
  EXPECT_EQ(c.qk_nope_head_dim, 32);
  EXPECT_EQ(c.qk_rope_head_dim, 16);
  EXPECT_EQ(c.v_head_dim, 32);
  EXPECT_EQ(c.intermediate_size, 256);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(1));
  EXPECT_EQ(c.n_routed_experts, 16);
  EXPECT_EQ(c.moe_intermediate_size, 32);
  EXPECT_EQ(c.num_experts_per_tok, 4);
  EXPECT_EQ(c.n_group, 4);
  EXPECT_EQ(c.topk_group, 2);
  EXPECT_EQ(c.scoring_func, ScoringFunc::kSigmoid);
  EXPECT_EQ(c.topk_method, TopkMethod::kNoauxTc);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kYarn);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_EQ(c.max_position_embeddings, 163840);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
}

TEST(HfConfigConformance, Ds3MicroBf16) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto r = load_hf_config(testing::conformance_path("hf/ds3-micro-bf16/config.json"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  expect_ds3(*r);
  EXPECT_FALSE(r->quantization.has_value());
}

TEST(HfConfigConformance, Ds3MicroFp8) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto r = load_hf_config(testing::conformance_path("hf/ds3-micro-fp8"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  expect_ds3(*r);
  ASSERT_TRUE(r->quantization.has_value());
  EXPECT_EQ(r->quantization->block_rows, 128);
  EXPECT_EQ(r->quantization->block_cols, 128);
  EXPECT_FALSE(r->quantization->ue8m0_scales);
  std::printf("summary: %s\n", hf_config_summary(*r).c_str());
}

// DeepSeek-R1-Distill-Qwen-1.5B shape (deepseek-spec.md 1.3), written in the usual HF layout.
json qwen2_config() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
    "intermediate_size": 8960, "max_position_embeddings": 131072, "max_window_layers": 21,
    "model_type": "qwen2", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_theta": 10000, "sliding_window": 4096, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "transformers_version": "4.44.0", "use_cache": true,
    "use_mrope": false, "use_sliding_window": false, "vocab_size": 151936})");
}

// DeepSeek-R1-Distill-Llama-8B shape (deepseek-spec.md 1.3).
json llama_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0,
    "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
    "vocab_size": 128256})");
}

TEST(HfConfig, Qwen2Distill) {
  auto r = parse_hf_config(qwen2_config().dump());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const HfModelConfig& c = *r;
  EXPECT_EQ(c.model_type, HfModelType::kQwen2);
  EXPECT_EQ(c.hidden_size, 1536);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.intermediate_size, 8960);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_TRUE(c.qkv_bias);  // implicit for qwen2
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.is_moe_layer(5));
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  std::printf("summary: %s\n", hf_config_summary(c).c_str());
}

TEST(HfConfig, LlamaDistill) {
  auto r = parse_hf_config(llama_config().dump());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const HfModelConfig& c = *r;
  EXPECT_EQ(c.model_type, HfModelType::kLlama);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
}

TEST(HfConfig, OptionalVariants) {
  json q = qwen2_config();
  q.erase("num_key_value_heads");  // defaults to the head count
  q["rope_scaling"] = nullptr;
  q["eos_token_id"] = nullptr;
  auto r = parse_hf_config(q.dump());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->num_key_value_heads, 12);
  EXPECT_TRUE(r->eos_token_ids.empty());
  json l = llama_config();
  l["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  r = parse_hf_config(l.dump());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(r->rope_scaling.factor, 2.0);
}

// A deepseek_v3 config like the official one (scaled down), used as the base of the error cases.
json ds3_config() {
  return json::parse(R"({
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_act": "silu",
    "hidden_size": 256, "intermediate_size": 256, "num_hidden_layers": 3, "num_attention_heads": 4,
    "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 163840, "rms_norm_eps": 1e-6,
    "rope_theta": 10000, "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
    "qk_rope_head_dim": 16, "v_head_dim": 32, "n_routed_experts": 16, "n_shared_experts": 1,
    "num_experts_per_tok": 4, "moe_intermediate_size": 32, "first_k_dense_replace": 1, "moe_layer_freq": 1,
    "n_group": 4, "topk_group": 2, "topk_method": "noaux_tc", "scoring_func": "sigmoid",
    "norm_topk_prob": true, "routed_scaling_factor": 2.5, "num_nextn_predict_layers": 1,
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                     "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128], "scale_fmt": "ue8m0"},
    "aux_loss_alpha": 0.001, "seq_aux": true, "ep_size": 1, "some_future_key": {"x": [1, 2]}})");
}

TEST(HfConfig, Ds3BaseWithUe8m0) {
  auto r = parse_hf_config(ds3_config().dump());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_TRUE(r->quantization.has_value());
  EXPECT_TRUE(r->quantization->ue8m0_scales);
  EXPECT_EQ(r->qk_head_dim(), 48);
}

struct ErrorCase {
  std::string label;
  json config;
  ErrorCode code;
  std::vector<std::string> needles;  // all must appear in the message
};

TEST(HfConfig, ErrorsNameTheField) {
  std::vector<ErrorCase> cases;
  auto with = [](json base, const std::function<void(json&)>& edit) {
    edit(base);
    return base;
  };
  const ErrorCode kU = ErrorCode::kUnsupported, kC = ErrorCode::kCorruptFile;
  cases.push_back({"unknown model_type",
                   with(ds3_config(), [](json& j) { j["model_type"] = "mistral"; }),
                   kU,
                   {"model_type", "mistral", "deepseek_v2", "deepseek_v3", "qwen2", "llama"}});
  cases.push_back(
      {"missing model_type", with(ds3_config(), [](json& j) { j.erase("model_type"); }), kC, {"model_type"}});
  cases.push_back({"quant awq",
                   with(ds3_config(), [](json& j) { j["quantization_config"]["quant_method"] = "awq"; }),
                   kU,
                   {"quant_method", "awq"}});
  cases.push_back(
      {"fmt e5m2", with(ds3_config(), [](json& j) { j["quantization_config"]["fmt"] = "e5m2"; }), kU, {"fmt", "e5m2"}});
  cases.push_back({"block 64",
                   with(ds3_config(),
                        [](json& j) {
                          j["quantization_config"]["weight_block_size"] = {64, 64};
                        }),
                   kU,
                   {"weight_block_size", "[64, 64]"}});
  cases.push_back({"block missing",
                   with(ds3_config(), [](json& j) { j["quantization_config"].erase("weight_block_size"); }),
                   kC,
                   {"weight_block_size"}});
  cases.push_back({"static activations",
                   with(ds3_config(), [](json& j) { j["quantization_config"]["activation_scheme"] = "static"; }),
                   kU,
                   {"activation_scheme", "static"}});
  cases.push_back({"scale_fmt",
                   with(ds3_config(), [](json& j) { j["quantization_config"]["scale_fmt"] = "fp32"; }),
                   kU,
                   {"scale_fmt", "fp32"}});
  cases.push_back(
      {"topk_method", with(ds3_config(), [](json& j) { j["topk_method"] = "random"; }), kU, {"topk_method", "random"}});
  cases.push_back({"scoring_func",
                   with(ds3_config(), [](json& j) { j["scoring_func"] = "sqrtsoftplus"; }),
                   kU,
                   {"scoring_func", "sqrtsoftplus"}});
  cases.push_back({"rope type",
                   with(ds3_config(), [](json& j) { j["rope_scaling"]["type"] = "dynamic"; }),
                   kU,
                   {"rope_scaling.type", "dynamic"}});
  cases.push_back({"rope yarn missing factor",
                   with(ds3_config(), [](json& j) { j["rope_scaling"].erase("factor"); }),
                   kC,
                   {"rope_scaling.factor"}});
  cases.push_back({"llama3 missing low",
                   with(llama_config(), [](json& j) { j["rope_scaling"].erase("low_freq_factor"); }),
                   kC,
                   {"rope_scaling.low_freq_factor"}});
  cases.push_back(
      {"hidden_act", with(ds3_config(), [](json& j) { j["hidden_act"] = "gelu"; }), kU, {"hidden_act", "gelu"}});
  cases.push_back(
      {"missing hidden_size", with(ds3_config(), [](json& j) { j.erase("hidden_size"); }), kC, {"hidden_size"}});
  cases.push_back(
      {"missing kv_lora_rank", with(ds3_config(), [](json& j) { j.erase("kv_lora_rank"); }), kC, {"kv_lora_rank"}});
  cases.push_back(
      {"missing q_lora_rank", with(ds3_config(), [](json& j) { j.erase("q_lora_rank"); }), kC, {"q_lora_rank"}});
  cases.push_back(
      {"missing vocab_size", with(qwen2_config(), [](json& j) { j.erase("vocab_size"); }), kC, {"vocab_size"}});
  cases.push_back({"hidden_size string",
                   with(ds3_config(), [](json& j) { j["hidden_size"] = "256"; }),
                   kC,
                   {"hidden_size", "integer", "string"}});
  cases.push_back(
      {"hidden_size zero", with(llama_config(), [](json& j) { j["hidden_size"] = 0; }), kC, {"hidden_size"}});
  cases.push_back({"layers negative",
                   with(llama_config(), [](json& j) { j["num_hidden_layers"] = -2; }),
                   kC,
                   {"num_hidden_layers"}});
  cases.push_back({"kv heads do not divide",
                   with(llama_config(), [](json& j) { j["num_key_value_heads"] = 5; }),
                   kC,
                   {"num_key_value_heads"}});
  cases.push_back({"heads do not divide hidden",
                   with(qwen2_config(),
                        [](json& j) {
                          j["num_attention_heads"] = 14;
                          j["num_key_value_heads"] = 2;
                        }),
                   kC,
                   {"num_attention_heads", "hidden_size"}});
  cases.push_back(
      {"head_dim mismatch", with(llama_config(), [](json& j) { j["head_dim"] = 64; }), kU, {"head_dim", "64"}});
  cases.push_back({"experts_per_tok > experts",
                   with(ds3_config(), [](json& j) { j["num_experts_per_tok"] = 17; }),
                   kC,
                   {"num_experts_per_tok"}});
  cases.push_back(
      {"topk_group > n_group", with(ds3_config(), [](json& j) { j["topk_group"] = 5; }), kC, {"topk_group"}});
  cases.push_back({"n_group does not divide",
                   with(ds3_config(),
                        [](json& j) {
                          j["n_group"] = 3;
                          j["topk_group"] = 2;
                        }),
                   kC,
                   {"n_group", "n_routed_experts"}});
  cases.push_back(
      {"rope dim odd", with(ds3_config(), [](json& j) { j["qk_rope_head_dim"] = 15; }), kC, {"qk_rope_head_dim"}});
  cases.push_back({"sliding window",
                   with(qwen2_config(), [](json& j) { j["use_sliding_window"] = true; }),
                   kU,
                   {"use_sliding_window"}});
  cases.push_back({"mlp_bias", with(llama_config(), [](json& j) { j["mlp_bias"] = true; }), kU, {"mlp_bias"}});
  cases.push_back({"eos negative",
                   with(llama_config(),
                        [](json& j) {
                          j["eos_token_id"] = {128001, -1};
                        }),
                   kC,
                   {"eos_token_id"}});
  cases.push_back(
      {"bos string", with(llama_config(), [](json& j) { j["bos_token_id"] = "<s>"; }), kC, {"bos_token_id"}});
  cases.push_back({"norm_topk_prob not bool",
                   with(ds3_config(), [](json& j) { j["norm_topk_prob"] = "yes"; }),
                   kC,
                   {"norm_topk_prob", "boolean"}});
  cases.push_back(
      {"rms eps zero", with(llama_config(), [](json& j) { j["rms_norm_eps"] = 0.0; }), kC, {"rms_norm_eps"}});

  int passed = 0;
  for (const ErrorCase& c : cases) {
    auto r = parse_hf_config(c.config.dump());
    if (r.ok()) {
      ADD_FAILURE() << c.label << ": accepted";
      continue;
    }
    bool good = r.error().code() == c.code;
    EXPECT_EQ(r.error().code(), c.code) << c.label << ": " << r.error().message();
    for (const std::string& needle : c.needles) {
      bool found = r.error().message().find(needle) != std::string::npos;
      EXPECT_TRUE(found) << c.label << ": '" << r.error().message() << "' lacks '" << needle << "'";
      good = good && found;
    }
    passed += good ? 1 : 0;
  }
  // Raw-text failures.
  for (const char* text :
       {"{\"model_type\": \"llama\",", "[1, 2]", "{\"model_type\": \"llama\", \"model_type\": \"qwen2\"}"}) {
    auto r = parse_hf_config(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruptFile) << text;
  }
  testing::report_conformance("hf config error cases named", passed, static_cast<int>(cases.size()));
}

}  // namespace
}  // namespace baleen
