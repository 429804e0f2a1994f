// HF-folder llama / qwen2 (rotate-half RoPE, llama3 scaling from config.json, qwen2 q/k/v biases):
// the F32 GGUF micro models are rewritten as HF folders (llama's q/k rows un-permuted back to the
// HF layout, conformance README 6.2) and must reproduce the GGUF file's numpy reference.
#include <fstream>

#include "io/gguf.h"
#include "io/safetensors_writer.h"
#include "model_test_util.h"

namespace baleen {
namespace {

std::string hf_name(const std::string& g) {
  static const std::vector<std::pair<std::string, std::string>> kLayer = {
      {"attn_norm.weight", "input_layernorm.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},   {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},   {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},       {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},       {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},        {"ffn_down.weight", "mlp.down_proj.weight"}};
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  if (g.rfind("blk.", 0) == 0) {
    const size_t dot = g.find('.', 4);
    const std::string layer = g.substr(4, dot - 4), rest = g.substr(dot + 1);
    for (const auto& [from, to] : kLayer) {
      if (rest == from) return "model.layers." + layer + "." + to;
    }
  }
  return "";
}

// Writes the F32 GGUF `model` as an HF folder; llama q/k rows go from llama.cpp's adjacent-pair
// order (row 2i + j of a head) back to HF's halves order (row j * head_dim / 2 + i).
std::string convert(const std::string& model, const std::string& config_json, int64_t head_dim) {
  const std::string dir = testing::scratch_dir("hf_dense_" + model);
  auto f = GgufFile::open(testing::conformance_path("models/micro/" + model + "/" + model + "-f32.gguf"));
  EXPECT_TRUE(f.ok());
  SafetensorsWriter w;
  const bool llama = model == "llama-micro";
  for (const GgufTensorInfo& t : f->tensors()) {
    const std::string name = hf_name(t.name);
    if (name.empty()) continue;  // rope_freqs: HF computes llama3 scaling from the config
    std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
    std::string bytes(reinterpret_cast<const char*>(t.data), t.n_bytes);
    const bool qk = name.find("q_proj.weight") != std::string::npos || name.find("k_proj.weight") != std::string::npos;
    if (llama && qk) {
      const int64_t cols = shape[1], row_bytes = cols * 4;
      std::string out(bytes.size(), '\0');
      for (int64_t r = 0; r < shape[0]; ++r) {
        const int64_t h = r / head_dim, in = r % head_dim, i = in / 2, j = in % 2;
        const int64_t hf_row = h * head_dim + j * (head_dim / 2) + i;
        out.replace(hf_row * row_bytes, row_bytes, bytes, r * row_bytes, row_bytes);
      }
      bytes = out;
    }
    EXPECT_TRUE(w.add(name, SafetensorsDtype::kF32, shape, bytes).ok()) << name;
  }
  EXPECT_TRUE(w.write(dir + "/model.safetensors").ok());
  std::ofstream(dir + "/config.json") << config_json;
  return dir;
}

void check(const std::string& model, const std::string& dir) {
  auto m = model_test::load_or_fail(dir);
  ASSERT_TRUE(m);
  const auto ref =
      model_test::read_ref(testing::conformance_path("models/micro/" + model + "/ref/" + model + "-f32.numpy.logits"));
  const std::vector<TokenId> ids(ref.tokens.begin(), ref.tokens.end());
  const auto c = model_test::compare(model_test::eval_all(*m, ids), ref);
  std::printf("MAXDIFF hf-from-gguf/%s-f32 numpy %.3g\n", model.c_str(), c.max());
  EXPECT_LE(c.max(), 1e-4);
  EXPECT_EQ(c.argmax_equal, 24);
  EXPECT_EQ(model_test::greedy_fresh(*m, ids, 16), ref.greedy);
  testing::report_conformance("model hf-from-gguf/" + model, c.max() <= 1e-4 && c.argmax_equal == 24, 1);
}

TEST(HfDense, Qwen2Folder) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dir = convert("qwen2-micro", R"({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
    "hidden_size": 256, "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 131072, "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2})",
                                  64);
  check("qwen2-micro", dir);
}

TEST(HfDense, LlamaFolderWithLlama3Scaling) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dir = convert("llama-micro", R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "hidden_size": 256, "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, "tie_word_embeddings": false,
    "bos_token_id": 1, "eos_token_id": 2})",
                                  64);
  check("llama-micro", dir);
}

}  // namespace
}  // namespace baleen
