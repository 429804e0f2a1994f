// Byte-level BPE from GGUF `tokenizer.ggml.*` metadata (model "gpt2") against llama.cpp's vocab test
// vectors (ggml-vocab-*.gguf.inp/.out, made by llama.cpp from Hugging Face ids), Tokenizer::load's
// dispatch, and GGUF vocabularies Baleen must refuse with a named reason.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "testing.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace baleen {
namespace {

using baleen::testing::conformance_path;
using baleen::testing::ids_str;
using baleen::testing::stream_matches_decode;

std::string vocab_path(const std::string& name) {
  return conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-" + name + ".gguf");
}

class GgufVocab : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufVocab, MatchesLlamaCppVectors) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string name = GetParam();
  auto tok = Tokenizer::load(vocab_path(name));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  auto texts = baleen::testing::read_vocab_inp(vocab_path(name) + ".inp");
  auto want = baleen::testing::read_vocab_out(vocab_path(name) + ".out");
  ASSERT_EQ(texts.size(), want.size());
  ASSERT_GT(texts.size(), 40u);
  int passed = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    // llama.cpp's test-tokenizer-0 tokenizes without BOS and without parsing special tokens.
    auto ids = (*tok)->encode(texts[i], false, false);
    EXPECT_EQ(ids_str(ids), ids_str(want[i])) << name << " #" << i << " '" << texts[i] << "'";
    EXPECT_EQ((*tok)->encode(texts[i], false, true), ids) << "no special-token text in these strings";
    std::string back = (*tok)->decode(ids, false);
    EXPECT_EQ(back, texts[i]) << name << " decode #" << i;
    EXPECT_TRUE(stream_matches_decode(**tok, ids)) << name << " #" << i;
    if (ids == want[i] && back == texts[i]) ++passed;
  }
  baleen::testing::report_conformance("tokenizer " + name + " gguf.inp/out", passed, static_cast<int>(texts.size()));
}

INSTANTIATE_TEST_SUITE_P(Vocabs, GgufVocab, ::testing::Values("deepseek-llm", "deepseek-coder", "qwen2", "llama-bpe"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The same vocabulary from GGUF and from tokenizer.json gives the same ids on other text too
// (DeepSeek-V3 extra cases and chat renders, with special-token strings).
TEST(GgufVocab, AgreesWithTokenizerJson) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto extra = read_file(conformance_path("tokenizers/deepseek-v3/reference/extra-cases.json"));
  ASSERT_TRUE(extra.ok());
  auto j = nlohmann::json::parse(*extra);
  std::vector<std::string> texts;
  for (const auto& c : j["cases"]) texts.push_back(c["text"].get<std::string>());
  for (const auto& r : j["chat_renders"]) texts.push_back(r["rendered"].get<std::string>());
  for (auto [gguf_name, json_name] :
       {std::pair{"deepseek-llm", "deepseek-llm"}, {"qwen2", "deepseek-r1-distill-qwen"}, {"llama-bpe", "llama3"}}) {
    auto g = Tokenizer::load(vocab_path(gguf_name));
    auto h = Tokenizer::load(conformance_path(std::string("tokenizers/") + json_name));  // an HF folder
    ASSERT_TRUE(g.ok() && h.ok()) << gguf_name;
    for (const std::string& t : texts) {
      // Without parse_special: both treat every token string as text. (With it, the files differ
      // on purpose: the R1-Distill json adds the DeepSeek specials the qwen2 GGUF lacks.)
      EXPECT_EQ(ids_str((*g)->encode(t, false, false)), ids_str((*h)->encode(t, false, false)))
          << gguf_name << ": " << t;
    }
  }
}

TEST(GgufVocab, SpecialIdsFromMetadata) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto llm = Tokenizer::load(vocab_path("deepseek-llm"));
  ASSERT_TRUE(llm.ok());
  // deepseek-spec 9.2: BOS 100000, EOS 100001.
  EXPECT_EQ((*llm)->special_ids().bos, 100000);
  EXPECT_EQ((*llm)->special_ids().eos, 100001);
  EXPECT_TRUE((*llm)->is_special(100000));
  EXPECT_EQ((*llm)->token_text(100000), "<｜begin▁of▁sentence｜>");
  auto ids = (*llm)->encode("<｜begin▁of▁sentence｜>Hi", false, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 100000);
  EXPECT_EQ((*llm)->decode(ids, true), "Hi");
  auto l3 = Tokenizer::load(vocab_path("llama-bpe"));
  ASSERT_TRUE(l3.ok());
  EXPECT_EQ((*l3)->special_ids().bos, 128000);
  auto with_bos = (*l3)->encode("Hi", true, false);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos[0], 128000);
}

TEST(TokenizerLoad, DispatchesOnPath) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto folder = Tokenizer::load(conformance_path("tokenizers/deepseek-v3"));
  ASSERT_TRUE(folder.ok()) << folder.error().to_string();
  EXPECT_EQ((*folder)->encode("Hello, world!", false, false), (std::vector<TokenId>{19923, 14, 2058, 3}));
  auto spm = Tokenizer::load(vocab_path("llama-spm"));  // tokenizer.ggml.model "llama" -> SentencePiece
  ASSERT_TRUE(spm.ok()) << spm.error().to_string();
  EXPECT_FALSE((*spm)->encode("Hello", false, false).empty());
  auto missing = Tokenizer::load("/nonexistent/x.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto empty_dir = Tokenizer::load(baleen::testing::scratch_dir("bpe_empty_folder"));
  ASSERT_FALSE(empty_dir.ok());
  EXPECT_NE(empty_dir.error().message().find("tokenizer.json"), std::string::npos);
}

// A small gpt2 vocabulary written with the GGUF writer; `edit` changes it before writing.
std::string write_vocab(const std::string& name, const std::function<void(GgufWriter&)>& edit) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "deepseek-v3");
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_level::encode(std::string(1, static_cast<char>(b))));
  tokens.push_back("he");
  tokens.push_back("<|bos|>");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_string_array("tokenizer.ggml.merges", {"h e"});
  std::vector<GgufValue> types(tokens.size(), gguf_i32(1));
  types.back() = gguf_i32(3);
  w.set_array("tokenizer.ggml.token_type", GgufArray{GgufType::kInt32, types});
  w.set_u32("tokenizer.ggml.bos_token_id", 257);
  edit(w);
  std::string path = baleen::testing::scratch_dir("bpe_gguf_" + name) + "/vocab.gguf";
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(GgufVocab, SmallVocabAndNamedErrors) {
  auto ok = Tokenizer::load(write_vocab("ok", [](GgufWriter&) {}));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ((*ok)->encode("<|bos|>he", true, true), (std::vector<TokenId>{257, 257, 256}));
  EXPECT_EQ((*ok)->decode(std::vector<TokenId>{257, 256}, true), "he");
  EXPECT_TRUE((*ok)->special_ids().add_bos);  // llama.cpp's default when add_bos_token is absent

  auto bad_pre =
      Tokenizer::load(write_vocab("pre", [](GgufWriter& w) { w.set_string("tokenizer.ggml.pre", "my-own-pre"); }));
  ASSERT_FALSE(bad_pre.ok());
  EXPECT_EQ(bad_pre.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(bad_pre.error().message().find("my-own-pre"), std::string::npos) << bad_pre.error().to_string();

  auto bad_model =
      Tokenizer::load(write_vocab("model", [](GgufWriter& w) { w.set_string("tokenizer.ggml.model", "bert"); }));
  ASSERT_FALSE(bad_model.ok());
  EXPECT_NE(bad_model.error().message().find("bert"), std::string::npos);

  auto bad_types = Tokenizer::load(write_vocab("types", [](GgufWriter& w) {
    w.set_array("tokenizer.ggml.token_type", GgufArray{GgufType::kInt32, {gguf_i32(1)}});
  }));
  ASSERT_FALSE(bad_types.ok());
  EXPECT_NE(bad_types.error().message().find("token_type"), std::string::npos);

  auto bad_merge = Tokenizer::load(
      write_vocab("merge", [](GgufWriter& w) { w.set_string_array("tokenizer.ggml.merges", {"nospace"}); }));
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_NE(bad_merge.error().message().find("nospace"), std::string::npos);
}

}  // namespace
}  // namespace baleen
