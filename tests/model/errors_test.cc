// Model loading and Session error paths: context overflow, bad ids, missing / mis-shaped tensors,
// unknown architectures; and the KV-cache size formula.
#include <filesystem>
#include <fstream>
#include <functional>

#include "io/gguf_writer.h"
#include "model_test_util.h"

namespace baleen {
namespace {

const std::vector<TokenId> kIds = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                   421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};

std::string micro(const std::string& m, const std::string& type) {
  return testing::conformance_path("models/micro/" + m + "/" + m + "-" + type + ".gguf");
}

// Copies `src` to `dst` with every metadata value and tensor, letting `edit` change each tensor
// (return false to drop it) and `meta` change the metadata afterwards.
void copy_gguf(const std::string& src, const std::string& dst,
               const std::function<bool(const GgufTensorInfo&, std::vector<uint64_t>*, uint64_t*)>& edit,
               const std::function<void(GgufWriter&)>& meta = {}) {
  auto f = GgufFile::open(src);
  ASSERT_TRUE(f.ok());
  GgufWriter w;
  for (const auto& [k, v] : f->metadata()) w.set_value(k, v);
  if (meta) meta(w);
  for (const GgufTensorInfo& t : f->tensors()) {
    std::vector<uint64_t> ne = t.ne;
    uint64_t n_bytes = t.n_bytes;
    if (!edit(t, &ne, &n_bytes)) continue;
    ASSERT_TRUE(w.add_tensor(t.name, t.type, ne, t.data, n_bytes).ok()) << t.name;
  }
  ASSERT_TRUE(w.write(dst).ok());
}

TEST(ModelErrors, PromptLongerThanContext) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = model_test::load_or_fail(micro("ds3-micro", "f32"));
  ASSERT_TRUE(m);
  const std::vector<float> ref = model_test::eval_all(*m, kIds);
  SessionOptions so;
  so.n_ctx = 16;
  auto s = Session::create(*m, model_test::pool(), so);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->n_ctx(), 16);
  std::vector<float> logits;
  Status st = (*s)->eval(kIds, &logits, true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ((*s)->n_past(), 0);
  // Still usable: 10 tokens, then an overflowing 10, then the remaining 6.
  ASSERT_TRUE((*s)->eval(std::span<const TokenId>(kIds.data(), 10), &logits, false).ok());
  st = (*s)->eval(std::span<const TokenId>(kIds.data() + 10, 10), &logits, false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ((*s)->n_past(), 10);
  ASSERT_TRUE((*s)->eval(std::span<const TokenId>(kIds.data() + 10, 6), &logits, false).ok());
  EXPECT_EQ((*s)->n_past(), 16);
  const int64_t V = m->config().n_vocab;
  const std::vector<float> row15(ref.begin() + 15 * V, ref.begin() + 16 * V);
  EXPECT_LE(model_test::max_abs_diff(row15, logits), 1e-4);
}

TEST(ModelErrors, TokenIdOutOfRange) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = model_test::load_or_fail(micro("llama-micro", "q8_0"));
  ASSERT_TRUE(m);
  auto s = Session::create(*m, model_test::pool(), {});
  ASSERT_TRUE(s.ok());
  std::vector<float> logits;
  for (TokenId bad : {-1, 512, 1 << 30}) {
    const std::vector<TokenId> ids = {1, 403, bad};
    Status st = (*s)->eval(ids, &logits, false);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message().find(std::to_string(bad)), std::string::npos) << st.error().message();
    EXPECT_EQ((*s)->n_past(), 0);
  }
  EXPECT_TRUE((*s)->eval(std::vector<TokenId>{1, 403}, &logits, false).ok());
}

TEST(ModelErrors, MissingTensorIsNamed) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dir = testing::scratch_dir("model_errors_missing");
  for (const char* name : {"blk.1.attn_k_b.weight", "blk.2.ffn_up_exps.weight", "output_norm.weight"}) {
    const std::string dst = dir + "/missing.gguf";
    copy_gguf(micro("ds3-micro", "q4_k_m"), dst,
              [&](const GgufTensorInfo& t, std::vector<uint64_t>*, uint64_t*) { return t.name != name; });
    auto r = Model::load(dst);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
    EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().message();
  }
}

TEST(ModelErrors, WrongShapeIsNamedWithBothShapes) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dst = testing::scratch_dir("model_errors_shape") + "/shape.gguf";
  copy_gguf(micro("ds2-micro", "f32"), dst, [](const GgufTensorInfo& t, std::vector<uint64_t>* ne, uint64_t* n) {
    if (t.name == "blk.0.attn_kv_a_norm.weight") {
      *ne = {32};
      *n = 32 * 4;
    }
    return true;
  });
  auto r = Model::load(dst);
  ASSERT_FALSE(r.ok());
  const std::string& msg = r.error().message();
  EXPECT_NE(msg.find("blk.0.attn_kv_a_norm.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[32]"), std::string::npos) << msg;
}

TEST(ModelErrors, UnknownGgufArchitectureIsNamed) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dst = testing::scratch_dir("model_errors_arch") + "/arch.gguf";
  copy_gguf(
      micro("llama-micro", "f32"), dst, [](const GgufTensorInfo&, std::vector<uint64_t>*, uint64_t*) { return true; },
      [](GgufWriter& w) { w.set_string("general.architecture", "mamba"); });
  auto r = Model::load(dst);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message().find("mamba"), std::string::npos) << r.error().message();
}

TEST(ModelErrors, LegacyDeepseek2GgufRejected) {
  BALEEN_REQUIRE_CONFORMANCE();
  // A pre-MLA file lacks the *_mla keys (and carries attn_kv_b instead of attn_k_b / attn_v_b).
  const std::string src = micro("ds2-micro", "f32"), dst = testing::scratch_dir("model_errors_legacy") + "/l.gguf";
  auto f = GgufFile::open(src);
  ASSERT_TRUE(f.ok());
  GgufWriter w;
  for (const auto& [k, v] : f->metadata()) {
    if (k.find("_mla") == std::string::npos) w.set_value(k, v);
  }
  for (const GgufTensorInfo& t : f->tensors()) ASSERT_TRUE(w.add_tensor(t.name, t.type, t.ne, t.data, t.n_bytes).ok());
  ASSERT_TRUE(w.write(dst).ok());
  auto r = Model::load(dst);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message().find("legacy"), std::string::npos) << r.error().message();
}

TEST(ModelErrors, UnknownHfModelTypeIsNamed) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dir = testing::scratch_dir("model_errors_hf_type");
  std::ifstream in(testing::conformance_path("hf/ds2-micro-bf16/config.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "\"deepseek_v2\"";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, key.size(), "\"mixtral\"");
  std::ofstream(dir + "/config.json") << text;
  auto r = Model::load(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message().find("mixtral"), std::string::npos) << r.error().message();
}

TEST(ModelErrors, MissingHfTensorIsNamed) {
  BALEEN_REQUIRE_CONFORMANCE();
  // A config with one layer more than the checkpoint holds: the first tensor of that layer is missing.
  const std::string dir = testing::scratch_dir("model_errors_hf_missing");
  std::ifstream in(testing::conformance_path("hf/ds2-micro-bf16/config.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "\"num_hidden_layers\": 3";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, key.size(), "\"num_hidden_layers\": 4");
  std::ofstream(dir + "/config.json") << text;
  std::filesystem::copy_file(testing::conformance_path("hf/ds2-micro-bf16/model.safetensors"),
                             dir + "/model.safetensors");
  auto r = Model::load(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("model.layers.3.input_layernorm.weight"), std::string::npos)
      << r.error().message();
}

TEST(ModelErrors, NotAModelFile) {
  const std::string dir = testing::scratch_dir("model_errors_garbage");
  std::ofstream(dir + "/x.gguf") << "not a gguf file at all";
  auto r = Model::load(dir + "/x.gguf");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(Model::load(dir + "/does-not-exist.gguf").ok());
}

TEST(ModelConfigTest, KvBytesPerToken) {
  ModelConfig v3;
  v3.arch = ModelArch::kDeepseek2;
  v3.n_layers = 61;
  v3.n_heads = 128;
  v3.kv_lora_rank = 512;
  v3.qk_rope_head_dim = 64;
  v3.qk_nope_head_dim = 128;
  v3.v_head_dim = 128;
  EXPECT_EQ(v3.kv_bytes_per_token(2), 70272u);  // deepseek-spec 3.7
  ModelConfig lite = v3;
  lite.n_layers = 27;
  EXPECT_EQ(lite.kv_bytes_per_token(2), 31104u);
  ModelConfig llama;
  llama.arch = ModelArch::kLlama;
  llama.n_layers = 32;
  llama.n_kv_heads = 8;
  llama.head_dim = 128;
  EXPECT_EQ(llama.kv_bytes_per_token(2), 2u * 8 * 128 * 32 * 2);
}

TEST(ModelConfigTest, LoadedConfigs) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = model_test::load_or_fail(micro("ds3-micro", "q6_k"));
  ASSERT_TRUE(m);
  const ModelConfig& c = m->config();
  EXPECT_EQ(c.arch, ModelArch::kDeepseek2);
  EXPECT_EQ(c.q_lora_rank, 128);
  EXPECT_EQ(c.kv_lora_rank, 64);
  EXPECT_EQ(c.qk_nope_head_dim, 32);
  EXPECT_EQ(c.n_group, 4);
  EXPECT_EQ(c.topk_group, 2);
  EXPECT_TRUE(c.scoring_sigmoid);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_NEAR(c.yarn_mscale_all_dim, 1.0, 1e-6);
  EXPECT_EQ(c.kv_bytes_per_token(4), (64u + 16u) * 3u * 4u);
  EXPECT_NE(m->tokenizer(), nullptr);
  auto hf = model_test::load_or_fail(testing::conformance_path("hf/ds3-micro-fp8"));
  ASSERT_TRUE(hf);
  EXPECT_TRUE(hf->has_mtp());
  EXPECT_EQ(hf->config().n_mtp_layers, 1);
  EXPECT_EQ(hf->config().n_layers, 3);
  EXPECT_EQ(hf->tokenizer(), nullptr);
}

}  // namespace
}  // namespace baleen
