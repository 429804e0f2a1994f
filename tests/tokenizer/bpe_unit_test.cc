// Unit tests of the byte-level BPE pieces on small hand-made vocabularies: the GPT-2 byte table,
// Split behaviours, merge order, added-token flags, streaming, malformed tokenizer.json and invalid
// UTF-8 input; plus a throughput check on the DeepSeek-V3 vocabulary.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "core/utf8.h"
#include "testing.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer_test_util.h"

namespace baleen {
namespace {

using nlohmann::json;

// ---- byte-level table (GPT-2 encoder.py bytes_to_unicode) ----

TEST(ByteLevel, TableFacts) {
  EXPECT_EQ(byte_level::byte_to_code_point(' '), 0x120u);   // "Ġ"
  EXPECT_EQ(byte_level::byte_to_code_point('\n'), 0x10Au);  // "Ċ"
  EXPECT_EQ(byte_level::byte_to_code_point(0), 0x100u);
  EXPECT_EQ(byte_level::byte_to_code_point('A'), static_cast<char32_t>('A'));
  EXPECT_EQ(byte_level::byte_to_code_point(0x7F), 0x121u);  // after the 33 bytes 0x00..0x20
  EXPECT_EQ(byte_level::byte_to_code_point(0xAD), 0x143u);  // the last byte that is remapped
  EXPECT_EQ(byte_level::byte_to_code_point(0xE9), 0xE9u);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string enc = byte_level::encode(all);
  EXPECT_EQ(utf8::to_u32(enc).size(), 256u);
  EXPECT_EQ(byte_level::decode(enc), std::optional<std::string>(all));
  EXPECT_EQ(byte_level::decode("<｜User｜>"), std::nullopt);  // U+FF5C is not in the table
  EXPECT_EQ(byte_level::encode(" the"), "Ġthe");
}

// ---- pre-tokenizer ----

std::vector<std::string> split_all(const PreTokenizer& pre, std::string_view text) {
  std::vector<std::string> out;
  pre.split(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

using Pieces = std::vector<std::string>;

// Expected pieces: the SplitDelimiterBehavior examples of the HF tokenizers documentation.
TEST(PreTokenizer, SplitBehaviours) {
  struct Case {
    SplitBehavior b;
    Pieces want;
  } cases[] = {
      {SplitBehavior::kRemoved, {"the", "final", "countdown"}},
      {SplitBehavior::kIsolated, {"the", "-", "final", "-", "-", "countdown"}},
      {SplitBehavior::kMergedWithPrevious, {"the-", "final-", "-", "countdown"}},
      {SplitBehavior::kMergedWithNext, {"the", "-final", "-", "-countdown"}},
      {SplitBehavior::kContiguous, {"the", "-", "final", "--", "countdown"}},
  };
  for (const Case& c : cases) {
    PreTokenizer pre;
    ASSERT_TRUE(pre.add_split("-", c.b, false).ok());
    EXPECT_EQ(split_all(pre, "the-final--countdown"), c.want) << static_cast<int>(c.b);
  }
  PreTokenizer inverted;  // invert: the pattern describes the content, the gaps are the delimiters
  ASSERT_TRUE(inverted.add_split("[a-z]+", SplitBehavior::kRemoved, true).ok());
  EXPECT_EQ(split_all(inverted, "the-final--countdown"), (Pieces{"the", "final", "countdown"}));
}

TEST(PreTokenizer, Gpt2AndDeepseekRegexes) {
  PreTokenizer gpt2;
  ASSERT_TRUE(gpt2.add_split(kGpt2Pattern, SplitBehavior::kIsolated, false).ok());
  // `\s+(?!\S)` leaves the last space of a run for the next word.
  EXPECT_EQ(split_all(gpt2, "Hello world's  test 123!!"),
            (Pieces{"Hello", " world", "'s", " ", " test", " 123", "!!"}));

  auto v3 = pretokenizer_patterns_for("deepseek-v3");
  ASSERT_TRUE(v3.ok());
  PreTokenizer pre;
  for (const auto& p : *v3) ASSERT_TRUE(pre.add_split(p, SplitBehavior::kIsolated, false).ok());
  EXPECT_EQ(split_all(pre, "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(split_all(pre, "你好world"), (Pieces{"你好", "world"}));
  EXPECT_EQ(split_all(pre, "a.b"), (Pieces{"a", ".b"}));
  // U+31ECB (CJK Extension H, Unicode 15) is a letter for HF's regex engine even where PCRE2's
  // tables predate it: the space stays with it.
  EXPECT_EQ(split_all(pre, " \xF0\xB1\xBB\x8B"), (Pieces{" \xF0\xB1\xBB\x8B"}));

  auto bad = pretokenizer_patterns_for("no-such-pre");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("no-such-pre"), std::string::npos);
  for (const char* name : {"gpt-2", "default", "llama-bpe", "llama3", "qwen2", "deepseek-r1-qwen", "deepseek-llm",
                           "deepseek-coder", "deepseek-v3"}) {
    auto pats = pretokenizer_patterns_for(name);
    ASSERT_TRUE(pats.ok()) << name;
    PreTokenizer p;
    for (const auto& s : *pats) EXPECT_TRUE(p.add_split(s, SplitBehavior::kIsolated, false).ok()) << name << ": " << s;
  }
  PreTokenizer broken;
  auto st = broken.add_split("(unclosed", SplitBehavior::kIsolated, false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("(unclosed"), std::string::npos);
}

// ---- a tiny tokenizer.json ----

// Vocabulary: the 256 byte-level characters plus `extra`, merges as given.
json tiny_json(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
               json added = json::array(), json pre = nullptr) {
  json vocab = json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = id++;
  for (const auto& e : extra) vocab[e] = id++;
  if (pre.is_null()) pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

std::unique_ptr<Tokenizer> make(const json& j) {
  auto t = Tokenizer::from_tokenizer_json_text(j.dump());
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(Bpe, MergeOrderLowestRankFirstLeftmostOnTies) {
  // ids: bytes are 0..255 in table order; extra tokens start at 256.
  auto t = make(tiny_json({"ab", "bc", "abc"}, {"b c", "a b", "a bc"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<TokenId>{258}));  // b+c first, then a+bc
  auto u = make(tiny_json({"ab", "bc", "abc"}, {"a b", "b c", "ab c"}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->encode("abc", false, false), (std::vector<TokenId>{258}));  // a+b first, then ab+c
  auto v = make(tiny_json({"ab", "bc"}, {"a b", "b c"}));
  ASSERT_TRUE(v);
  TokenId c = *v->token_id("c");
  EXPECT_EQ(v->encode("abc", false, false), (std::vector<TokenId>{256, c}));  // a+b wins, bc never forms

  // "aaaa..." with merges a+a then aa+aa: pairs form left to right.
  auto w = make(tiny_json({"aa", "aaaa"}, {"a a", "aa aa"}));
  ASSERT_TRUE(w);
  TokenId a = *w->token_id("a");
  EXPECT_EQ(w->encode("aaa", false, false), (std::vector<TokenId>{256, a}));
  EXPECT_EQ(w->encode(std::string(10, 'a'), false, false), (std::vector<TokenId>{257, 257, 256}));
  std::vector<TokenId> want(50, 257);
  want.push_back(a);
  EXPECT_EQ(w->encode(std::string(201, 'a'), false, false), want);  // 201 symbols: the heap path
}

TEST(Bpe, HeapPathEqualsArrayPath) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto loaded =
      Tokenizer::from_tokenizer_json(baleen::testing::conformance_path("tokenizers/deepseek-v3/tokenizer.json"));
  ASSERT_TRUE(loaded.ok());
  auto* bpe = dynamic_cast<BpeTokenizer*>(loaded->get());
  ASSERT_NE(bpe, nullptr);
  std::mt19937 rng(42);
  const char* alphabet[] = {"a", "b", "e", "n", "t", "s", "r", "é", "ü", "ß", "q", "o", "i", "l"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string word;
    size_t len = 1 + rng() % 120;
    for (size_t i = 0; i < len; ++i) word += alphabet[rng() % std::size(alphabet)];
    std::vector<TokenId> small, large;
    bpe->set_small_word_limit(1 << 20);
    bpe->encode_piece(word, small);
    bpe->set_small_word_limit(1);
    bpe->encode_piece(word, large);
    ASSERT_EQ(small, large) << word;
    EXPECT_EQ(bpe->decode(small, false), word);
  }
  bpe->set_small_word_limit(48);
}

TEST(Bpe, IgnoreMergesTakesWholeWord) {
  // "abc" is in the vocabulary but no merge leads to it.
  json j = tiny_json({"ab", "abc"}, {"a b"});
  auto plain = make(j);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->encode("abc", false, false), (std::vector<TokenId>{256, *plain->token_id("c")}));
  j["model"]["ignore_merges"] = true;
  auto ignoring = make(j);
  ASSERT_TRUE(ignoring);
  EXPECT_EQ(ignoring->encode("abc", false, false), (std::vector<TokenId>{257}));
}

TEST(AddedTokens, LeftmostLongestAndFlags) {
  json added = json::array();
  auto tok = [&](int id, const char* s, bool special, bool lstrip, bool rstrip, bool single_word) {
    added.push_back({{"id", id},
                     {"content", s},
                     {"special", special},
                     {"normalized", false},
                     {"lstrip", lstrip},
                     {"rstrip", rstrip},
                     {"single_word", single_word}});
  };
  tok(300, "<a>", true, false, false, false);
  tok(301, "<a><b>", true, false, false, false);
  tok(302, "<l>", true, true, false, false);
  tok(303, "<r>", false, false, true, false);
  tok(304, "<w>", false, false, false, true);
  auto t = make(tiny_json({}, {}, added));
  ASSERT_TRUE(t);
  auto sp = *t->token_id("Ġ");
  auto x = *t->token_id("x");
  EXPECT_EQ(t->encode("<a><b>", false, true), (std::vector<TokenId>{301}));
  EXPECT_EQ(t->encode("<a>x", false, true), (std::vector<TokenId>{300, x}));
  EXPECT_EQ(t->encode("x  <l>", false, true), (std::vector<TokenId>{x, 302}));  // lstrip eats the spaces
  EXPECT_EQ(t->encode("<r>  x", false, true), (std::vector<TokenId>{303, x}));  // rstrip eats them
  EXPECT_EQ(t->encode("x <w> x", false, true), (std::vector<TokenId>{x, sp, 304, sp, x}));
  std::vector<TokenId> glued = t->encode("x<w>x", false, true);  // single_word: not between letters
  EXPECT_EQ(std::count(glued.begin(), glued.end(), 304), 0);
  EXPECT_EQ(t->decode(glued, false), "x<w>x");
  // Without parse_special nothing is matched, special or not.
  for (const char* s : {"<a><b>", "<r>", "<w>"}) {
    for (TokenId id : t->encode(s, false, false)) EXPECT_LT(id, 256) << s;
  }
  EXPECT_TRUE(t->is_special(300));
  EXPECT_FALSE(t->is_special(303));
  EXPECT_EQ(t->decode(std::vector<TokenId>{300, x, 303}, true), "x<r>");
  EXPECT_EQ(t->token_text(301), "<a><b>");
  EXPECT_EQ(t->vocab_size(), 305u);
}

TEST(Streaming, HoldsSplitCharactersAndReplacesInvalidBytes) {
  auto t = make(tiny_json({}, {}));
  ASSERT_TRUE(t);
  // "é" = C3 A9: one token per byte with no merges.
  auto ids = t->encode("é!", false, false);
  ASSERT_EQ(ids.size(), 3u);
  StreamDecoder dec(*t);
  EXPECT_EQ(dec.push(ids[0]), "");
  EXPECT_EQ(dec.push(ids[1]), "é");
  EXPECT_EQ(dec.push(ids[2]), "!");
  EXPECT_EQ(dec.flush(), "");

  TokenId ff = *t->token_id(byte_level::encode("\xFF"));
  TokenId c3 = *t->token_id(byte_level::encode("\xC3"));
  StreamDecoder bad(*t);
  EXPECT_EQ(bad.push(ff), "\xEF\xBF\xBD");  // 0xFF can never start a character
  EXPECT_EQ(bad.push(c3), "");
  EXPECT_EQ(bad.flush(), "\xEF\xBF\xBD");  // an unfinished sequence at the end
  EXPECT_TRUE(baleen::testing::stream_matches_decode(*t, t->encode("añ中😀z", false, false)));
}

TEST(Encode, InvalidUtf8BecomesReplacementCharacters) {
  auto t = make(tiny_json({}, {}));
  ASSERT_TRUE(t);
  std::string bad = "a\xFF\xC3 b\xE4\xB8";
  auto ids = t->encode(bad, false, false);
  auto want = t->encode("a\xEF\xBF\xBD\xEF\xBF\xBD b\xEF\xBF\xBD\xEF\xBF\xBD", false, false);
  EXPECT_EQ(ids, want);
  EXPECT_TRUE(utf8::is_valid(t->decode(ids, false)));
  EXPECT_TRUE(t->encode("", true, true).empty());  // no BOS in this vocabulary
}

// ---- malformed tokenizer.json ----

void expect_error(const std::string& text, ErrorCode code, const std::string& needle) {
  auto t = Tokenizer::from_tokenizer_json_text(text);
  ASSERT_FALSE(t.ok()) << needle;
  EXPECT_EQ(t.error().code(), code) << t.error().to_string();
  EXPECT_NE(t.error().message().find(needle), std::string::npos) << t.error().to_string();
}

TEST(TokenizerJson, MalformedInputNamesTheProblem) {
  expect_error("{not json", ErrorCode::kCorruptFile, "not valid JSON");
  expect_error("[1,2]", ErrorCode::kCorruptFile, "not an object");
  json j = tiny_json({}, {});
  j.erase("model");
  expect_error(j.dump(), ErrorCode::kCorruptFile, "missing 'model'");
  j = tiny_json({"ab"}, {"a b", "a zz"});
  expect_error(j.dump(), ErrorCode::kCorruptFile, "'zz'");
  j = tiny_json({}, {"a b"});  // "ab" is not in the vocabulary
  expect_error(j.dump(), ErrorCode::kCorruptFile, "'ab'");
  j = tiny_json({}, {});
  j["model"]["type"] = "Unigram";
  expect_error(j.dump(), ErrorCode::kUnsupported, "Unigram");
  j = tiny_json({}, {}, json::array(), {{"type", "Sequence"}, {"pretokenizers", {{{"type", "FancySplitter"}}}}});
  expect_error(j.dump(), ErrorCode::kUnsupported, "FancySplitter");
  j = tiny_json({}, {});
  j["normalizer"] = {{"type", "NFKC"}};
  expect_error(j.dump(), ErrorCode::kUnsupported, "NFKC");
  j = tiny_json({}, {}, json::array(), {{"type", "Split"}, {"pattern", {{"Regex", "(("}}}, {"behavior", "Isolated"}});
  expect_error(j.dump(), ErrorCode::kInvalidArgument, "((");
  j = tiny_json({}, {}, json::array(), {{"type", "Whitespace"}});
  expect_error(j.dump(), ErrorCode::kUnsupported, "Whitespace");
  j = tiny_json({}, {});
  j["model"]["merges"] = json::array({42});
  expect_error(j.dump(), ErrorCode::kCorruptFile, "merge #0");
  j = tiny_json({}, {});
  j["model"]["vocab"]["neg"] = -5;
  expect_error(j.dump(), ErrorCode::kCorruptFile, "'neg'");
  j = tiny_json({}, {});
  j["added_tokens"] = json::array({{{"content", "x"}}});
  expect_error(j.dump(), ErrorCode::kCorruptFile, "added_tokens");

  auto missing = Tokenizer::from_tokenizer_json("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/tokenizer.json"), std::string::npos);
}

TEST(TokenizerJson, MergesAsArraysAndNfc) {
  json j = tiny_json({"ab"}, {});
  j["model"]["merges"] = json::array({json::array({"a", "b"})});
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  auto t = make(j);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("ab", false, false), (std::vector<TokenId>{256}));
  // "e" + U+0301 composes to U+00E9 under NFC (Unicode canonical composition).
  EXPECT_EQ(t->encode("e\xCC\x81", false, false), t->encode("\xC3\xA9", false, false));
  EXPECT_EQ(t->encode("e\xCC\x81", false, true), t->encode("\xC3\xA9", false, true));
}

// ---- throughput ----

}  // namespace
}  // namespace baleen
