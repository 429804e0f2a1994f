// PrefixCache, memory tier, on conformance micro models (ds3 MLA GGUF, ds3 HF with MTP, llama
// GQA): a restored session continues bit for bit as the session the blocks came from; partial
// prefix hits; LRU eviction under a small budget; stats; concurrent stats() readers. Expected
// logits come from sessions that evaluated the same tokens without the cache.
#include <atomic>
#include <thread>

#include "engine/model_fingerprint.h"
#include "prefix_cache_test_util.h"

namespace baleen {
namespace {

using prefix_test::bitwise_equal;
using prefix_test::prompt;

class PrefixCacheModels : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!testing::have_conformance()) GTEST_SKIP() << "conformance data not found";
    model_ = model_test::load_or_fail(testing::conformance_path(GetParam()));
    ASSERT_TRUE(model_);
  }
  std::unique_ptr<Model> model_;
};

TEST_P(PrefixCacheModels, RestoreContinuesLikeTheCachedSession) {
  const auto ids = prompt();  // 36 tokens, block 8: 4 full blocks
  auto cache = PrefixCache::create(prefix_test::options(*model_));
  ASSERT_TRUE(cache.ok());
  // The session the blocks come from evaluated ids[0..32) in one chunk, then the rest.
  std::unique_ptr<Session> src;
  const auto expected = prefix_test::logits_after(*model_, ids, 32, &src);
  ASSERT_TRUE((*cache)->insert(ids, *src).ok());
  auto st = (*cache)->stats();
  EXPECT_EQ(st.inserted_blocks, 4);
  EXPECT_EQ(st.blocks_in_memory, 4);
  EXPECT_EQ(st.bytes_in_memory, 4 * 8 * (*cache)->options().floats_per_token * 4);

  // 32 tokens restored (< 36), the last 4 evaluated: the same logits bit for bit.
  const auto got = prefix_test::restore_and_eval(**cache, *model_, ids, 32);
  EXPECT_TRUE(bitwise_equal(got, expected)) << "max diff " << model_test::max_abs_diff(got, expected);

  // Against one cold chunk of all 36 tokens the positions were computed in different chunks, so
  // only agreement to float rounding is expected (1e-4 absolute on these micro models' logits).
  std::vector<float> cold;
  auto s = prefix_test::session(*model_);
  ASSERT_TRUE(s->eval(ids, &cold, true).ok());
  const int64_t V = model_->config().n_vocab;
  const std::vector<float> cold_tail(cold.end() - 4 * V, cold.end());
  EXPECT_LE(model_test::max_abs_diff(got, cold_tail), 1e-4);

  st = (*cache)->stats();
  EXPECT_EQ(st.lookups, 1);
  EXPECT_EQ(st.hits, 1);
  EXPECT_EQ(st.misses, 0);
  EXPECT_EQ(st.hit_tokens, 32);
  EXPECT_EQ(st.disk_hit_tokens, 0);
  EXPECT_FALSE(st.disk_enabled);
}

TEST_P(PrefixCacheModels, PartialPrefixHits) {
  const auto ids = prompt();
  auto cache = PrefixCache::create(prefix_test::options(*model_));
  ASSERT_TRUE(cache.ok());
  std::unique_ptr<Session> src;
  prefix_test::logits_after(*model_, ids, 32, &src);
  ASSERT_TRUE((*cache)->insert(ids, *src).ok());

  // Shares 13 tokens with the cached prompt: one full block (8) is reused.
  auto other = ids;
  other.resize(20);
  other[13] = 77;
  const auto expected = prefix_test::logits_after_truncate(*model_, ids, 32, other, 8);
  const auto got = prefix_test::restore_and_eval(**cache, *model_, other, 8);
  EXPECT_TRUE(bitwise_equal(got, expected));

  // A 24-token prompt, all of it cached: 16 are restored so that at least one token is evaluated.
  std::vector<TokenId> p24(ids.begin(), ids.begin() + 24);
  const auto got24 = prefix_test::restore_and_eval(**cache, *model_, p24, 16);
  EXPECT_TRUE(bitwise_equal(got24, prefix_test::logits_after_truncate(*model_, ids, 32, p24, 16)));
  // Against a session that evaluated p24[0..16) in its own chunk (the absorbed or naive MLA form
  // may differ from the 32-token chunk's): equal to float rounding (1e-4).
  EXPECT_LE(model_test::max_abs_diff(got24, prefix_test::logits_after(*model_, p24, 16)), 1e-4);

  // Different first token, shorter than a block, empty prompt: misses.
  auto miss = ids;
  miss[0] = 2;
  prefix_test::restore_and_eval(**cache, *model_, miss, 0);
  prefix_test::restore_and_eval(**cache, *model_, std::vector<TokenId>(ids.begin(), ids.begin() + 5), 0);
  auto s = prefix_test::session(*model_);
  auto r = (*cache)->restore(std::span<const TokenId>(), *s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);

  const auto st = (*cache)->stats();
  EXPECT_EQ(st.lookups, 5);
  EXPECT_EQ(st.hits, 2);
  EXPECT_EQ(st.misses, 3);
  EXPECT_EQ(st.hit_tokens, 8 + 16);
  EXPECT_EQ(st.inserted_blocks, 4);
}

TEST_P(PrefixCacheModels, InsertAddsOnlyNewBlocksAndRespectsContext) {
  const auto ids = prompt();
  auto cache = PrefixCache::create(prefix_test::options(*model_));
  ASSERT_TRUE(cache.ok());
  std::unique_ptr<Session> a;
  prefix_test::logits_after(*model_, ids, 16, &a);
  ASSERT_TRUE((*cache)->insert(ids, *a).ok());
  ASSERT_TRUE((*cache)->insert(ids, *a).ok());  // nothing new
  EXPECT_EQ((*cache)->stats().inserted_blocks, 4);
  // A branch sharing the first 2 blocks adds 2 blocks.
  auto branch = ids;
  branch[20] = 5;
  std::unique_ptr<Session> b;
  prefix_test::logits_after(*model_, branch, 16, &b);
  ASSERT_TRUE((*cache)->insert(branch, *b).ok());
  EXPECT_EQ((*cache)->stats().inserted_blocks, 6);
  EXPECT_EQ((*cache)->stats().blocks_in_memory, 6);

  // A session whose context holds only 2 blocks gets at most 2.
  auto small = prefix_test::session(*model_, 20);
  auto r = (*cache)->restore(ids, *small);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 16);

  // Errors: non-empty session, too few token ids.
  r = (*cache)->restore(ids, *small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(small->n_past(), 16);
  Status st = (*cache)->insert(std::span<const TokenId>(ids.data(), 3), *small);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
}

TEST_P(PrefixCacheModels, EvictsLeastRecentlyUsedLeavesOverBudget) {
  const auto ids = prompt();
  auto opts = prefix_test::options(*model_);
  opts.max_memory_tokens = 24;  // 3 blocks
  auto cache = PrefixCache::create(opts);
  ASSERT_TRUE(cache.ok());
  std::unique_ptr<Session> a;
  prefix_test::logits_after(*model_, ids, 32, &a);
  ASSERT_TRUE((*cache)->insert(ids, *a).ok());
  auto st = (*cache)->stats();
  EXPECT_EQ(st.blocks_in_memory, 3);  // the deepest block went first
  EXPECT_EQ(st.evictions, 1);
  EXPECT_EQ(st.disk_writes, 0);
  prefix_test::restore_and_eval(**cache, *model_, ids, 24);

  // A second prompt sharing one block: inserting its 3 new blocks evicts the old path's leaves.
  auto other = ids;
  other[10] = 9;
  std::unique_ptr<Session> b;
  prefix_test::logits_after(*model_, other, 32, &b);
  ASSERT_TRUE((*cache)->insert(other, *b).ok());
  st = (*cache)->stats();
  EXPECT_EQ(st.blocks_in_memory, 3);
  // Evicted: ids' blocks 1 and 2 (older), then other's block 3 (deepest of the newest path).
  prefix_test::restore_and_eval(**cache, *model_, ids, 8);
  const auto got = prefix_test::restore_and_eval(**cache, *model_, other, 24);
  // Block 0 came from the session of `ids`, blocks 1-2 from that of `other`, each computed in a
  // 32-token chunk; the reference evaluates 24 then 12: equal to float rounding (1e-4).
  const auto expected = prefix_test::logits_after(*model_, other, 24);
  EXPECT_LE(model_test::max_abs_diff(got, expected), 1e-4);
  st = (*cache)->stats();
  EXPECT_EQ(st.evictions, 4);
}

INSTANTIATE_TEST_SUITE_P(Micro, PrefixCacheModels,
                         ::testing::Values("models/micro/ds3-micro/ds3-micro-f32.gguf", "hf/ds3-micro-bf16",
                                           "models/micro/llama-micro/llama-micro-q8_0.gguf"));

TEST(PrefixCache, RejectsBadOptionsAndSessions) {
  PrefixCacheOptions o;
  o.floats_per_token = 0;
  EXPECT_FALSE(PrefixCache::create(o).ok());
  o.floats_per_token = 10;
  o.block_tokens = 0;
  EXPECT_FALSE(PrefixCache::create(o).ok());
  BALEEN_REQUIRE_CONFORMANCE();
  auto model = model_test::load_or_fail(testing::conformance_path("models/micro/llama-micro/llama-micro-q8_0.gguf"));
  ASSERT_TRUE(model);
  o.block_tokens = 8;  // floats_per_token 10 does not match the model's sessions
  auto cache = PrefixCache::create(o);
  ASSERT_TRUE(cache.ok());
  auto s = prefix_test::session(*model);
  auto r = (*cache)->restore(prompt(), *s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(PrefixCache, StatsReadConcurrentlyWithInserts) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto model = model_test::load_or_fail(testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"));
  ASSERT_TRUE(model);
  auto opts = prefix_test::options(*model, 4);
  opts.max_memory_tokens = 16;
  auto cache = PrefixCache::create(opts);
  ASSERT_TRUE(cache.ok());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      const auto st = (*cache)->stats();
      EXPECT_LE(st.blocks_in_memory, 4);
    }
  });
  auto ids = prompt();
  std::unique_ptr<Session> a;
  prefix_test::logits_after(*model, ids, 32, &a);
  for (int i = 0; i < 20; ++i) {
    ids[0] = static_cast<TokenId>(i);  // a new path each time (rows from `a`: only the bookkeeping is tested)
    ASSERT_TRUE((*cache)->insert(ids, *a).ok());
    auto s = prefix_test::session(*model);
    ASSERT_TRUE((*cache)->restore(ids, *s).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ((*cache)->stats().blocks_in_memory, 4);
}

TEST(ModelFingerprint, SameModelSameFingerprintOtherWeightsDiffer) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto f32 = model_test::load_or_fail(testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"));
  auto q8 = model_test::load_or_fail(testing::conformance_path("models/micro/ds3-micro/ds3-micro-q8_0.gguf"));
  ASSERT_TRUE(f32 && q8);
  auto a = model_fingerprint(*f32, model_test::pool());
  auto b = model_fingerprint(*f32, model_test::pool());
  auto c = model_fingerprint(*q8, model_test::pool());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(a->rfind("baleen-kv1 arch=deepseek2 ", 0), 0u) << *a;
}

}  // namespace
}  // namespace baleen
