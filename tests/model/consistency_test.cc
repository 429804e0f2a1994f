// Self-consistency of the forward pass: decoding token by token through the cache equals one
// prefill, naive and absorbed MLA agree, chunking does not matter, sessions are independent,
// truncate rewinds. Expected values come from a second way of computing the same logits.
#include "model_test_util.h"

namespace baleen {
namespace {

const std::vector<TokenId> kIds = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                   421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};

std::string f32_path(const std::string& m) {
  return testing::conformance_path("models/micro/" + m + "/" + m + "-f32.gguf");
}

// Logits of every position, evaluating `chunks` (sizes summing to kIds.size()) one after another.
std::vector<float> eval_chunked(Session& s, const std::vector<TokenId>& ids, const std::vector<int>& chunks) {
  std::vector<float> all, part;
  size_t at = 0;
  for (int c : chunks) {
    Status st = s.eval(std::span<const TokenId>(ids.data() + at, static_cast<size_t>(c)), &part, true);
    EXPECT_TRUE(st.ok());
    all.insert(all.end(), part.begin(), part.end());
    at += static_cast<size_t>(c);
  }
  return all;
}

std::unique_ptr<Session> make_session(const Model& m, AttentionForm form = AttentionForm::kAuto) {
  SessionOptions so;
  so.n_ctx = 64;
  so.attention = form;
  auto s = Session::create(m, model_test::pool(), so);
  EXPECT_TRUE(s.ok());
  return std::move(s).value();
}

class PerModel : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Model> load() {
    const std::string& p = GetParam();
    return model_test::load_or_fail(p.rfind("hf/", 0) == 0 ? testing::conformance_path(p) : f32_path(p));
  }
};

TEST_P(PerModel, DecodeEqualsPrefill) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<float> prefill = model_test::eval_all(*m, kIds);
  auto s = make_session(*m);
  const std::vector<float> decode = eval_chunked(*s, kIds, std::vector<int>(kIds.size(), 1));
  const double d = model_test::max_abs_diff(prefill, decode);
  std::printf("MAXDIFF %s decode-vs-prefill %.3g\n", GetParam().c_str(), d);
  EXPECT_LE(d, 1e-4);
}

TEST_P(PerModel, UnevenChunksEqualOnePass) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<float> one = model_test::eval_all(*m, kIds);
  auto s = make_session(*m);
  const std::vector<float> chunked = eval_chunked(*s, kIds, {5, 1, 11, 7});
  const double d = model_test::max_abs_diff(one, chunked);
  std::printf("MAXDIFF %s chunks-vs-one-pass %.3g\n", GetParam().c_str(), d);
  EXPECT_LE(d, 1e-4);
}

TEST_P(PerModel, InterleavedSessionsAreIndependent) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<TokenId> other(kIds.rbegin(), kIds.rend());
  const std::vector<float> alone_a = model_test::eval_all(*m, kIds);
  const std::vector<float> alone_b = model_test::eval_all(*m, other);
  auto a = make_session(*m);
  auto b = make_session(*m);
  std::vector<float> got_a, got_b, part;
  for (size_t at = 0; at < kIds.size(); at += 6) {
    ASSERT_TRUE(a->eval(std::span<const TokenId>(kIds.data() + at, 6), &part, true).ok());
    got_a.insert(got_a.end(), part.begin(), part.end());
    ASSERT_TRUE(b->eval(std::span<const TokenId>(other.data() + at, 6), &part, true).ok());
    got_b.insert(got_b.end(), part.begin(), part.end());
  }
  EXPECT_LE(model_test::max_abs_diff(alone_a, got_a), 1e-4);
  EXPECT_LE(model_test::max_abs_diff(alone_b, got_b), 1e-4);
}

TEST_P(PerModel, TruncateRewinds) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<float> one = model_test::eval_all(*m, kIds);
  auto s = make_session(*m);
  std::vector<float> logits;
  // Fill with different tokens after position 12, rewind, then evaluate the real ones.
  std::vector<TokenId> wrong(kIds.begin(), kIds.begin() + 12);
  wrong.insert(wrong.end(), 12, 7);
  ASSERT_TRUE(s->eval(wrong, &logits, true).ok());
  s->truncate(12);
  EXPECT_EQ(s->n_past(), 12);
  ASSERT_TRUE(s->eval(std::span<const TokenId>(kIds.data() + 12, 12), &logits, true).ok());
  const std::vector<float> tail(one.begin() + 12 * m->config().n_vocab, one.end());
  EXPECT_LE(model_test::max_abs_diff(tail, logits), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Models, PerModel,
                         ::testing::Values("llama-micro", "qwen2-micro", "ds2-micro", "ds3-micro", "hf/ds2-micro-bf16",
                                           "hf/ds3-micro-fp8"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-' || c == '/') c = '_';
                           }
                           return n;
                         });

// Naive (expanded K/V) and absorbed (latent MQA) MLA forms, prefill and decode.
class MlaForms : public PerModel {};

TEST_P(MlaForms, NaiveEqualsAbsorbed) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<float> naive = model_test::eval_all(*m, kIds, AttentionForm::kNaive);
  const std::vector<float> absorbed = model_test::eval_all(*m, kIds, AttentionForm::kAbsorbed);
  const double dp = model_test::max_abs_diff(naive, absorbed);
  auto sn = make_session(*m, AttentionForm::kNaive);
  auto sa = make_session(*m, AttentionForm::kAbsorbed);
  const std::vector<int> ones(kIds.size(), 1);
  const double dd = model_test::max_abs_diff(eval_chunked(*sn, kIds, ones), eval_chunked(*sa, kIds, ones));
  std::printf("MAXDIFF %s naive-vs-absorbed prefill %.3g decode %.3g\n", GetParam().c_str(), dp, dd);
  EXPECT_LE(dp, 1e-4);
  EXPECT_LE(dd, 1e-4);
  // And both match the prefill of the automatic choice.
  EXPECT_LE(model_test::max_abs_diff(naive, model_test::eval_all(*m, kIds)), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Deepseek, MlaForms,
                         ::testing::Values("ds2-micro", "ds3-micro", "hf/ds2-micro-bf16", "hf/ds3-micro-fp8"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-' || c == '/') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace baleen
