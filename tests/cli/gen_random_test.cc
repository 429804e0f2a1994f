// `baleen gen-random`: the full DeepSeek-V2-Lite plan (--dry-run: tensor count, layers, experts,
// exact file size), and a quickly generated reduced file (hidden --layers/--experts/--vocab
// overrides) that `baleen inspect` reads with the expected names/types/shapes and that the model
// loads and evaluates (`baleen logits`: finite output of the right size).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "io/gguf.h"
#include "testing.h"

namespace baleen {
namespace {

using testing::count_lines;
using testing::run_baleen;
using testing::RunResult;

// "key: value" line of the dry-run summary.
std::string summary_value(const std::string& out, const std::string& key) {
  size_t p = out.find("\n" + key + ": ");
  if (p == std::string::npos) return "";
  p += key.size() + 3;
  return out.substr(p, out.find_first_of(" \n", p) - p);
}

TEST(GenRandom, DryRunPlansFullV2Lite) {
  const std::string scratch = testing::scratch_dir("gen_random_dry");
  RunResult r = run_baleen({"gen-random", "--shape", "deepseek-v2-lite", "--type", "q4_k_m", "--dry-run"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  // Tensor count: 3 global (token_embd, output_norm, output); per layer 8 for attention and norms
  // (attn_norm, attn_q, attn_kv_a_mqa, attn_kv_a_norm, attn_k_b, attn_v_b, attn_output, ffn_norm);
  // the dense layer 0 adds ffn_gate/up/down (3); each of the 26 MoE layers adds ffn_gate_inp, 3
  // stacked expert tensors and 3 shared-expert tensors (7): 3 + 11 + 26 * 15 = 404.
  EXPECT_EQ(summary_value(r.out, "tensors"), "404");
  EXPECT_NE(r.out.find("27 layers (1 dense), 64 routed experts (top 6), 2 shared, vocab 102400"), std::string::npos)
      << r.out.substr(0, 300);
  EXPECT_NE(r.out.find("blk.26.ffn_down_exps.weight"), std::string::npos);
  EXPECT_EQ(r.out.find("blk.27."), std::string::npos);
  EXPECT_NE(r.out.find("{2048, 1408, 64}"), std::string::npos);
  EXPECT_NE(r.out.find("{128, 512, 16}"), std::string::npos);
  // Parameters: DeepSeek-V2-Lite's 15.7 B (embedding and output included).
  EXPECT_EQ(summary_value(r.out, "parameters"), "15706484224");
  const std::string bytes = summary_value(r.out, "file bytes");
  ASSERT_FALSE(bytes.empty());
  // The plan's sum must be the size of the file the tool would write: check it on the
  // per-tensor lines (the header adds the tokenizer; about 10.4 GB like real V2-Lite Q4_K_M files).
  uint64_t sum = 0;
  size_t n_lines = 0;
  std::istringstream lines(r.out);
  std::string line;
  std::map<std::string, int> type_counts;
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0) continue;
    std::istringstream f(line);
    std::string name, type;
    f >> name >> type;
    sum += std::stoull(line.substr(line.find_last_of(' ') + 1));
    ++type_counts[type];
    ++n_lines;
  }
  EXPECT_EQ(n_lines, 404u);
  EXPECT_GT(std::stoull(bytes), sum);
  EXPECT_LT(std::stoull(bytes), sum + 8 * 1024 * 1024);
  EXPECT_GT(std::stoull(bytes), 10'000'000'000ull);
  EXPECT_LT(std::stoull(bytes), 10'600'000'000ull);
  // Q4_K_M mix: 108 F32 (2 norms x 27 + kv_a_norm x 27 + router x 26 + output_norm), q5_0 for
  // attn_k_b (27) and the 14 q4_K-mix ffn_down(_exps) with rows of 1408/10944, q6_K/q8_0 for the
  // 13 use_more_bits layers' down projections and output.
  EXPECT_EQ(type_counts["f32"], 108);
  EXPECT_EQ(type_counts["q5_0"], 41);
  EXPECT_EQ(type_counts["q6_K"], 13);
  EXPECT_EQ(type_counts["q8_0"], 13);
  EXPECT_EQ(type_counts["q4_K"], 229);
}

TEST(GenRandom, DryRunV3Mini) {
  const std::string scratch = testing::scratch_dir("gen_random_dry3");
  RunResult r = run_baleen({"gen-random", "--shape", "deepseek-v3-mini", "--type", "bf16", "--dry-run"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  // 3 + 3 dense x (10 + 3) + 9 MoE x (10 + ffn_gate_inp + exp_probs_b + 3 + 3) = 3 + 39 + 162.
  EXPECT_EQ(summary_value(r.out, "tensors"), "204");
  EXPECT_NE(r.out.find("blk.3.exp_probs_b.bias"), std::string::npos);
  EXPECT_NE(r.out.find("blk.0.attn_q_a.weight"), std::string::npos);
  EXPECT_LT(std::stoull(summary_value(r.out, "file bytes")), 16'000'000'000ull);  // fits 16 GB at BF16
}

TEST(GenRandom, ErrorsAreOneLine) {
  const std::string scratch = testing::scratch_dir("gen_random_err");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"gen-random", "--shape", "nope", "--dry-run"},
           {"gen-random", "--shape", "deepseek-v2-lite", "--type", "q3_k", "--dry-run"},
           {"gen-random", "--shape", "deepseek-v2-lite"},
       }) {
    RunResult r = run_baleen(args, scratch);
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.err.rfind("baleen gen-random: error: ", 0), 0u) << r.err;
  }
}

struct Expect {
  std::string name, type, shape;
};

TEST(GenRandom, SmallFileInspectsAndRuns) {
  const std::string scratch = testing::scratch_dir("gen_random_small");
  const std::string path = scratch + "/small.gguf";
  RunResult g = run_baleen({"gen-random", "--shape", "deepseek-v2-lite", "--type", "q4_k_m", "--layers", "2",
                            "--experts", "8", "--vocab", "300", "--seed", "7", "-o", path},
                           scratch);
  ASSERT_EQ(g.status, 0) << g.err;
  EXPECT_NE(g.out.find("[29/29] output.weight"), std::string::npos) << g.out;  // progress lines

  RunResult i = run_baleen({"inspect", path}, scratch);
  ASSERT_EQ(i.status, 0) << i.err;
  // Layer 0 dense, layer 1 MoE; with 2 layers use_more_bits picks no ffn_down (n_ffn_down = 3).
  const std::vector<Expect> want = {
      {"token_embd.weight", "q4_K", "[2048, 300]"},
      {"blk.0.attn_norm.weight", "f32", "[2048]"},
      {"blk.0.attn_q.weight", "q4_K", "[2048, 3072]"},
      {"blk.0.attn_kv_a_mqa.weight", "q4_K", "[2048, 576]"},
      {"blk.0.attn_kv_a_norm.weight", "f32", "[512]"},
      {"blk.0.attn_k_b.weight", "q5_0", "[128, 512, 16]"},
      {"blk.0.attn_v_b.weight", "q4_K", "[512, 128, 16]"},
      {"blk.0.attn_output.weight", "q4_K", "[2048, 2048]"},
      {"blk.0.ffn_norm.weight", "f32", "[2048]"},
      {"blk.0.ffn_gate.weight", "q4_K", "[2048, 10944]"},
      {"blk.0.ffn_up.weight", "q4_K", "[2048, 10944]"},
      {"blk.0.ffn_down.weight", "q5_0", "[10944, 2048]"},
      {"blk.1.attn_norm.weight", "f32", "[2048]"},
      {"blk.1.attn_q.weight", "q4_K", "[2048, 3072]"},
      {"blk.1.attn_kv_a_mqa.weight", "q4_K", "[2048, 576]"},
      {"blk.1.attn_kv_a_norm.weight", "f32", "[512]"},
      {"blk.1.attn_k_b.weight", "q5_0", "[128, 512, 16]"},
      {"blk.1.attn_v_b.weight", "q4_K", "[512, 128, 16]"},
      {"blk.1.attn_output.weight", "q4_K", "[2048, 2048]"},
      {"blk.1.ffn_norm.weight", "f32", "[2048]"},
      {"blk.1.ffn_gate_inp.weight", "f32", "[2048, 8]"},
      {"blk.1.ffn_gate_exps.weight", "q4_K", "[2048, 1408, 8]"},
      {"blk.1.ffn_up_exps.weight", "q4_K", "[2048, 1408, 8]"},
      {"blk.1.ffn_down_exps.weight", "q5_0", "[1408, 2048, 8]"},
      {"blk.1.ffn_gate_shexp.weight", "q4_K", "[2048, 2816]"},
      {"blk.1.ffn_up_shexp.weight", "q4_K", "[2048, 2816]"},
      {"blk.1.ffn_down_shexp.weight", "q4_K", "[2816, 2048]"},
      {"output_norm.weight", "f32", "[2048]"},
      {"output.weight", "q6_K", "[2048, 300]"},
  };
  std::vector<Expect> got;
  std::istringstream lines(i.out.substr(i.out.find("tensors:")));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0) break;
    std::istringstream f(line);
    Expect e;
    f >> e.name >> e.type;
    size_t a = line.find('['), b = line.find(']');
    if (a == std::string::npos || b == std::string::npos) break;
    e.shape = line.substr(a, b - a + 1);
    got.push_back(e);
  }
  ASSERT_EQ(got.size(), want.size()) << i.out;
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(got[k].name, want[k].name);
    EXPECT_EQ(got[k].type, want[k].type) << want[k].name;
    EXPECT_EQ(got[k].shape, want[k].shape) << want[k].name;
  }

  // Metadata as llama.cpp's converter writes it (no q_lora_rank key for Lite).
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->architecture(), "deepseek2");
  EXPECT_EQ(*f->get_int("deepseek2.block_count"), 2);
  EXPECT_EQ(*f->get_int("deepseek2.expert_count"), 8);
  EXPECT_EQ(*f->get_int("deepseek2.expert_shared_count"), 2);
  EXPECT_EQ(*f->get_int("deepseek2.attention.key_length_mla"), 192);
  EXPECT_EQ(*f->get_int("general.file_type"), 15);
  EXPECT_NEAR(*f->get_number("deepseek2.rope.scaling.yarn_log_multiplier"), 0.0707, 1e-6);
  EXPECT_EQ(f->find("deepseek2.attention.q_lora_rank"), nullptr);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 300u);

  // Deterministic: the same seed gives the same file, whatever the thread count.
  const std::string path2 = scratch + "/small-1thread.gguf";
  RunResult g2 = run_baleen({"gen-random", "--shape", "deepseek-v2-lite", "--type", "q4_k_m", "--layers", "2",
                             "--experts", "8", "--vocab", "300", "--seed", "7", "-t", "1", "-o", path2},
                            scratch);
  ASSERT_EQ(g2.status, 0) << g2.err;
  EXPECT_TRUE(*read_file(path) == *read_file(path2));

  // The model loads and evaluates 4 ids: 4 x 300 finite logits.
  const std::string logits = scratch + "/small.logits";
  RunResult l = run_baleen({"logits", "-m", path, "--ids", "1,2,3,4", "-o", logits}, scratch);
  ASSERT_EQ(l.status, 0) << l.err;
  auto bytes = read_file(logits);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(bytes->size(), 4u * 300u * sizeof(float));
  std::vector<float> v(4 * 300);
  std::memcpy(v.data(), bytes->data(), bytes->size());
  float max_abs = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    max_abs = std::max(max_abs, std::fabs(x));
  }
  EXPECT_GT(max_abs, 0.0f);
  std::filesystem::remove(path);
  std::filesystem::remove(path2);
}

TEST(GenRandom, VocabFromCopiesTokenizer) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("gen_random_vocab");
  const std::string vocab = testing::conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-deepseek-llm.gguf");
  RunResult r = run_baleen({"gen-random", "--shape", "deepseek-v2-lite", "--vocab-from", vocab, "--dry-run"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("vocab 102400"), std::string::npos) << r.out.substr(0, 300);
}

}  // namespace
}  // namespace baleen
