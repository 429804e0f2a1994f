// PrefixCache disk tier: evicted blocks are written to cache_dir and read back, also by a fresh
// cache (a restart), with bitwise the rows they were written from; corrupt, truncated, foreign
// (other fingerprint) and other-version files are ignored with a warning and never trusted; a disk
// budget deletes old files; an unusable cache_dir only disables the tier.
#include <filesystem>
#include <fstream>

#include "engine/prefix_cache_disk.h"
#include "prefix_cache_test_util.h"

namespace baleen {
namespace {

namespace fs = std::filesystem;
using prefix_test::bitwise_equal;
using prefix_test::prompt;

constexpr const char* kModel = "hf/ds3-micro-bf16";  // MLA + MTP: the export includes the MTP state

class PrefixCacheDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_conformance()) GTEST_SKIP() << "conformance data not found";
    model_ = model_test::load_or_fail(testing::conformance_path(kModel));
    ASSERT_TRUE(model_);
    dir_ = testing::scratch_dir("prefix_cache_disk");
    ids_ = prompt();
    // The source session evaluated ids[0..32) in one chunk, then the rest.
    expected_ = prefix_test::logits_after(*model_, ids_, 32, &src_);
  }

  // A cache over dir_ collecting its warnings; budget 0 tokens: every block goes to disk.
  std::unique_ptr<PrefixCache> make(const std::string& fingerprint = "fp-A", int64_t memory_tokens = 0,
                                    uint64_t disk_bytes = 0) {
    auto o = prefix_test::options(*model_);
    o.cache_dir = dir_;
    o.model_fingerprint = fingerprint;
    o.max_memory_tokens = memory_tokens;
    o.max_disk_bytes = disk_bytes;
    o.on_warning = [this](const std::string& w) {
      std::printf("warning: %s\n", w.c_str());
      warnings_.push_back(w);
    };
    auto c = PrefixCache::create(o);
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }

  // The model folder of `fingerprint` under dir_ and the file of block `depth` of ids_.
  std::string model_dir(const std::string& fingerprint) const {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(fnv1a64(fingerprint.data(), fingerprint.size())));
    return dir_ + "/" + hex;
  }
  std::string block_file(const std::string& fingerprint, int depth) const {
    uint64_t h = kChainSeed;
    for (int d = 0; d <= depth; ++d) h = chain_hash(h, std::span<const TokenId>(ids_).subspan(d * 8, 8));
    char name[32];
    std::snprintf(name, sizeof(name), "/%016llx.kvb", static_cast<unsigned long long>(h));
    return model_dir(fingerprint) + name;
  }

  void fill(const std::string& fingerprint = "fp-A") {
    auto c = make(fingerprint);
    ASSERT_TRUE(c->insert(ids_, *src_).ok());
    const auto st = c->stats();
    EXPECT_TRUE(st.disk_enabled);
    EXPECT_EQ(st.disk_writes, 4);
    EXPECT_EQ(st.evictions, 4);
    EXPECT_EQ(st.blocks_in_memory, 0);
    EXPECT_EQ(st.blocks_on_disk, 4);
  }

  static void patch(const std::string& path, std::streamoff off, char value) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekp(off < 0 ? static_cast<std::streamoff>(fs::file_size(path)) + off : off);
    f.put(value);
  }

  // A fresh cache must reuse exactly `reused` tokens, warn when `warn`, and the restored session
  // must continue like the source session (truncated to what was reused).
  void expect_restore(int64_t reused, bool warn) {
    warnings_.clear();
    auto c = make();
    const auto got = prefix_test::restore_and_eval(*c, *model_, ids_, reused);
    const auto want = reused == 32 ? expected_ : prefix_test::logits_after_truncate(*model_, ids_, 32, ids_, reused);
    EXPECT_TRUE(bitwise_equal(got, want)) << "reused " << reused;
    EXPECT_EQ(!warnings_.empty(), warn);
    EXPECT_EQ(c->stats().disk_rejected > 0, warn);
  }

  std::unique_ptr<Model> model_;
  std::string dir_;
  std::vector<TokenId> ids_;
  std::unique_ptr<Session> src_;
  std::vector<float> expected_;
  std::vector<std::string> warnings_;
};

TEST_F(PrefixCacheDisk, EvictedBlocksAreReadBackAfterRestart) {
  fill();
  EXPECT_TRUE(fs::exists(block_file("fp-A", 0)));
  EXPECT_TRUE(fs::exists(block_file("fp-A", 3)));
  // A fresh cache (as after a restart) indexes the folder and restores from it, bit for bit.
  auto c = make("fp-A", 1024);
  EXPECT_EQ(c->stats().blocks_on_disk, 4);
  const auto got = prefix_test::restore_and_eval(*c, *model_, ids_, 32);
  EXPECT_TRUE(bitwise_equal(got, expected_));
  auto st = c->stats();
  EXPECT_EQ(st.disk_reads, 4);
  EXPECT_EQ(st.disk_hit_tokens, 32);
  EXPECT_EQ(st.hit_tokens, 32);
  EXPECT_EQ(st.blocks_in_memory, 4);  // read back into memory (budget 1024 tokens)
  // The next restore is served from memory, and the MTP state came along.
  auto s = prefix_test::session(*model_);
  ASSERT_EQ(*c->restore(ids_, *s), 32);
  EXPECT_EQ(c->stats().disk_reads, 4);
  std::vector<float> l, mtp_restored, mtp_src;
  ASSERT_TRUE(s->eval(std::span<const TokenId>(ids_).subspan(32), &l, false).ok());
  ASSERT_TRUE(s->mtp_logits(&mtp_restored).ok());
  ASSERT_TRUE(src_->mtp_logits(&mtp_src).ok());
  EXPECT_TRUE(bitwise_equal(mtp_restored, mtp_src));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(PrefixCacheDisk, FlippedPayloadByteIsIgnored) {
  fill();
  patch(block_file("fp-A", 2), -20, 0x5a);  // inside the last rows (before the 8-byte checksum)
  expect_restore(16, true);
  EXPECT_NE(warnings_.front().find("checksum"), std::string::npos) << warnings_.front();
}

TEST_F(PrefixCacheDisk, FlippedTokenIdIsIgnored) {
  fill();
  patch(block_file("fp-A", 0), 64 + 4 + 1, 0x7f);  // a token id in the header ("fp-A" is 4 bytes)
  expect_restore(0, true);
}

TEST_F(PrefixCacheDisk, TruncatedFileIsIgnored) {
  fill();
  const std::string f = block_file("fp-A", 1);
  fs::resize_file(f, fs::file_size(f) - 100);
  expect_restore(8, true);
  fs::resize_file(block_file("fp-A", 0), 30);  // inside the fixed header
  expect_restore(0, true);
}

TEST_F(PrefixCacheDisk, GarbageUnderABlockNameIsIgnored) {
  fill();
  std::ofstream(block_file("fp-A", 0), std::ios::binary | std::ios::trunc) << std::string(5000, 'z');
  expect_restore(0, true);
  EXPECT_NE(warnings_.front().find("magic"), std::string::npos) << warnings_.front();
  std::ofstream(block_file("fp-A", 0), std::ios::binary | std::ios::trunc);  // empty
  expect_restore(0, true);
}

TEST_F(PrefixCacheDisk, OtherVersionIsIgnored) {
  fill();
  patch(block_file("fp-A", 0), 8, static_cast<char>(kBlockFileVersion + 1));
  expect_restore(0, true);
  EXPECT_NE(warnings_.front().find("version"), std::string::npos) << warnings_.front();
}

TEST_F(PrefixCacheDisk, ForeignFingerprintIsIgnored) {
  // Written by a cache for another model ("fp-B", same length) and copied into fp-A's folder.
  fill("fp-B");
  for (int d = 0; d < 4; ++d) {
    fs::create_directories(model_dir("fp-A"));
    fs::copy_file(block_file("fp-B", d), block_file("fp-A", d), fs::copy_options::overwrite_existing);
  }
  expect_restore(0, true);
  EXPECT_NE(warnings_.front().find("another model"), std::string::npos) << warnings_.front();
  // A longer fingerprint is refused before its bytes are compared.
  fill("fingerprint-C");
  fs::copy_file(block_file("fingerprint-C", 0), block_file("fp-A", 0), fs::copy_options::overwrite_existing);
  expect_restore(0, true);
}

TEST_F(PrefixCacheDisk, RejectedFileIsReplacedByTheNextEviction) {
  fill();
  patch(block_file("fp-A", 0), -20, 0x11);
  auto c = make();
  auto s = prefix_test::session(*model_);
  ASSERT_EQ(*c->restore(ids_, *s), 0);
  EXPECT_EQ(warnings_.size(), 1u);
  // Warned once: the file is no longer indexed.
  auto s2 = prefix_test::session(*model_);
  ASSERT_EQ(*c->restore(ids_, *s2), 0);
  EXPECT_EQ(warnings_.size(), 1u);
  // Inserting the prompt again rewrites block 0 (blocks 1-3 are still on disk, not rewritten).
  ASSERT_TRUE(c->insert(ids_, *src_).ok());
  EXPECT_EQ(c->stats().disk_writes, 1);
  expect_restore(32, false);
}

TEST_F(PrefixCacheDisk, DiskBudgetDeletesOldFiles) {
  fill();
  const auto one = static_cast<uint64_t>(fs::file_size(block_file("fp-A", 0)));
  fs::remove_all(model_dir("fp-A"));
  auto c = make("fp-A", 0, 2 * one);
  ASSERT_TRUE(c->insert(ids_, *src_).ok());
  const auto st = c->stats();
  EXPECT_EQ(st.disk_writes, 4);
  EXPECT_EQ(st.blocks_on_disk, 2);
  EXPECT_EQ(static_cast<uint64_t>(st.bytes_on_disk), 2 * one);
  EXPECT_EQ(st.disk_deleted, 2);
  // Eviction wrote the deepest blocks first, so the budget deleted those: blocks 0 and 1 remain.
  expect_restore(16, false);
}

TEST_F(PrefixCacheDisk, StrayFilesAreSkippedAndAnUnusableDirDisablesTheTier) {
  fill();
  std::ofstream(model_dir("fp-A") + "/notes.txt") << "not a block";
  std::ofstream(model_dir("fp-A") + "/0123456789abcdef.kvb.tmp.1") << "partial";
  {
    auto c = make();
    EXPECT_EQ(c->stats().blocks_on_disk, 4);
  }
  expect_restore(32, false);

  // cache_dir is a regular file: the tier is off, with a warning; memory caching still works.
  const std::string file = dir_ + "/plain-file";
  std::ofstream(file) << "x";
  auto o = prefix_test::options(*model_);
  o.cache_dir = file;
  o.model_fingerprint = "fp-A";
  std::vector<std::string> w;
  o.on_warning = [&w](const std::string& m) { w.push_back(m); };
  auto c = PrefixCache::create(o);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->stats().disk_enabled);
  EXPECT_EQ(w.size(), 1u);
  ASSERT_TRUE((*c)->insert(ids_, *src_).ok());
  EXPECT_EQ((*c)->stats().blocks_in_memory, 4);
}

}  // namespace
}  // namespace baleen
