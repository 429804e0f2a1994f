// End-to-end tests of the `baleen` binary: `tokenize --json` output checked against Hugging Face's
// reference ids in ../shared/conformance, `inspect` against facts stated by the conformance README,
// and malformed inputs giving one error line and a non-zero exit status.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "io/gguf_writer.h"
#include "testing.h"

namespace baleen {
namespace {

using testing::count_lines;
using testing::run_baleen;
using testing::RunResult;

TEST(Cli, TokenizeJsonMatchesHuggingFace) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_tokenize");
  // extra-cases.json: ids from HF's tokenizer with add_special_tokens=False.
  auto text = read_file(testing::conformance_path("tokenizers/deepseek-v3/reference/extra-cases.json"));
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  int passed = 0, total = 0;
  for (const auto& c : j.at("cases")) {
    std::string input = c.at("text").get<std::string>();
    std::vector<int> want = c.at("ids_no_special").get<std::vector<int>>();
    // HF matches special-token strings in the text: Baleen's --special.
    RunResult r = run_baleen({"tokenize", "--tokenizer", testing::conformance_path("tokenizers/deepseek-v3"),
                              "--special", "-p", input, "--json"},
                             scratch);
    ++total;
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(count_lines(r.out), 1u) << "expected exactly one line: " << r.out;
    auto got = nlohmann::json::parse(r.out);
    ASSERT_TRUE(got.is_array());
    if (got.get<std::vector<int>>() == want) ++passed;
    EXPECT_EQ(got.get<std::vector<int>>(), want) << input;
  }
  testing::report_conformance("cli tokenize --json vs HF (deepseek-v3 extra cases)", passed, total);
}

TEST(Cli, TokenizeFileWithBosFromGguf) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_tokenize_file");
  // Conformance README section 2: BOS + these 23 ids spell this text in stories260K's vocabulary.
  std::string path = scratch + "/prompt.txt";
  ASSERT_TRUE(write_file(path, "Once upon a time, there was a little girl named Lily. She loved to play outs").ok());
  RunResult r = run_baleen({"tokenize", "--tokenizer", testing::conformance_path("models/stories260K/stories260K.gguf"),
                            "--add-bos", "-f", path, "--json"},
                           scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<int> want = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                           421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};
  EXPECT_EQ(nlohmann::json::parse(r.out).get<std::vector<int>>(), want);
}

TEST(Cli, InspectGguf) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_inspect_gguf");
  // README section 6.1: ds3-micro has 1 685 856 parameters, architecture deepseek2.
  RunResult r =
      run_baleen({"inspect", testing::conformance_path("models/micro/ds3-micro/ds3-micro-q4_k_m.gguf")}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  deepseek2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters:    1685856 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.1.ffn_gate_exps.weight"), std::string::npos);
  EXPECT_NE(r.out.find("q4_K"), std::string::npos);
  EXPECT_NE(r.out.find("deepseek2.attention.kv_lora_rank"), std::string::npos);
}

TEST(Cli, InspectHfFolder) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_inspect_hf");
  RunResult r = run_baleen({"inspect", testing::conformance_path("hf/ds3-micro-fp8")}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("DeepseekV3ForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F8_E4M3"), std::string::npos);
  EXPECT_NE(r.out.find("model.layers.1.self_attn.kv_b_proj.weight_scale_inv"), std::string::npos);
}

TEST(Cli, MalformedFilesGiveOneErrorLine) {
  std::string scratch = testing::scratch_dir("cli_malformed");
  struct Case {
    std::string name, bytes;
  };
  std::vector<Case> cases = {
      {"empty.gguf", ""},
      {"bad_magic.gguf", std::string("GGUX\x03\0\0\0", 8) + std::string(16, '\0')},
      {"truncated.gguf", std::string("GGUF\x03\0\0\0\x01\0\0\0", 12)},
      {"huge_count.gguf",
       std::string("GGUF\x03\0\0\0", 8) + std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + std::string(8, '\0')},
  };
  for (const auto& c : cases) {
    std::string path = scratch + "/" + c.name;
    ASSERT_TRUE(write_file(path, c.bytes).ok());
    RunResult r = run_baleen({"inspect", path}, scratch);
    EXPECT_NE(r.status, 0) << c.name;
    EXPECT_EQ(count_lines(r.err), 1u) << c.name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("baleen inspect: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << c.name << " printed: " << r.out;
  }
  // An HF folder whose config.json names an unknown model type.
  std::string dir = scratch + "/hf_unknown";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(write_file(dir + "/config.json", R"({"model_type": "mamba", "hidden_size": 8})").ok());
  RunResult r = run_baleen({"inspect", dir}, scratch);
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("mamba"), std::string::npos) << r.err;
  // A missing tokenizer file.
  r = run_baleen({"tokenize", "--tokenizer", scratch + "/nope.json", "-p", "x", "--json"}, scratch);
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
}

// DeepSeek-V3's MLA cache per token at BF16: (kv_lora_rank 512 + qk_rope_head_dim 64) x 61 layers
// x 2 bytes = 70,272 (issue #3; deepseek-spec 3.7). A metadata-only GGUF with V3's hyper-parameters.
TEST(Cli, InspectReportsKvCacheOfDeepSeekV3) {
  std::string scratch = testing::scratch_dir("cli_inspect_kv");
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_u32("deepseek2.block_count", 61);
  w.set_u32("deepseek2.context_length", 163840);
  w.set_u32("deepseek2.embedding_length", 7168);
  w.set_u32("deepseek2.feed_forward_length", 18432);
  w.set_u32("deepseek2.attention.head_count", 128);
  w.set_u32("deepseek2.attention.head_count_kv", 1);
  w.set_f32("deepseek2.attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_u32("deepseek2.vocab_size", 129280);
  w.set_u32("deepseek2.leading_dense_block_count", 3);
  w.set_u32("deepseek2.attention.q_lora_rank", 1536);
  w.set_u32("deepseek2.attention.kv_lora_rank", 512);
  w.set_u32("deepseek2.attention.key_length", 576);
  w.set_u32("deepseek2.attention.value_length", 512);
  w.set_u32("deepseek2.attention.key_length_mla", 192);
  w.set_u32("deepseek2.attention.value_length_mla", 128);
  w.set_u32("deepseek2.rope.dimension_count", 64);
  w.set_f32("deepseek2.rope.freq_base", 10000.0f);
  w.set_string("deepseek2.rope.scaling.type", "yarn");
  w.set_f32("deepseek2.rope.scaling.factor", 40.0f);
  w.set_u32("deepseek2.rope.scaling.original_context_length", 4096);
  w.set_f32("deepseek2.rope.scaling.yarn_log_multiplier", 0.1f);
  w.set_u32("deepseek2.expert_count", 256);
  w.set_u32("deepseek2.expert_used_count", 8);
  w.set_u32("deepseek2.expert_group_count", 8);
  w.set_u32("deepseek2.expert_group_used_count", 4);
  w.set_u32("deepseek2.expert_shared_count", 1);
  w.set_u32("deepseek2.expert_feed_forward_length", 2048);
  w.set_f32("deepseek2.expert_weights_scale", 2.5f);
  w.set_bool("deepseek2.expert_weights_norm", true);
  w.set_u32("deepseek2.expert_gating_func", 2);
  ASSERT_TRUE(w.write(scratch + "/v3-meta.gguf").ok());
  RunResult r = run_baleen({"inspect", scratch + "/v3-meta.gguf", "--ctx", "1000"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("70272 bytes/token at BF16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1000 tokens: 70.27 MB at BF16"), std::string::npos) << r.out;
}

TEST(Cli, DemoRunsAndSaysItIsRandom) {
  std::string scratch = testing::scratch_dir("cli_demo");
  RunResult r = run_baleen({"demo", "--out", scratch + "/demo.gguf"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("RANDOM-WEIGHT"), std::string::npos);
  EXPECT_NE(r.out.find("decoded back: identical to the prompt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("generated (greedy, random weights): "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("24 generated tokens"), std::string::npos) << r.out;
  // The file it wrote is a valid GGUF that inspect reads.
  RunResult i = run_baleen({"inspect", scratch + "/demo.gguf"}, scratch);
  EXPECT_EQ(i.status, 0) << i.err;
  EXPECT_NE(i.out.find("architecture:  deepseek2"), std::string::npos);
}

}  // namespace
}  // namespace baleen
