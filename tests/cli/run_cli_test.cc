// End-to-end tests of the commands that run a model: `baleen run` (greedy text of stories260K
// against llama2.c's expected output), `baleen logits` (raw float32 output against the numpy
// float64 references of the conformance data, main and MTP head), `baleen chat` (piped stdin,
// template handling), and bad inputs giving one error line and a non-zero exit status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "testing.h"

namespace baleen {
namespace {

using testing::count_lines;
using testing::run_baleen;
using testing::RunResult;

// The fixed input of the conformance README, section 2.
const std::vector<int> kFixedIds = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                    421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};

std::string ids_arg(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// Reads raw float32 output; false if its size is not rows * n_vocab * 4 bytes.
bool read_raw_logits(const std::string& path, int64_t rows, int64_t n_vocab, std::vector<float>* out) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size != static_cast<uintmax_t>(rows * n_vocab * 4)) return false;
  auto bytes = read_file(path);
  if (!bytes.ok()) return false;
  out->resize(static_cast<size_t>(rows * n_vocab));
  std::memcpy(out->data(), bytes->data(), bytes->size());
  return true;
}

// Largest |a - b| of each row, and whether every row is within `tol` (scaled by the row's max
// |reference| when `relative`).
struct Comparison {
  double worst = 0;
  int rows_ok = 0;
};
Comparison compare_rows(const std::vector<float>& got, const testing::ReferenceLogits& ref, double tol, bool relative) {
  Comparison c;
  for (int64_t r = 0; r < ref.n_rows; ++r) {
    double row_max = 0, scale = 1;
    for (int64_t v = 0; v < ref.n_vocab; ++v) {
      double ref_v = ref.row(r)[v];
      double d = std::abs(static_cast<double>(got[static_cast<size_t>(r * ref.n_vocab + v)]) - ref_v);
      row_max = std::max(row_max, std::isnan(d) ? INFINITY : d);
      if (relative) scale = std::max(scale, std::abs(ref_v));
    }
    c.worst = std::max(c.worst, row_max);
    if (row_max <= tol * scale) ++c.rows_ok;
  }
  return c;
}

// `baleen logits` on `model` with the fixed ids, compared with the reference file `ref_rel`.
void check_logits(const std::string& model, const std::string& ref_rel, const std::vector<std::string>& extra,
                  double tol, bool relative, int* passed, int* total) {
  std::string scratch = testing::scratch_dir("cli_logits");
  testing::ReferenceLogits ref;
  std::string error;
  ASSERT_TRUE(testing::read_reference_logits(testing::conformance_path(ref_rel), &ref, &error)) << error;
  std::string out = scratch + "/out.f32";
  std::vector<std::string> args = {"logits", "-m", testing::conformance_path(model), "--ids", ids_arg(kFixedIds),
                                   "-o",     out};
  args.insert(args.end(), extra.begin(), extra.end());
  ++*total;
  RunResult r = run_baleen(args, scratch);
  ASSERT_EQ(r.status, 0) << model << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  std::vector<float> got;
  ASSERT_TRUE(read_raw_logits(out, ref.n_rows, ref.n_vocab, &got))
      << model << ": output is not exactly " << ref.n_rows << " x " << ref.n_vocab << " x 4 bytes";
  Comparison c = compare_rows(got, ref, tol, relative);
  EXPECT_EQ(c.rows_ok, ref.n_rows) << model << " " << ::testing::PrintToString(extra) << ": max |diff| " << c.worst
                                   << " vs " << ref_rel;
  if (c.rows_ok == ref.n_rows) ++*passed;
}

TEST(RunCli, GreedyStories260KPrintsLlama2cText) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_run_stories");
  // llama2.c `run stories260K.bin -t 0.0 -n 200` from BOS: 200 generated tokens, the first piece's
  // leading space stripped (SentencePiece rule after BOS), then run.c's final newline.
  auto expected =
      read_file(testing::conformance_path("models/stories260K/reference/expected_stdout.llama2c_test_all.txt"));
  auto run_c = read_file(testing::conformance_path("models/stories260K/reference/run_c.t0.n200.bos.txt"));
  ASSERT_TRUE(expected.ok() && run_c.ok());
  ASSERT_EQ(*expected + "\n", *run_c);  // the two reference files agree (README section 5)
  RunResult r = run_baleen({"run", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "-p", "",
                            "-n", "200", "--temp", "0"},
                           scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, *run_c);
  testing::report_conformance("cli run stories260K greedy 200 tokens vs llama2.c", r.out == *run_c ? 1 : 0, 1);
  EXPECT_NE(r.err.find("prompt tokens: 1,"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated tokens: 200,"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
}

TEST(RunCli, RawPromptIsEchoedAndContinued) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_run_prompt");
  // The README's fixed input is BOS + the first 23 greedy tokens, whose greedy continuation (from
  // both references) spells "ide in the park. One day, she saw a big,".
  RunResult r = run_baleen(
      {"run", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "-p",
       "Once upon a time, there was a little girl named Lily. She loved to play outs", "-n", "16", "--temp", "0"},
      scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
            "she saw a big,\n");
  EXPECT_NE(r.err.find("prompt tokens: 24,"), std::string::npos) << r.err;
}

TEST(RunCli, PromptedGreedyTextContinuesLikeRunC) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_run_prompts");
  // run.c prints the prompt and its continuation within 80 positions; llama2.c tokenizes prompts
  // its own way (its token count may differ from SentencePiece's), so compare the text: run.c's
  // output (without its final newline) must begin ours.
  int passed = 0, total = 0;
  for (const std::string& name : {std::string("Once_upon_a_time"), std::string("Tom_and_his_dog")}) {
    std::string prompt = name;
    std::replace(prompt.begin(), prompt.end(), '_', ' ');
    auto want =
        read_file(testing::conformance_path("models/stories260K/reference/run_c.t0.n80.prompt_" + name + ".txt"));
    ASSERT_TRUE(want.ok());
    ASSERT_FALSE(want->empty());
    std::string text = want->substr(0, want->size() - 1);
    RunResult r = run_baleen({"run", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "-p",
                              prompt, "-n", "80", "--temp", "0"},
                             scratch);
    ASSERT_EQ(r.status, 0) << r.err;
    ++total;
    EXPECT_EQ(r.out.rfind(text, 0), 0u) << "want prefix:\n" << text << "\ngot:\n" << r.out;
    if (r.out.rfind(text, 0) == 0) ++passed;
  }
  testing::report_conformance("cli run stories260K greedy with prompt vs run.c", passed, total);
}

TEST(RunCli, SamplingIsDeterministicForASeed) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_run_seed");
  std::vector<std::string> args = {"run", "-m",     testing::conformance_path("models/stories260K/stories260K.gguf"),
                                   "-n",  "40",     "--temp",
                                   "1.0", "--seed", "7"};
  RunResult a = run_baleen(args, scratch);
  RunResult b = run_baleen(args, scratch);
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
}

TEST(LogitsCli, MicroModelsF32MatchNumpyReference) {
  BALEEN_REQUIRE_CONFORMANCE();
  int passed = 0, total = 0;
  for (const std::string m : {"ds2-micro", "ds3-micro", "llama-micro", "qwen2-micro"}) {
    check_logits("models/micro/" + m + "/" + m + "-f32.gguf", "models/micro/" + m + "/ref/" + m + "-f32.numpy.logits",
                 {}, 1e-4, false, &passed, &total);
  }
  // Both MLA attention forms must give the same (exact-math) logits.
  for (const std::string m : {"ds2-micro", "ds3-micro"}) {
    for (const std::string form : {"naive", "absorbed"}) {
      check_logits("models/micro/" + m + "/" + m + "-f32.gguf", "models/micro/" + m + "/ref/" + m + "-f32.numpy.logits",
                   {"--attention", form}, 1e-4, false, &passed, &total);
    }
  }
  testing::report_conformance("cli logits micro F32 vs numpy (1e-4)", passed, total);
}

TEST(LogitsCli, Stories260KAndHfFolderMatchNumpyReference) {
  BALEEN_REQUIRE_CONFORMANCE();
  int passed = 0, total = 0;
  // stories260K logits reach 22: README section 8 suggests 1e-4 relative to the largest |logit|.
  check_logits("models/stories260K/stories260K.gguf", "models/stories260K/reference/stories260K.numpy.logits", {}, 1e-4,
               true, &passed, &total);
  check_logits("hf/ds3-micro-bf16", "hf/reference/ds3-micro-bf16.logits", {}, 1e-4, false, &passed, &total);
  testing::report_conformance("cli logits stories260K + HF ds3-micro vs numpy", passed, total);
}

TEST(LogitsCli, MtpHeadMatchesPostnormReference) {
  BALEEN_REQUIRE_CONFORMANCE();
  int passed = 0, total = 0;
  // 23 rows: row i predicts ids[i + 2] (README section 7.4, primary "postnorm" reference).
  check_logits("hf/ds3-micro-bf16", "hf/reference/ds3-micro-bf16.mtp-postnorm.logits", {"--head", "mtp"}, 1e-4, false,
               &passed, &total);
  testing::report_conformance("cli logits --head mtp ds3-micro-bf16 vs numpy postnorm", passed, total);
}

TEST(LogitsCli, BadInputsGiveOneErrorLine) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_logits_bad");
  const std::string llama = testing::conformance_path("models/micro/llama-micro/llama-micro-f32.gguf");
  const std::string ds3_gguf = testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf");
  const std::string out = scratch + "/out.f32";
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string expect_in_error;
  };
  std::vector<Case> cases = {
      {"id out of range", {"-m", llama, "--ids", "1,403,512"}, "512"},
      {"negative id", {"-m", llama, "--ids", "1,-3"}, "-3"},
      {"empty ids", {"-m", llama, "--ids", ""}, "--ids"},
      {"not a number", {"-m", llama, "--ids", "1,x,3"}, "'x'"},
      {"empty entry", {"-m", llama, "--ids", "1,,3"}, "--ids"},
      {"too many ids for --ctx", {"-m", llama, "--ids", "1,2,3,4,5", "-c", "4"}, "context"},
      {"nonexistent model", {"-m", scratch + "/no-such-model.gguf", "--ids", "1,2"}, "no-such-model"},
      // llama.cpp's converter drops MTP tensors: the GGUF has none.
      {"mtp head without MTP", {"-m", ds3_gguf, "--ids", "1,2,3", "--head", "mtp"}, "MTP"},
      {"unknown head", {"-m", llama, "--ids", "1,2", "--head", "draft"}, "--head"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"logits", "-o", out};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult r = run_baleen(args, scratch);
    EXPECT_NE(r.status, 0) << c.name;
    EXPECT_EQ(count_lines(r.err), 1u) << c.name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("baleen logits: error: ", 0), 0u) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect_in_error), std::string::npos) << c.name << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.name;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.name << " left an output file";
  }
}

TEST(ChatCli, ModelWithoutTemplateNeedsTemplateFlag) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_chat_no_template");
  RunResult r = run_baleen({"chat", "-m", testing::conformance_path("models/stories260K/stories260K.gguf")}, scratch,
                           "Hello\nHow are you?\n");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("baleen chat: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("chat template"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--template"), std::string::npos) << r.err;
  // run --chat says the same.
  r = run_baleen({"run", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "-p", "hi", "--chat"},
                 scratch);
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--template"), std::string::npos) << r.err;
  // An unknown template name.
  r = run_baleen(
      {"chat", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "--template", "chatml"}, scratch,
      "Hello\n");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("chatml"), std::string::npos) << r.err;
}

TEST(ChatCli, PipedTurnsWithExplicitTemplate) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string scratch = testing::scratch_dir("cli_chat_ds3");
  std::vector<std::string> args = {
      "chat",       "-m",          testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"),
      "--template", "deepseek-v3", "--temp",
      "0",          "-n",          "12",
      "--stats"};
  RunResult r = run_baleen(args, scratch, "Hello there\nAnd a second question\n");
  ASSERT_EQ(r.status, 0) << r.err;
  // One reply per turn, each ended by a newline (random weights: the text itself means nothing).
  EXPECT_GE(count_lines(r.out), 2u) << r.out;
  EXPECT_EQ(r.out.find("> "), std::string::npos) << "no prompt without a terminal";
  // --stats: the second turn reuses the first turn's tokens from the KV cache.
  size_t turn2 = r.err.find("turn 2:");
  ASSERT_NE(turn2, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("reused 0 ", turn2), std::string::npos) << r.err.substr(turn2);
  EXPECT_EQ(r.err.find("turn 3:"), std::string::npos) << r.err;
  // Greedy: the same conversation gives the same replies.
  RunResult again = run_baleen(args, scratch, "Hello there\nAnd a second question\n");
  EXPECT_EQ(again.out, r.out);
  // The first reply equals `run --chat` on the same message.
  RunResult single = run_baleen({"run", "-m", testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"),
                                 "--chat", "--template", "deepseek-v3", "-p", "Hello there", "--temp", "0", "-n", "12"},
                                scratch);
  ASSERT_EQ(single.status, 0) << single.err;
  // chat drops whitespace at the start of a reply (as the templates do); run prints it.
  std::string single_reply = single.out.substr(std::min(single.out.find_first_not_of(" \n"), single.out.size() - 1));
  EXPECT_EQ(r.out.rfind(single_reply, 0), 0u) << "chat:\n" << r.out << "\nrun --chat:\n" << single_reply;
}

}  // namespace
}  // namespace baleen
