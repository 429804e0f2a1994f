// Hugging Face folders (ds2 BF16, ds3 BF16 and FP8 used in place) against the numpy references,
// and the ds3 MTP head (conformance README section 7).
#include "model_test_util.h"

namespace baleen {
namespace {

int check_folder(const std::string& name) {
  auto model = model_test::load_or_fail(testing::conformance_path("hf/" + name));
  if (!model) return 0;
  const auto ref = model_test::read_ref(testing::conformance_path("hf/reference/" + name + ".logits"));
  const std::vector<TokenId> ids(ref.tokens.begin(), ref.tokens.end());
  const auto c = model_test::compare(model_test::eval_all(*model, ids), ref);
  std::printf("MAXDIFF hf/%s numpy %.3g (argmax %d/24)\n", name.c_str(), c.max(), c.argmax_equal);
  EXPECT_LE(c.max(), 1e-4) << name;
  EXPECT_EQ(c.argmax_equal, ref.n_rows) << name;
  const auto g = model_test::greedy_fresh(*model, ids, 16);
  EXPECT_EQ(g, ref.greedy) << name;
  return (c.max() <= 1e-4 && c.argmax_equal == ref.n_rows) + (g == ref.greedy);
}

int check_mtp(const std::string& name, AttentionForm form) {
  auto model = model_test::load_or_fail(testing::conformance_path("hf/" + name));
  if (!model) return 0;
  EXPECT_TRUE(model->has_mtp());
  const auto ref = model_test::read_ref(testing::conformance_path("hf/reference/" + name + ".mtp-postnorm.logits"));
  const std::vector<TokenId> ids(ref.tokens.begin(), ref.tokens.end());
  SessionOptions so;
  so.n_ctx = 64;
  so.attention = form;
  auto s = Session::create(*model, model_test::pool(), so);
  EXPECT_TRUE(s.ok());
  std::vector<float> logits;
  // Evaluate in two chunks so the hidden states of both are used.
  EXPECT_TRUE((*s)->eval(std::span<const TokenId>(ids.data(), 10), &logits, false).ok());
  EXPECT_TRUE((*s)->eval(std::span<const TokenId>(ids.data() + 10, ids.size() - 10), &logits, false).ok());
  std::vector<float> mtp;
  Status st = (*s)->mtp_logits(&mtp);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
  EXPECT_EQ(mtp.size(), static_cast<size_t>(23 * ref.n_vocab));
  const auto c = model_test::compare(mtp, ref);
  std::printf("MAXDIFF hf/%s mtp-postnorm numpy %.3g (argmax %d/23)\n", name.c_str(), c.max(), c.argmax_equal);
  EXPECT_LE(c.max(), 1e-4) << name;
  EXPECT_EQ(c.argmax_equal, ref.n_rows) << name;
  return c.max() <= 1e-4 && c.argmax_equal == ref.n_rows && c.row_max.size() == 23;
}

TEST(HfConformance, Ds2MicroBf16) {
  BALEEN_REQUIRE_CONFORMANCE();
  testing::report_conformance("model hf/ds2-micro-bf16 (logits 1e-4, greedy)", check_folder("ds2-micro-bf16"), 2);
}

TEST(HfConformance, Ds3MicroBf16) {
  BALEEN_REQUIRE_CONFORMANCE();
  testing::report_conformance("model hf/ds3-micro-bf16 (logits 1e-4, greedy)", check_folder("ds3-micro-bf16"), 2);
}

TEST(HfConformance, Ds3MicroFp8) {
  BALEEN_REQUIRE_CONFORMANCE();
  testing::report_conformance("model hf/ds3-micro-fp8 (logits 1e-4, greedy)", check_folder("ds3-micro-fp8"), 2);
}

TEST(HfConformance, MtpPostnorm) {
  BALEEN_REQUIRE_CONFORMANCE();
  int passed = 0;
  for (const char* name : {"ds3-micro-bf16", "ds3-micro-fp8"}) {
    passed += check_mtp(name, AttentionForm::kAuto);
    passed += check_mtp(name, AttentionForm::kAbsorbed);
  }
  testing::report_conformance("model hf MTP postnorm (bf16, fp8; naive and absorbed)", passed, 4);
}

TEST(HfConformance, MtpUnsupportedWithoutModule) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto model = model_test::load_or_fail(testing::conformance_path("hf/ds2-micro-bf16"));
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->has_mtp());
  auto s = Session::create(*model, model_test::pool(), {});
  ASSERT_TRUE(s.ok());
  std::vector<float> mtp;
  Status st = (*s)->mtp_logits(&mtp);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kUnsupported);
}

TEST(HfConformance, MtpNotLoadedOnRequest) {
  BALEEN_REQUIRE_CONFORMANCE();
  LoadOptions lo;
  lo.load_mtp = false;
  auto model = Model::load(testing::conformance_path("hf/ds3-micro-bf16"), lo);
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE((*model)->has_mtp());
}

}  // namespace
}  // namespace baleen
