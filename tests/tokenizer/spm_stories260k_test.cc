// stories260K's 512-token SentencePiece vocab, from two independent files: the GGUF conversion
// (tokenizer.ggml.*, all scores 0) and llama2.c's tok512.bin (real merge scores). Checked against
// conformance README §2 (the fixed 24 ids and their text) and llama2.c's own output
// (reference/expected_stdout.llama2c_test_all.txt = run.c's decode of the 200 greedy ids, which
// drops the leading space of the piece after BOS).
#include <gtest/gtest.h>

#include <regex>

#include "core/utf8.h"
#include "io/gguf.h"
#include "spm_test_data.h"
#include "testing.h"
#include "tokenizer/spm.h"

namespace baleen {
namespace {

using Ids = std::vector<TokenId>;

// Conformance README §2.
const Ids kFixedInput = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                         421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};
const char* kFixedText = " Once upon a time, there was a little girl named Lily. She loved to play outs";

std::unique_ptr<Tokenizer> from_tok512() {
  auto v = spm_test::read_llama2c_tokenizer(testing::conformance_path("models/stories260K/tok512.bin"), 512);
  EXPECT_TRUE(v);
  if (!v) return nullptr;
  auto t = make_spm_tokenizer(std::move(*v));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(t).value() : nullptr;
}

std::unique_ptr<Tokenizer> from_gguf() {
  auto g = GgufFile::open(testing::conformance_path("models/stories260K/stories260K.gguf"));
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().to_string());
  if (!g.ok()) return nullptr;
  auto t = make_spm_tokenizer(*g);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(t).value() : nullptr;
}

// BOS + 200 greedy ids from reference/greedy-bos-200.numpy-ref.json.
Ids greedy_200() {
  auto json = spm_test::slurp(testing::conformance_path("models/stories260K/reference/greedy-bos-200.numpy-ref.json"));
  if (!json) return {};
  size_t start = json->find("\"tokens\": [");
  if (start == std::string::npos) return {};
  start += 11;
  size_t end = json->find(']', start);
  Ids ids;
  std::string list = json->substr(start, end - start);
  for (size_t pos = 0; pos < list.size();) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    ids.push_back(std::stoi(list.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return ids;
}

TEST(SpmStories260K, BothSourcesHaveTheSameVocab) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto a = from_tok512();
  auto b = from_gguf();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->vocab_size(), 512u);
  ASSERT_EQ(b->vocab_size(), 512u);
  for (TokenId id = 0; id < 512; ++id) {
    EXPECT_EQ(a->token_text(id), b->token_text(id)) << id;
    EXPECT_EQ(a->token_to_bytes(id), b->token_to_bytes(id)) << id;
  }
  EXPECT_EQ(b->special_ids().bos, 1);
  EXPECT_EQ(b->special_ids().eos, 2);
  EXPECT_EQ(b->special_ids().unk, 0);
  EXPECT_EQ(b->special_ids().pad, -1);  // 0xFFFFFFFF in the file
}

TEST(SpmStories260K, FixedInputDecodes) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (auto& tok : {from_tok512(), from_gguf()}) {
    ASSERT_TRUE(tok);
    // README §2's text is the concatenation of the pieces after BOS (it keeps " Once").
    std::string pieces;
    for (size_t i = 1; i < kFixedInput.size(); ++i) pieces += tok->token_to_bytes(kFixedInput[i]);
    EXPECT_EQ(pieces, kFixedText);
    // decode() drops the space the encoder added, as SentencePiece, HF and llama2.c do.
    EXPECT_EQ(tok->decode(kFixedInput, true), std::string(kFixedText + 1));
    EXPECT_EQ(tok->decode(kFixedInput, false), std::string("<s>") + kFixedText);
  }
}

TEST(SpmStories260K, GreedyOutputMatchesLlama2c) {
  BALEEN_REQUIRE_CONFORMANCE();
  Ids ids = greedy_200();
  ASSERT_EQ(ids.size(), 201u);
  ASSERT_EQ(ids[0], 1);
  // The greedy ids start with the fixed input.
  EXPECT_TRUE(std::equal(kFixedInput.begin(), kFixedInput.end(), ids.begin()));
  auto expected =
      spm_test::slurp(testing::conformance_path("models/stories260K/reference/expected_stdout.llama2c_test_all.txt"));
  ASSERT_TRUE(expected);
  int passed = 0;
  for (auto& tok : {from_tok512(), from_gguf()}) {
    ASSERT_TRUE(tok);
    std::string text = tok->decode(ids, true);
    EXPECT_EQ(text, *expected);
    passed += text == *expected;

    // Streaming gives the same text and never a partial character.
    StreamDecoder stream(*tok, /*skip_special=*/true);
    std::string joined;
    for (TokenId id : ids) {
      std::string chunk = stream.push(id);
      EXPECT_EQ(utf8::incomplete_suffix_length(chunk), 0u);
      joined += chunk;
    }
    joined += stream.flush();
    EXPECT_EQ(joined, *expected);
  }
  testing::report_conformance("tokenizer stories260K decode vs llama2.c (tok512.bin, gguf)", passed, 2);
}

// llama2.c's encoder (run.c `encode`) merges the highest-scoring pair, leftmost on ties, as
// llama.cpp does, so with tok512.bin's real scores the prompt tokens must be those run.c used.
// run_c.t0.n80.prompt_Once_upon_a_time.txt continues exactly like the BOS-only greedy run, whose
// first ids are 403 407 261 378 ("▁Once ▁upon ▁a ▁time"), and README §2's ids are the model's own
// tokenization of the rest of the sentence.
TEST(SpmStories260K, EncodeWithLlama2cScores) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto tok = from_tok512();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("Once upon a time", true, false), (Ids{1, 403, 407, 261, 378}));
  Ids sentence =
      tok->encode("Once upon a time, there was a little girl named Lily. She loved to play outs", true, false);
  EXPECT_EQ(sentence, kFixedInput);
  Ids full =
      tok->encode("Once upon a time, there was a little girl named Lily. She loved to play outside", true, false);
  ASSERT_GE(full.size(), 23u);
  EXPECT_TRUE(std::equal(kFixedInput.begin(), kFixedInput.begin() + 22, full.begin()));  // through "▁play"
  EXPECT_EQ(tok->decode(full, true), "Once upon a time, there was a little girl named Lily. She loved to play outside");
}

// The GGUF carries the same scores as tok512.bin (ids >= 259 score -(id - 259); the conformance
// README's "all scores 0.0" is wrong), so its encoding must give README section 2's ids as well.
TEST(SpmStories260K, EncodeWithGgufScores) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto tok = from_gguf();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("Once upon a time, there was a little girl named Lily. She loved to play outs", true, false),
            kFixedInput);
  auto expected =
      spm_test::slurp(testing::conformance_path("models/stories260K/reference/expected_stdout.llama2c_test_all.txt"));
  ASSERT_TRUE(expected);
  Ids ids = tok->encode(*expected, true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(tok->decode(ids, true), *expected);
}

}  // namespace
}  // namespace baleen
