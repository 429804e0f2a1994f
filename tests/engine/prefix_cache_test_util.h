// Helpers shared by the prefix cache tests: a conformance micro model, a prompt longer than the
// fixed 24 ids, sessions, and a cold evaluation to compare restored sessions with.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/prefix_cache.h"
#include "model/model_test_util.h"

namespace baleen::prefix_test {

// The fixed 24 ids (conformance README section 2) followed by 12 more in-vocabulary ids: 36 tokens.
inline std::vector<TokenId> prompt() {
  return {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401,
          396, 267, 337, 410, 408, 419, 353, 290, 394, 261, 300, 311, 322, 333, 344, 355, 366, 377};
}

inline std::unique_ptr<Session> session(const Model& model, int64_t n_ctx = 64) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  auto s = Session::create(model, model_test::pool(), so);
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s).value() : nullptr;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// All logits of ids[split..] in a session that first evaluated ids[0..split) in one chunk: what a
// session restored with `split` cached tokens (cached from a session that evaluated them the same
// way) must reproduce bit for bit.
inline std::vector<float> logits_after(const Model& model, const std::vector<TokenId>& ids, size_t split,
                                       std::unique_ptr<Session>* keep = nullptr) {
  auto s = session(model);
  std::vector<float> logits;
  const std::span<const TokenId> all(ids);
  EXPECT_TRUE(s->eval(all.first(split), &logits, false).ok());
  EXPECT_TRUE(s->eval(all.subspan(split), &logits, true).ok());
  if (keep != nullptr) *keep = std::move(s);
  return logits;
}

// What a session restored with the first `keep` positions of a session that evaluated
// source[0..chunk) in one chunk must reproduce bit for bit: that session truncated to `keep`, then
// ids[keep..] evaluated (all logits). ids and source share their first `keep` tokens.
inline std::vector<float> logits_after_truncate(const Model& model, const std::vector<TokenId>& source, size_t chunk,
                                                const std::vector<TokenId>& ids, size_t keep) {
  auto s = session(model);
  std::vector<float> logits;
  EXPECT_TRUE(s->eval(std::span<const TokenId>(source).first(chunk), &logits, false).ok());
  s->truncate(static_cast<int64_t>(keep));
  EXPECT_TRUE(s->eval(std::span<const TokenId>(ids).subspan(keep), &logits, true).ok());
  return logits;
}

// Restores ids into a fresh session, checks `expect_reused`, then evaluates the rest (all logits).
inline std::vector<float> restore_and_eval(PrefixCache& cache, const Model& model, const std::vector<TokenId>& ids,
                                           int64_t expect_reused) {
  auto s = session(model);
  auto r = cache.restore(ids, *s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  if (!r.ok()) return {};
  EXPECT_EQ(*r, expect_reused);
  EXPECT_EQ(s->n_past(), *r);
  std::vector<float> logits;
  const std::span<const TokenId> all(ids);
  EXPECT_TRUE(s->eval(all.subspan(static_cast<size_t>(*r)), &logits, true).ok());
  return logits;
}

inline PrefixCacheOptions options(const Model& model, int64_t block_tokens = 8) {
  PrefixCacheOptions o;
  o.block_tokens = block_tokens;
  o.floats_per_token = session(model, 4)->kv_floats_per_token();
  return o;
}

}  // namespace baleen::prefix_test
