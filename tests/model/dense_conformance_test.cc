// llama / qwen2 micro models (every quantization type) and stories260K against the conformance
// references (conformance README sections 5, 6, 8).
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model_test_util.h"

namespace baleen {
namespace {

using model_test::check_micro_file;

void run_model(const std::string& name) {
  int passed = 0, total = 0;
  for (const std::string& type : model_test::micro_types()) {
    passed += check_micro_file(name, type);
    total += 3;
  }
  testing::report_conformance("model " + name + " (numpy 1e-4, greedy, llama.cpp)", passed, total);
}

TEST(DenseConformance, LlamaMicroAllTypes) {
  BALEEN_REQUIRE_CONFORMANCE();
  run_model("llama-micro");
}

TEST(DenseConformance, Qwen2MicroAllTypes) {
  BALEEN_REQUIRE_CONFORMANCE();
  run_model("qwen2-micro");
}

TEST(DenseConformance, Stories260K) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string dir = testing::conformance_path("models/stories260K/");
  auto model = model_test::load_or_fail(dir + "stories260K.gguf");
  ASSERT_TRUE(model);
  ASSERT_NE(model->tokenizer(), nullptr);
  int passed = 0;

  // 24-id input vs the numpy reference.
  const auto np = model_test::read_ref(dir + "reference/stories260K.numpy.logits");
  const std::vector<TokenId> ids(np.tokens.begin(), np.tokens.end());
  const auto c = model_test::compare(model_test::eval_all(*model, ids), np);
  std::printf("MAXDIFF stories260K numpy %.3g\n", c.max());
  EXPECT_LE(c.max(), 1e-4);
  EXPECT_EQ(c.argmax_equal, 24);
  passed += c.max() <= 1e-4 && c.argmax_equal == 24;

  // Greedy 200 tokens from BOS, and logits of the first 8 positions.
  std::ifstream f(dir + "reference/greedy-bos-200.numpy-ref.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto j = nlohmann::json::parse(ss.str());
  const auto want = j.at("tokens").get<std::vector<int32_t>>();
  const auto first8 = j.at("logits_first8_positions").get<std::vector<std::vector<float>>>();
  ASSERT_EQ(want.size(), 201u);
  SessionOptions so;
  so.n_ctx = 256;
  auto s = Session::create(*model, model_test::pool(), so);
  ASSERT_TRUE(s.ok());
  std::vector<int32_t> got = {1};
  std::vector<float> logits;
  double first8_max = 0.0;
  for (int i = 0; i < 200; ++i) {
    const TokenId tok = got.back();
    ASSERT_TRUE((*s)->eval(std::span<const TokenId>(&tok, 1), &logits, false).ok());
    if (i < 8) {
      ASSERT_EQ(first8[i].size(), logits.size());
      for (size_t v = 0; v < logits.size(); ++v) {
        first8_max = std::max(first8_max, std::fabs(static_cast<double>(logits[v]) - first8[i][v]));
      }
    }
    got.push_back(model_test::argmax(logits.data(), static_cast<int64_t>(logits.size())));
  }
  std::printf("MAXDIFF stories260K first8 %.3g\n", first8_max);
  EXPECT_LE(first8_max, 1e-4);
  passed += first8_max <= 1e-4;
  EXPECT_EQ(got, want);
  passed += got == want;
  testing::report_conformance("model stories260K (24-id logits, first-8 logits, greedy 200)", passed, 3);
}

}  // namespace
}  // namespace baleen
