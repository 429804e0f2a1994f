// CachedSequence against a fake Session that records what it is asked to evaluate: only the tokens
// after the common prefix are evaluated, and the cache stays consistent after errors.
#include "engine/cached_sequence.h"

#include <gtest/gtest.h>

#include <vector>

namespace baleen {
namespace {

class FakeSession : public Session {
 public:
  explicit FakeSession(int64_t n_ctx) : n_ctx_(n_ctx) {}

  Status eval(std::span<const TokenId> tokens, std::vector<float>* logits, bool all_logits) override {
    if (static_cast<int64_t>(held.size() + tokens.size()) > n_ctx_) {
      return Error(ErrorCode::kOutOfRange, "context full");
    }
    calls.emplace_back(tokens.begin(), tokens.end());
    held.insert(held.end(), tokens.begin(), tokens.end());
    // Logits that identify the state: one "vocab" entry holding the sequence length.
    logits->assign(1, static_cast<float>(held.size()));
    return ok_status();
  }
  Status mtp_logits(std::vector<float>*) override { return Error(ErrorCode::kUnsupported, "no MTP"); }
  int64_t n_past() const override { return static_cast<int64_t>(held.size()); }
  int64_t n_ctx() const override { return n_ctx_; }
  void truncate(int64_t n) override { held.resize(static_cast<size_t>(n)); }

  std::vector<TokenId> held;
  std::vector<std::vector<TokenId>> calls;

 private:
  int64_t n_ctx_;
};

using Ids = std::vector<TokenId>;

TEST(CachedSequence, EvaluatesOnlyWhatFollowsTheCommonPrefix) {
  FakeSession s(16);
  CachedSequence seq(s);
  std::vector<float> logits;
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 3}, &logits).ok());
  EXPECT_EQ(s.calls.back(), (Ids{1, 2, 3}));
  EXPECT_EQ(seq.last_reused(), 0);
  EXPECT_EQ(logits[0], 3.0f);

  ASSERT_TRUE(seq.decode(7, &logits).ok());
  EXPECT_EQ(seq.tokens(), (Ids{1, 2, 3, 7}));

  // Next turn: the rendered conversation continues what is cached.
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 3, 7, 8, 9}, &logits).ok());
  EXPECT_EQ(s.calls.back(), (Ids{8, 9}));
  EXPECT_EQ(seq.last_reused(), 4);
  EXPECT_EQ(seq.last_evaluated(), 2);
  EXPECT_EQ(s.held, (Ids{1, 2, 3, 7, 8, 9}));

  // A re-rendering that differs from the cache at position 2 (e.g. reasoning stripped).
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 5, 6}, &logits).ok());
  EXPECT_EQ(s.calls.back(), (Ids{5, 6}));
  EXPECT_EQ(s.held, (Ids{1, 2, 5, 6}));
  EXPECT_EQ(logits[0], 4.0f);

  // Exactly what is cached: the last token is evaluated again to get its logits.
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 5, 6}, &logits).ok());
  EXPECT_EQ(s.calls.back(), (Ids{6}));
  EXPECT_EQ(seq.last_reused(), 3);

  // A prefix of what is cached.
  ASSERT_TRUE(seq.prefill(Ids{1, 2}, &logits).ok());
  EXPECT_EQ(s.calls.back(), (Ids{2}));
  EXPECT_EQ(s.held, (Ids{1, 2}));
  EXPECT_EQ(seq.tokens(), s.held);
}

TEST(CachedSequence, ErrorsLeaveTheCacheConsistent) {
  FakeSession s(4);
  CachedSequence seq(s);
  std::vector<float> logits;
  EXPECT_EQ(seq.prefill(Ids{}, &logits).error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 3}, &logits).ok());
  Status st = seq.prefill(Ids{1, 2, 9, 9, 9}, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(seq.tokens(), s.held);
  ASSERT_TRUE(seq.prefill(Ids{1, 2, 3, 4}, &logits).ok());
  EXPECT_EQ(seq.tokens(), (Ids{1, 2, 3, 4}));
  EXPECT_FALSE(seq.decode(5, &logits).ok());
  EXPECT_EQ(seq.tokens(), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(seq.tokens(), s.held);
}

}  // namespace
}  // namespace baleen
