// PENDING: move to tests/tokenizer/ once branch `gguf` (GgufFile, GgufWriter) is merged into main;
// verified passing (5/5) against gguf commit b3e405c in a scratch build.
// make_spm_tokenizer(const GgufFile&): the real vocab GGUFs through Baleen's GGUF reader, and
// malformed tokenizer metadata written with GgufWriter (each must be an error, never a crash).
#include <gtest/gtest.h>

#include "core/utf8.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "spm_test_data.h"
#include "testing.h"
#include "tokenizer/spm.h"

namespace baleen {
namespace {

using Ids = std::vector<TokenId>;

Result<std::unique_ptr<Tokenizer>> load(const std::string& path) {
  auto g = GgufFile::open(path);
  if (!g.ok()) return g.error();
  return make_spm_tokenizer(*g);
}

TEST(SpmGguf, LlamaSpmVocabVectors) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string base = testing::conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load(base);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_EQ((*tok)->vocab_size(), 32000u);
  EXPECT_TRUE((*tok)->special_ids().add_bos);
  auto cases = spm_test::read_vocab_tests(base + ".inp", base + ".out");
  ASSERT_TRUE(cases);
  int passed = 0;
  for (const auto& c : *cases) {
    Ids got = (*tok)->encode(c.text, false, false);
    EXPECT_EQ(got, c.ids) << c.text;
    passed += got == c.ids;
  }
  testing::report_conformance("tokenizer llama-spm inp/out (GgufFile)", passed, static_cast<int>(cases->size()));
}

TEST(SpmGguf, Stories260KMatchesLlama2c) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto tok = load(testing::conformance_path("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  auto ref = spm_test::read_llama2c_tokenizer(testing::conformance_path("models/stories260K/tok512.bin"), 512);
  ASSERT_TRUE(ref);
  ASSERT_EQ((*tok)->vocab_size(), 512u);
  for (TokenId id = 0; id < 512; ++id) EXPECT_EQ((*tok)->token_text(id), ref->tokens[id]) << id;
  EXPECT_EQ((*tok)->special_ids().pad, -1);
  const Ids fixed = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                     421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};
  EXPECT_EQ((*tok)->decode(fixed, true),
            "Once upon a time, there was a little girl named Lily. She loved to play outs");
}

// A 5-token vocab fixture; `mutate` breaks one thing.
std::string write_vocab(const std::string& name, void (*mutate)(GgufWriter&)) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>",
                                               "\xE2\x96\x81"
                                               "a",
                                               "a"});
  w.set_array("tokenizer.ggml.scores",
              {GgufType::kFloat32, {gguf_f32(0), gguf_f32(0), gguf_f32(0), gguf_f32(-1), gguf_f32(-2)}});
  w.set_array("tokenizer.ggml.token_type",
              {GgufType::kInt32, {gguf_i32(2), gguf_i32(3), gguf_i32(3), gguf_i32(1), gguf_i32(1)}});
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  if (mutate) mutate(w);
  std::string path = testing::scratch_dir("spm_gguf") + "/" + name + ".gguf";
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(SpmGguf, GoodFixture) {
  auto tok = load(write_vocab("good", nullptr));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_EQ((*tok)->encode("a", true, false), (Ids{1, 3}));
}

TEST(SpmGguf, ToleratedMetadata) {
  // Out-of-range padding id (written by some converters) is ignored, 0xFFFFFFFF means none.
  auto tok = load(write_vocab("pad", [](GgufWriter& w) {
    w.set_u32("tokenizer.ggml.padding_token_id", 5);
    w.set_u32("tokenizer.ggml.seperator_token_id", 0xFFFFFFFF);
  }));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_EQ((*tok)->special_ids().pad, -1);
  // No BOS and no add_bos key: add_bos quietly off.
  tok = load(write_vocab("nobos", [](GgufWriter& w) { w.set_u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFF); }));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_FALSE((*tok)->special_ids().add_bos);
  EXPECT_EQ((*tok)->encode("a", true, false), (Ids{3}));
  // add_space_prefix false.
  tok = load(write_vocab("noprefix", [](GgufWriter& w) { w.set_bool("tokenizer.ggml.add_space_prefix", false); }));
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->encode("a", false, false), (Ids{4}));
}

TEST(SpmGguf, RejectsBadMetadata) {
  struct Case {
    const char* name;
    void (*mutate)(GgufWriter&);
    ErrorCode code;
  };
  const Case cases[] = {
      {"scores_short",
       [](GgufWriter& w) {
         w.set_array("tokenizer.ggml.scores", {GgufType::kFloat32, {gguf_f32(0)}});
       },
       ErrorCode::kCorruptFile},
      {"types_long",
       [](GgufWriter& w) {
         w.set_array(
             "tokenizer.ggml.token_type",
             {GgufType::kInt32, {gguf_i32(2), gguf_i32(3), gguf_i32(3), gguf_i32(1), gguf_i32(1), gguf_i32(1)}});
       },
       ErrorCode::kCorruptFile},
      {"type_bad",
       [](GgufWriter& w) {
         w.set_array("tokenizer.ggml.token_type",
                     {GgufType::kInt32, {gguf_i32(2), gguf_i32(3), gguf_i32(3), gguf_i32(9), gguf_i32(1)}});
       },
       ErrorCode::kCorruptFile},
      {"bos_range", [](GgufWriter& w) { w.set_u32("tokenizer.ggml.bos_token_id", 5); }, ErrorCode::kCorruptFile},
      {"eos_range", [](GgufWriter& w) { w.set_u32("tokenizer.ggml.eos_token_id", 99); }, ErrorCode::kCorruptFile},
      {"bos_string", [](GgufWriter& w) { w.set_string("tokenizer.ggml.bos_token_id", "1"); }, ErrorCode::kCorruptFile},
      {"tokens_not_strings",
       [](GgufWriter& w) {
         w.set_array("tokenizer.ggml.tokens", {GgufType::kInt32, {gguf_i32(1)}});
       },
       ErrorCode::kCorruptFile},
      {"add_bos_without_bos",
       [](GgufWriter& w) {
         w.set_u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFF);
         w.set_bool("tokenizer.ggml.add_bos_token", true);
       },
       ErrorCode::kCorruptFile},
      {"model_gpt2", [](GgufWriter& w) { w.set_string("tokenizer.ggml.model", "gpt2"); }, ErrorCode::kUnsupported},
  };
  for (const Case& c : cases) {
    auto tok = load(write_vocab(c.name, c.mutate));
    ASSERT_FALSE(tok.ok()) << c.name;
    EXPECT_EQ(tok.error().code(), c.code) << c.name << ": " << tok.error().to_string();
  }
  // Missing tokens key.
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  std::string path = testing::scratch_dir("spm_gguf") + "/no_tokens.gguf";
  ASSERT_TRUE(w.write(path).ok());
  auto tok = load(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.error().code(), ErrorCode::kNotFound) << tok.error().to_string();
}

}  // namespace
}  // namespace baleen
