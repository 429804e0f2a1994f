// llama.cpp's tokenizer vectors for its Llama-2 SentencePiece vocab (ggml-vocab-llama-spm.gguf,
// 46 strings), with llama.cpp's test-tokenizer-0 protocol: encode with add_special = false and
// parse_special = false, compare all ids. Expected ids come from llama.cpp / HF, not from Baleen.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/utf8.h"
#include "io/gguf.h"
#include "spm_test_data.h"
#include "testing.h"
#include "tokenizer/spm.h"

namespace baleen {
namespace {

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += " " + std::to_string(id);
  return s;
}

TEST(SpmConformance, LlamaSpmVocabVectors) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string base = testing::conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf");
  auto gguf = GgufFile::open(base);
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  auto made = make_spm_tokenizer(*gguf);
  ASSERT_TRUE(made.ok()) << made.error().to_string();
  ASSERT_EQ((*made)->vocab_size(), 32000u);
  const Tokenizer& tok = **made;

  auto cases = spm_test::read_vocab_tests(base + ".inp", base + ".out");
  ASSERT_TRUE(cases);
  ASSERT_EQ(cases->size(), 46u);
  int passed = 0;
  for (const auto& c : *cases) {
    std::vector<TokenId> got = tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
    if (got == c.ids) {
      ++passed;
    } else {
      ADD_FAILURE() << "text '" << c.text << "'\n  expected" << show(c.ids) << "\n  got     " << show(got);
    }
  }
  testing::report_conformance("tokenizer llama-spm inp/out", passed, static_cast<int>(cases->size()));
  EXPECT_EQ(passed, static_cast<int>(cases->size()));
}

// Decoding the expected ids gives back the input (SentencePiece drops the one space the encoder
// adds). Strings that begin with a space keep it; that is the HF/SentencePiece rule.
TEST(SpmConformance, LlamaSpmVocabDecodeRoundTrip) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string base = testing::conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf");
  auto gguf = GgufFile::open(base);
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  auto made = make_spm_tokenizer(*gguf);
  ASSERT_TRUE(made.ok());
  auto cases = spm_test::read_vocab_tests(base + ".inp", base + ".out");
  ASSERT_TRUE(cases);
  int passed = 0;
  for (const auto& c : *cases) {
    std::string text = (*made)->decode(c.ids, true);
    if (text == c.text) {
      ++passed;
    } else {
      ADD_FAILURE() << "decode of" << show(c.ids) << " gave '" << text << "', input was '" << c.text << "'";
    }
  }
  testing::report_conformance("tokenizer llama-spm decode round trip", passed, static_cast<int>(cases->size()));
}

}  // namespace
}  // namespace baleen
