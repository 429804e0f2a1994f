// Session::export_kv / import_kv: a session that imports another's exported rows continues exactly
// as the original does (bitwise-equal logits, and for MTP models equal draft logits), on the
// conformance micro models (ds3 GGUF, ds3 HF folder with MTP, llama GGUF).
#include <cstring>

#include "model_test_util.h"

namespace baleen {
namespace {

std::unique_ptr<Session> make_session(const Model& model, int64_t n_ctx = 64) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  auto s = Session::create(model, model_test::pool(), so);
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s).value() : nullptr;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Evaluates the fixed 24 ids in A, copies positions [0, 24) into a fresh B in two imports, then
// evaluates the same next tokens in both.
void check_roundtrip(const std::string& rel, bool mtp) {
  auto model = model_test::load_or_fail(testing::conformance_path(rel));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->has_mtp(), mtp) << rel;
  const ModelConfig& cfg = model->config();
  const std::vector<TokenId> ids = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                    421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};
  auto a = make_session(*model);
  auto b = make_session(*model);
  ASSERT_TRUE(a && b);
  std::vector<float> la, lb;
  ASSERT_TRUE(a->eval(ids, &la, false).ok());

  const int64_t F = a->kv_floats_per_token();
  int64_t expect_f = cfg.arch == ModelArch::kDeepseek2 ? cfg.n_layers * (cfg.kv_lora_rank + cfg.qk_rope_head_dim)
                                                       : cfg.n_layers * 2 * cfg.n_kv_heads * cfg.head_dim;
  if (model->has_mtp()) expect_f += cfg.kv_lora_rank + cfg.qk_rope_head_dim + cfg.hidden_size;
  EXPECT_EQ(F, expect_f);
  EXPECT_EQ(b->kv_floats_per_token(), F);

  std::vector<float> kv(static_cast<size_t>(24 * F));
  ASSERT_TRUE(a->export_kv(0, 24, kv.data()).ok());
  // Out of range exports are refused.
  EXPECT_EQ(a->export_kv(20, 5, kv.data()).error().code(), ErrorCode::kOutOfRange);
  // Import in two pieces (as the prefix cache does, block by block).
  const std::span<const TokenId> all(ids);
  ASSERT_TRUE(b->import_kv(all.subspan(0, 16), kv.data()).ok());
  ASSERT_TRUE(b->import_kv(all.subspan(16), kv.data() + 16 * F).ok());
  EXPECT_EQ(b->n_past(), 24);
  // Export of the imported state reproduces the rows.
  std::vector<float> kv2(kv.size());
  ASSERT_TRUE(b->export_kv(0, 24, kv2.data()).ok());
  EXPECT_TRUE(bitwise_equal(kv, kv2));

  // The next tokens: a decode step and a 3-token chunk.
  const std::vector<TokenId> next1 = {353};
  const std::vector<TokenId> next3 = {290, 394, 261};
  ASSERT_TRUE(a->eval(next1, &la, false).ok());
  ASSERT_TRUE(b->eval(next1, &lb, false).ok());
  EXPECT_TRUE(bitwise_equal(la, lb)) << rel << " decode after import: max diff " << model_test::max_abs_diff(la, lb);
  ASSERT_TRUE(a->eval(next3, &la, true).ok());
  ASSERT_TRUE(b->eval(next3, &lb, true).ok());
  EXPECT_TRUE(bitwise_equal(la, lb)) << rel << " chunk after import: max diff " << model_test::max_abs_diff(la, lb);

  if (model->has_mtp()) {
    std::vector<float> ma, mb;
    ASSERT_TRUE(a->mtp_logits(&ma).ok());
    ASSERT_TRUE(b->mtp_logits(&mb).ok());
    EXPECT_TRUE(bitwise_equal(ma, mb)) << rel << " MTP logits after import";
  }

  // Does not fit: nothing appended.
  auto small = make_session(*model, 20);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->import_kv(all, kv.data()).error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(small->n_past(), 0);
  const std::vector<TokenId> bad = {static_cast<TokenId>(cfg.n_vocab)};
  EXPECT_EQ(small->import_kv(bad, kv.data()).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(small->n_past(), 0);
}

TEST(SessionKv, Ds3GgufRoundTrip) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_roundtrip("models/micro/ds3-micro/ds3-micro-f32.gguf", false);
}

TEST(SessionKv, Ds3HfWithMtpRoundTrip) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_roundtrip("hf/ds3-micro-bf16", true);
}

TEST(SessionKv, LlamaGgufRoundTrip) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_roundtrip("models/micro/llama-micro/llama-micro-q8_0.gguf", false);
}

}  // namespace
}  // namespace baleen
