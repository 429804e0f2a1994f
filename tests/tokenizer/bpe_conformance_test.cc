// Byte-level BPE from tokenizer.json against the Hugging Face `tokenizers` reference ids in
// ../shared/conformance/tokenizers (llama.cpp's 46 vocab test strings, DeepSeek-V3 extra cases,
// chat renders). Expected ids come from HF (Rust) and llama.cpp, never from Baleen.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "testing.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace baleen {
namespace {

using baleen::testing::conformance_path;
using baleen::testing::ids_str;
using baleen::testing::read_vocab_inp;
using baleen::testing::read_vocab_out;
using baleen::testing::stream_matches_decode;

const Tokenizer& load_json_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto tok = Tokenizer::from_tokenizer_json(conformance_path("tokenizers/" + name + "/tokenizer.json"));
    EXPECT_TRUE(tok.ok()) << (tok.ok() ? "" : tok.error().to_string());
    BALEEN_ASSERT(tok.ok(), "cannot load tokenizer %s", name.c_str());
    it = cache.emplace(name, std::move(tok).value()).first;
  }
  return *it->second;
}

// Encodes every .inp string and compares with .out; also decode round trip and streaming.
void check_vectors(const std::string& name, const std::string& inp, const std::string& out, const std::string& label) {
  const Tokenizer& tok = load_json_tokenizer(name);
  auto texts = read_vocab_inp(inp);
  auto want = read_vocab_out(out);
  ASSERT_EQ(texts.size(), want.size()) << inp;
  ASSERT_GT(texts.size(), 40u);
  int passed = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<TokenId> ids = tok.encode(texts[i], /*add_bos=*/false, /*parse_special=*/true);
    std::vector<TokenId> ids_plain = tok.encode(texts[i], false, false);
    bool ok = ids == want[i];
    EXPECT_EQ(ids_str(ids), ids_str(want[i])) << name << " string #" << i << " '" << texts[i] << "'";
    EXPECT_EQ(ids_plain, ids) << "no special-token text in these strings, so parse_special must not matter";
    std::string back = tok.decode(ids, false);
    EXPECT_EQ(back, texts[i]) << name << " decode #" << i;
    EXPECT_TRUE(stream_matches_decode(tok, ids)) << name << " #" << i;
    if (ok && back == texts[i]) ++passed;
  }
  baleen::testing::report_conformance(label, passed, static_cast<int>(texts.size()));
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchesHuggingFace) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string name = GetParam();
  std::string ref = conformance_path("tokenizers/" + name + "/reference/llamacpp-vocab-test");
  check_vectors(name, ref + ".inp", ref + ".out", "tokenizer " + name + " inp/out");
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, VocabVectors,
                         ::testing::Values("deepseek-v3", "deepseek-llm", "qwen3", "deepseek-r1-distill-qwen",
                                           "llama3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

TEST(VocabVectors, R1QwenLlamaCppVectors) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string ref = conformance_path("tokenizers/llamacpp-vocab/ggml-vocab-deepseek-r1-qwen.gguf");
  check_vectors("deepseek-r1-distill-qwen", ref + ".inp", ref + ".out", "tokenizer deepseek-r1-qwen gguf.inp/out");
}

TEST(DeepseekV3, ExtraCasesAndChatRender) {
  BALEEN_REQUIRE_CONFORMANCE();
  const Tokenizer& tok = load_json_tokenizer("deepseek-v3");
  auto text = read_file(conformance_path("tokenizers/deepseek-v3/reference/extra-cases.json"));
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  int passed = 0, total = 0;
  for (const auto& c : j["cases"]) {
    std::string s = c["text"].get<std::string>();
    auto want = c["ids_no_special"].get<std::vector<TokenId>>();
    // HF's encode(add_special_tokens=False) still matches special-token strings: parse_special=true.
    auto ids = tok.encode(s, false, true);
    std::string decoded = tok.decode(ids, false);
    EXPECT_EQ(ids_str(ids), ids_str(want)) << s;
    EXPECT_EQ(decoded, c["decoded"].get<std::string>());
    EXPECT_TRUE(stream_matches_decode(tok, ids)) << s;
    ++total;
    if (ids == want && decoded == c["decoded"].get<std::string>()) ++passed;
  }
  int renders = 0;
  for (const auto& r : j["chat_renders"]) {
    if (!r.contains("ids_deepseek_v3_tokenizer")) continue;
    auto want = r["ids_deepseek_v3_tokenizer"].get<std::vector<TokenId>>();
    std::string s = r["rendered"].get<std::string>();
    auto ids = tok.encode(s, false, true);
    EXPECT_EQ(want.size(), 25u);
    EXPECT_EQ(ids_str(ids), ids_str(want));
    EXPECT_EQ(tok.decode(ids, false), s);
    ++total, ++renders;
    if (ids == want) ++passed;
  }
  EXPECT_EQ(renders, 1);
  baleen::testing::report_conformance("tokenizer deepseek-v3 extra-cases", passed, total);
}

TEST(DeepseekV3, AddedTokensAsTextWithoutParseSpecial) {
  BALEEN_REQUIRE_CONFORMANCE();
  const Tokenizer& tok = load_json_tokenizer("deepseek-v3");
  // <｜User｜> is a non-special added token in this tokenizer.json, <｜begin▁of▁sentence｜> a special one;
  // without parse_special both are plain text.
  std::string s = "<｜begin▁of▁sentence｜><｜User｜>hi";
  auto with = tok.encode(s, false, true);
  auto without = tok.encode(s, false, false);
  ASSERT_EQ(with.size(), 3u);
  EXPECT_EQ(with[0], 0);
  EXPECT_EQ(with[1], 128803);
  EXPECT_FALSE(tok.is_special(128803));
  for (TokenId id : without) EXPECT_LT(id, 128000) << "no added token may match: " << id;
  EXPECT_GT(without.size(), 6u);
  EXPECT_EQ(tok.decode(without, false), s);
  EXPECT_EQ(tok.decode(with, false), s);
  EXPECT_EQ(tok.decode(with, true), "<｜User｜>hi");  // skip_special drops only the special BOS
}

class ChatRenders : public ::testing::TestWithParam<const char*> {};

TEST_P(ChatRenders, MatchHuggingFace) {
  BALEEN_REQUIRE_CONFORMANCE();
  std::string name = GetParam();
  const Tokenizer& tok = load_json_tokenizer(name);
  auto text = read_file(conformance_path("tokenizers/" + name + "/reference/chat-renders.json"));
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  int passed = 0, total = 0;
  for (const auto& r : j["renders"]) {
    std::string s = r["rendered"].get<std::string>();
    auto want = r["ids_add_special_tokens_false"].get<std::vector<TokenId>>();
    auto ids = tok.encode(s, false, true);
    EXPECT_EQ(ids_str(ids), ids_str(want));
    EXPECT_EQ(tok.decode(ids, false), s);
    EXPECT_TRUE(stream_matches_decode(tok, ids));
    ++total;
    if (ids == want) ++passed;
  }
  baleen::testing::report_conformance("tokenizer " + name + " chat-renders", passed, total);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ChatRenders, ::testing::Values("deepseek-r1-distill-qwen", "qwen3", "llama3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The regex sets chosen by GGUF `tokenizer.ggml.pre` must equal the Split patterns of the matching
// tokenizer.json (qwen3 = qwen2 vocab, llama3 = llama-bpe).
TEST(PreTokenizerPresets, EqualTokenizerJsonSplits) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (auto [json_name, pre] : {std::pair{"deepseek-v3", "deepseek-v3"},
                                {"deepseek-llm", "deepseek-llm"},
                                {"qwen3", "qwen2"},
                                {"deepseek-r1-distill-qwen", "deepseek-r1-qwen"},
                                {"llama3", "llama-bpe"}}) {
    auto text = read_file(conformance_path(std::string("tokenizers/") + json_name + "/tokenizer.json"));
    ASSERT_TRUE(text.ok());
    auto j = nlohmann::json::parse(*text);
    std::vector<std::string> want;
    for (const auto& p : j["pre_tokenizer"]["pretokenizers"]) {
      if (p["type"] == "Split") want.push_back(p["pattern"]["Regex"].get<std::string>());
    }
    auto got = pretokenizer_patterns_for(pre);
    ASSERT_TRUE(got.ok()) << pre;
    EXPECT_EQ(*got, want) << pre;
  }
}

// BOS/EOS defaults from tokenizer_config.json and the post-processor (deepseek-spec §9,
// conformance README §4 chkhsh notes).
TEST(SpecialIds, FromConfigAndPostProcessor) {
  BALEEN_REQUIRE_CONFORMANCE();
  const auto& v3 = load_json_tokenizer("deepseek-v3").special_ids();
  EXPECT_EQ(v3.bos, 0);
  EXPECT_EQ(v3.eos, 1);
  EXPECT_EQ(v3.pad, 1);
  EXPECT_TRUE(v3.add_bos);
  EXPECT_FALSE(v3.add_eos);
  const auto& llm = load_json_tokenizer("deepseek-llm").special_ids();
  EXPECT_EQ(llm.bos, 100000);
  EXPECT_TRUE(llm.add_bos);
  const auto& qwen = load_json_tokenizer("qwen3").special_ids();
  EXPECT_EQ(qwen.bos, -1);
  EXPECT_FALSE(qwen.add_bos);
  EXPECT_EQ(qwen.eos, 151645);  // <|im_end|>
  const auto& r1 = load_json_tokenizer("deepseek-r1-distill-qwen").special_ids();
  EXPECT_EQ(r1.bos, 151646);
  EXPECT_EQ(r1.eos, 151643);
  EXPECT_TRUE(r1.add_bos);
  const auto& l3 = load_json_tokenizer("llama3").special_ids();
  EXPECT_EQ(l3.bos, 128000);
  EXPECT_EQ(l3.eos, 128009);  // <|eot_id|>
  EXPECT_TRUE(l3.add_bos);

  const Tokenizer& tok = load_json_tokenizer("deepseek-v3");
  auto ids = tok.encode("Hello", true, true);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(tok.token_text(0), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok.token_id("<｜User｜>"), std::optional<TokenId>(128803));
  EXPECT_EQ(tok.token_id("\n"), std::nullopt);                // vocabulary text is byte-level: "\n" is "Ċ"
  EXPECT_EQ(tok.token_id("Ċ"), std::optional<TokenId>(201));  // deepseek-spec §9.1
  EXPECT_EQ(tok.token_to_bytes(201), "\n");
  EXPECT_EQ(tok.token_to_bytes(271), "\n\n");
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_FALSE(tok.is_special(201));
  EXPECT_EQ(tok.token_to_bytes(-1), "");
  EXPECT_EQ(tok.token_to_bytes(1 << 30), "");
  EXPECT_GE(tok.vocab_size(), 128815u);
}

}  // namespace
}  // namespace baleen
