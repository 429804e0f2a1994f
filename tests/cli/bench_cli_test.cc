// End-to-end tests of `baleen bench` on the conformance micro model: the --json object has the
// fields other programs rely on (pp_tps, tg_tps, batch_tps keyed by batch size, bandwidth_gbs,
// load_s, first_token_s) with positive finite values, the text table names its units, and bad inputs give one error
// line and a non-zero exit status. Speeds are never asserted beyond being positive. The weight bytes
// a token and a batched step read are checked against the file's tensor list (the model's count of
// the routed experts it ran against the top-k rule).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "io/gguf.h"
#include "testing.h"

namespace baleen {
namespace {

using testing::count_lines;
using testing::run_baleen;
using testing::RunResult;

std::string micro_model() { return testing::conformance_path("models/micro/ds3-micro/ds3-micro-q4_k_m.gguf"); }

bool positive_finite(const nlohmann::json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0;
}

TEST(BenchCli, JsonHasTheRequiredFields) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_json");
  RunResult r =
      run_baleen({"bench", "-m", micro_model(), "-p", "32", "-n", "8", "-b", "1,2", "-r", "2", "--json"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  // Exactly one JSON object on stdout, nothing else.
  ASSERT_EQ(count_lines(r.out), 1u) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* key : {"pp_tps", "tg_tps", "bandwidth_gbs", "bytes_per_token", "roofline_pct", "load_s",
                          "first_token_s", "tg_bandwidth_gbs", "roofline_pct_paired"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing: " << r.out;
    EXPECT_TRUE(positive_finite(j[key])) << key << " = " << j[key].dump();
  }
  ASSERT_TRUE(j.contains("batch_tps") && j["batch_tps"].is_object()) << r.out;
  EXPECT_EQ(j["batch_tps"].size(), 2u) << j["batch_tps"].dump();
  for (const char* b : {"1", "2"}) {
    ASSERT_TRUE(j["batch_tps"].contains(b)) << "batch_tps has no key " << b << ": " << j["batch_tps"].dump();
    EXPECT_TRUE(positive_finite(j["batch_tps"][b])) << b << " = " << j["batch_tps"][b].dump();
  }
  // The bandwidth is the fastest of the probe's ways, small pages among them.
  ASSERT_TRUE(j.contains("bandwidth_huge_pages") && j["bandwidth_huge_pages"].is_boolean()) << r.out;
  ASSERT_TRUE(j.contains("bandwidth_small_pages_gbs") && positive_finite(j["bandwidth_small_pages_gbs"])) << r.out;
  EXPECT_GE(j["bandwidth_gbs"].get<double>(), j["bandwidth_small_pages_gbs"].get<double>());
  EXPECT_EQ(j["bandwidth_huge_pages"].get<bool>(),
            j["bandwidth_gbs"].get<double>() > j["bandwidth_small_pages_gbs"].get<double>());
  // The time to the first token includes the load.
  EXPECT_GE(j["first_token_s"].get<double>(), j["load_s"].get<double>());
  // The batch measurement runs the batched forward.
  ASSERT_TRUE(j.contains("batch_note") && j["batch_note"].is_string());
  EXPECT_NE(j["batch_note"].get<std::string>().find("eval_batch"), std::string::npos) << j["batch_note"];
  // Spreads bracket the medians.
  for (const char* key : {"pp_tps", "tg_tps", "load_s", "first_token_s", "tg_bandwidth_gbs", "roofline_pct_paired"}) {
    const nlohmann::json& s = j[std::string(key) + "_spread"];
    ASSERT_TRUE(s.is_array() && s.size() == 2) << key;
    EXPECT_LE(s[0].get<double>(), j[key].get<double>()) << key;
    EXPECT_GE(s[1].get<double>(), j[key].get<double>()) << key;
  }
  EXPECT_EQ(j.value("n_prompt", 0), 32);
  EXPECT_EQ(j.value("n_gen", 0), 8);
  EXPECT_EQ(j.value("reps", 0), 2);
  EXPECT_EQ(j.value("model", std::string()), "ds3-micro-q4_k_m");
  // The micro model is MoE: a token reads fewer weight bytes than the file holds.
  EXPECT_LT(j["bytes_per_token"].get<double>(), j["model_size_bytes"].get<double>());
}

TEST(BenchCli, TextTablePrintsUnits) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_text");
  RunResult r =
      run_baleen({"bench", "-m", micro_model(), "-p", "16", "-n", "4", "-b", "1,3", "-r", "1", "-t", "1"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* want : {"pp16", "tg4", "batch 1", "batch 3", "t/s", "GB/s", "roofline", "%", "ds3-micro-q4_k_m",
                           "threads", "bandwidth", "| load ", "| first token ", " s    |"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << "no '" << want << "' in:\n" << r.out;
  }
}

// -d: tg and batch decode after a held context; the JSON and the table name it. The decoded
// sessions must hold depth + n_gen + 1 tokens, so a depth past the context is refused.
TEST(BenchCli, DepthDecodesAfterAHeldContext) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_depth");
  RunResult r = run_baleen(
      {"bench", "-m", micro_model(), "-p", "8", "-d", "40", "-n", "4", "-b", "1,2", "-r", "2", "--json"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("n_depth", -1), 40);
  EXPECT_TRUE(positive_finite(j["tg_tps"])) << r.out;
  EXPECT_TRUE(positive_finite(j["batch_tps"]["2"])) << r.out;
  RunResult t =
      run_baleen({"bench", "-m", micro_model(), "-p", "8", "-d", "16", "-n", "4", "-b", "1", "-r", "1"}, scratch);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("tg4 @ d16"), std::string::npos) << t.out;
  RunResult bad = run_baleen({"bench", "-m", micro_model(), "-p", "8", "-d", "-3", "-n", "4", "-r", "1"}, scratch);
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.err.rfind("baleen bench: error: ", 0), 0u) << bad.err;
  RunResult far = run_baleen(
      {"bench", "-m", micro_model(), "-p", "8", "-d", "100000000", "-n", "4", "-r", "1", "-c", "64"}, scratch);
  EXPECT_NE(far.status, 0);
  EXPECT_EQ(far.err.rfind("baleen bench: error: ", 0), 0u) << far.err;
}

TEST(BenchCli, DenseModelRuns) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_dense");
  RunResult r = run_baleen({"bench", "-m", testing::conformance_path("models/stories260K/stories260K.gguf"), "-p", "16",
                            "-n", "4", "-b", "2", "-r", "1", "--json"},
                           scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_TRUE(positive_finite(j["batch_tps"]["2"])) << r.out;
  // Dense: every tensor but the embedding table (one row per token) is read.
  EXPECT_GT(j["bytes_per_token"].get<double>(), 0);
  EXPECT_LE(j["bytes_per_token"].get<double>(), j["model_size_bytes"].get<double>());
}

// ds3-micro: 16 routed experts, 4 used per token, one shared expert, untied output head. A token
// reads every tensor except 12/16 of each routed-expert stack and all but one embedding row.
TEST(BenchCli, BytesPerTokenCountsOnlyTheRoutedTopK) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_bytes");
  auto gguf = GgufFile::open(micro_model());
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  ASSERT_EQ(gguf->get_int("deepseek2.expert_count").value(), 16);
  ASSERT_EQ(gguf->get_int("deepseek2.expert_used_count").value(), 4);
  ASSERT_NE(gguf->find_tensor("output.weight"), nullptr);
  uint64_t want = 0, experts = 0, routed = 0, embd_row = 0;
  for (const GgufTensorInfo& t : gguf->tensors()) {
    if (t.name == "token_embd.weight") {
      ASSERT_EQ(t.ne.size(), 2u);
      embd_row = t.n_bytes / t.ne[1];
      want += embd_row;
    } else if (t.name.find("_exps.weight") != std::string::npos) {
      ASSERT_EQ(t.ne.size(), 3u);
      ASSERT_EQ(t.ne[2], 16u) << t.name;
      want += t.n_bytes / 16 * 4;
      routed += t.n_bytes / 16 * 4;
      ++experts;
    } else {
      want += t.n_bytes;
    }
  }
  EXPECT_EQ(experts, 6u);  // gate/up/down of the two MoE layers
  RunResult r =
      run_baleen({"bench", "-m", micro_model(), "-p", "4", "-n", "6", "-b", "1,2,4", "-r", "1", "--json"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("bytes_per_token", uint64_t{0}), want);
  EXPECT_EQ(j.value("routed_bytes_per_token", uint64_t{0}), routed);
  EXPECT_EQ(j.value("model_size_bytes", uint64_t{0}), gguf->file_size());

  // Batched steps: the model's own count of the routed experts it ran. One sequence: exactly the
  // top-k of each MoE layer, so the file's per-token figure. B sequences: each layer runs at least
  // the 4 experts of one token and at most min(16, 4 B) (each expert once however many chose it).
  ASSERT_TRUE(j.contains("batch_bytes_per_step") && j["batch_bytes_per_step"].is_object()) << r.out;
  const nlohmann::json& step = j["batch_bytes_per_step"];
  ASSERT_TRUE(step.contains("1")) << step.dump();
  EXPECT_EQ(step["1"].get<double>(), static_cast<double>(want));
  for (int b : {2, 4}) {
    const std::string key = std::to_string(b);
    ASSERT_TRUE(step.contains(key)) << step.dump();
    const double got = step[key].get<double>();
    const double fixed = static_cast<double>(want - routed) + (b - 1) * static_cast<double>(embd_row);
    EXPECT_GE(got, fixed + static_cast<double>(routed)) << "b=" << b;
    EXPECT_LE(got, fixed + static_cast<double>(routed) * std::min(16, 4 * b) / 4.0) << "b=" << b;
    // The bound B sequences can reach over one at the same bandwidth, and the roofline of the run.
    EXPECT_DOUBLE_EQ(j["batch_speedup_bound"][key].get<double>(), b * static_cast<double>(want) / got) << "b=" << b;
    EXPECT_DOUBLE_EQ(j["batch_roofline_pct"][key].get<double>(),
                     100.0 * j["batch_tps"][key].get<double>() / b * got / 1e9 / j["bandwidth_gbs"].get<double>())
        << "b=" << b;
  }
}

TEST(BenchCli, HuggingFaceFolderRuns) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_hf");
  RunResult r = run_baleen({"bench", "-m", testing::conformance_path("hf/ds3-micro-bf16"), "-p", "8", "-n", "2", "-b",
                            "1", "-r", "1", "--json"},
                           scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("model", std::string()), "ds3-micro-bf16");
  for (const char* key : {"pp_tps", "tg_tps", "bandwidth_gbs", "bytes_per_token", "model_size_bytes"}) {
    EXPECT_TRUE(positive_finite(j[key])) << key << " = " << j[key].dump();
  }
  EXPECT_LT(j["bytes_per_token"].get<double>(), j["model_size_bytes"].get<double>());
}

TEST(BenchCli, BadInputsGiveOneErrorLine) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string scratch = testing::scratch_dir("cli_bench_errors");
  const std::string m = micro_model();
  const std::vector<std::vector<std::string>> cases = {
      {"bench", "-m", scratch + "/no-such-model.gguf", "-p", "8", "-n", "2", "-r", "1"},
      {"bench", "-m", m, "-p", "0", "-n", "2", "-r", "1"},
      {"bench", "-m", m, "-p", "8", "-n", "-1", "-r", "1"},
      {"bench", "-m", m, "-p", "8", "-n", "2", "-r", "0"},
      {"bench", "-m", m, "-p", "100000000", "-n", "2", "-r", "1"},
      {"bench", "-m", m, "-p", "8", "-n", "2", "-r", "1", "-b", "1,,4"},
      {"bench", "-m", m, "-p", "8", "-n", "2", "-r", "1", "-b", "0"},
      {"bench", "-m", m, "-p", "8", "-n", "2", "-r", "1", "-b", "x"},
      {"bench", "-m", m, "-p", "8", "-n", "2", "-r", "1", "-b", "2,2"},
  };
  for (const auto& args : cases) {
    RunResult r = run_baleen(args, scratch);
    const std::string what = ::testing::PrintToString(args);
    EXPECT_NE(r.status, 0) << what;
    EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << what << ": " << r.err;
    EXPECT_EQ(r.err.rfind("baleen bench: error: ", 0), 0u) << what << ": " << r.err;
  }
}

}  // namespace
}  // namespace baleen
