// Unit tests of the SPM tokenizer on a tiny hand-made vocabulary: merge order by score, leftmost
// ties, byte and <unk> fallback, special / user-defined token matching, decoding rules, streaming
// and metadata validation. Expected ids are worked out by hand from the algorithm description.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/utf8.h"
#include "tokenizer/spm.h"

namespace baleen {
namespace {

using Ids = std::vector<TokenId>;

constexpr TokenId kByte0 = 3;  // <0x00> .. <0xFF> are ids 3..258
TokenId byte_id(unsigned char b) { return kByte0 + b; }
enum : TokenId {
  kSpace = 259,  // "▁"
  kA,            // "a"
  kB,            // "b"
  kC,            // "c"
  kSpaceA,       // "▁a"
  kAB,           // "ab"
  kBC,           // "bc"
  kSpaceAB,      // "▁ab"
  kUser,         // "<user>" (user-defined)
  kEAcute,       // "é"
  kUnused,       // "zz" (unused)
};

SpmVocab tiny_vocab(bool with_bytes = true) {
  SpmVocab v;
  auto add = [&](const std::string& text, float score, SpmTokenType type) {
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, SpmTokenType::kUnknown);
  add("<s>", 0, SpmTokenType::kControl);
  add("</s>", 0, SpmTokenType::kControl);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(with_bytes ? name : "<pad" + std::to_string(b) + ">", 0,
        with_bytes ? SpmTokenType::kByte : SpmTokenType::kUnused);
  }
  add("\xE2\x96\x81", -1, SpmTokenType::kNormal);
  add("a", -1, SpmTokenType::kNormal);
  add("b", -1, SpmTokenType::kNormal);
  add("c", -1, SpmTokenType::kNormal);
  add("\xE2\x96\x81"
      "a",
      -5, SpmTokenType::kNormal);
  add("ab", -2, SpmTokenType::kNormal);
  add("bc", -2, SpmTokenType::kNormal);
  add("\xE2\x96\x81"
      "ab",
      -3, SpmTokenType::kNormal);
  add("<user>", 0, SpmTokenType::kUserDefined);
  add("\xC3\xA9", -1, SpmTokenType::kNormal);
  add("zz", 0, SpmTokenType::kUnused);
  v.special = {.bos = 1, .eos = 2, .pad = -1, .unk = 0, .add_bos = true, .add_eos = false};
  return v;
}

std::unique_ptr<Tokenizer> make(SpmVocab v) {
  auto r = make_spm_tokenizer(std::move(v));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(Spm, MergesByScoreLeftmostOnTies) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  // "▁ab": ab (-2) beats ▁a (-5); then ▁+ab = ▁ab (-3).
  EXPECT_EQ(tok->encode("ab", false, false), (Ids{kSpaceAB}));
  // "▁abc": ab and bc tie at -2, the left one merges; then ▁ab; "abc" is not a token.
  EXPECT_EQ(tok->encode("abc", false, false), (Ids{kSpaceAB, kC}));
  EXPECT_EQ(tok->encode("bc", false, false), (Ids{kSpace, kBC}));
  // Every space is a ▁ symbol; "▁▁" and "▁b" are not tokens.
  EXPECT_EQ(tok->encode("a  b", false, false), (Ids{kSpaceA, kSpace, kSpace, kB}));
  EXPECT_EQ(tok->encode("a", true, false), (Ids{1, kSpaceA}));
  EXPECT_EQ(tok->encode("", true, false), (Ids{1}));
  EXPECT_EQ(tok->encode("", false, false), (Ids{}));
}

TEST(Spm, NoSpacePrefix) {
  SpmVocab v = tiny_vocab();
  v.add_space_prefix = false;
  auto tok = make(std::move(v));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("ab", false, false), (Ids{kAB}));
  EXPECT_EQ(tok->encode(" ab", false, false), (Ids{kSpaceAB}));
  EXPECT_EQ(tok->decode(tok->encode(" ab", false, false), false), " ab");
}

TEST(Spm, ByteFallback) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("x", false, false), (Ids{kSpace, byte_id('x')}));
  EXPECT_EQ(tok->encode("\xC3\xBC", false, false), (Ids{kSpace, byte_id(0xC3), byte_id(0xBC)}));  // ü
  EXPECT_EQ(tok->encode("\xC3\xA9", false, false), (Ids{kSpace, kEAcute}));                       // é
  EXPECT_EQ(tok->decode(Ids{kSpace, byte_id(0xC3), byte_id(0xBC)}, false), "\xC3\xBC");
  EXPECT_EQ(tok->token_to_bytes(byte_id('A')), "A");
}

TEST(Spm, UnknownWithoutByteTokens) {
  auto tok = make(tiny_vocab(/*with_bytes=*/false));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("x", false, false), (Ids{kSpace, 0}));
  EXPECT_EQ(tok->encode("x\xC3\xBC"
                        "a",
                        false, false),
            (Ids{kSpace, 0, 0, kA}));  // one <unk> per character
}

TEST(Spm, SpecialTokens) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  // parse_special: "<s>" is BOS and the text after it gets the space prefix again.
  EXPECT_EQ(tok->encode("<s>a", false, true), (Ids{1, kSpaceA}));
  EXPECT_EQ(tok->encode("a</s>", false, true), (Ids{kSpaceA, 2}));
  // Without parse_special the control text is plain text (bytes here).
  EXPECT_EQ(tok->encode("<s>a", false, false), (Ids{kSpace, byte_id('<'), byte_id('s'), byte_id('>'), kA}));
  // User-defined tokens match even without parse_special.
  EXPECT_EQ(tok->encode("a<user>b", false, false), (Ids{kSpaceA, kUser, kSpace, kB}));
  EXPECT_EQ(tok->encode("<user>", false, false), (Ids{kUser}));
}

TEST(Spm, Decode) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->decode(Ids{1, kSpaceA, kAB}, true), "aab");
  EXPECT_EQ(tok->decode(Ids{1, kSpaceA, kAB}, false), "<s> aab");
  EXPECT_EQ(tok->decode(Ids{kSpaceA, kSpaceA, 2}, true), "a a");
  EXPECT_EQ(tok->decode(Ids{kSpaceA, kUser, kSpace, kB}, true), "a<user> b");
  EXPECT_EQ(tok->decode(Ids{kUnused, -5, 100000, kA}, false), "a");
  EXPECT_EQ(tok->token_to_bytes(kSpaceAB), " ab");
  EXPECT_EQ(tok->token_to_bytes(1), "<s>");
  EXPECT_EQ(tok->token_to_bytes(-1), "");
  EXPECT_EQ(tok->token_to_bytes(100000), "");
  EXPECT_EQ(tok->token_text(kSpaceAB),
            "\xE2\x96\x81"
            "ab");
  EXPECT_EQ(tok->token_text(100000), "");
  EXPECT_EQ(tok->token_id("\xE2\x96\x81"
                          "ab"),
            std::optional<TokenId>(kSpaceAB));
  EXPECT_EQ(tok->token_id("nope"), std::nullopt);
  EXPECT_EQ(tok->vocab_size(), 270u);
  EXPECT_TRUE(tok->is_special(0));
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(kUser));
  EXPECT_FALSE(tok->is_special(kA));
  EXPECT_FALSE(tok->is_special(100000));
  EXPECT_EQ(tok->special_ids().bos, 1);
  EXPECT_TRUE(tok->special_ids().add_bos);
}

TEST(Spm, RoundTrip) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  for (const char* s : {"abc ab  bc", " leading", "tab\there\nnewline", "caf\xC3\xA9 \xE2\x82\xAC 100"}) {
    EXPECT_EQ(tok->decode(tok->encode(s, true, false), true), s) << s;
  }
  // Text after a user-defined token gets the "▁" prefix again (llama.cpp), so it does not
  // round-trip exactly.
  EXPECT_EQ(tok->decode(tok->encode("x<user>y", true, false), true), "x<user> y");
}

// Arbitrary bytes (invalid UTF-8 included) encode without crashing into in-range ids; valid UTF-8
// decodes back exactly (U+2581 itself is excluded: it decodes to a space by design). Invalid UTF-8
// need not round-trip: as in llama.cpp a symbol's length comes from its lead byte alone, so a stray
// lead byte can swallow the U+2581 of a following space, which then falls back to its three bytes.
TEST(Spm, ArbitraryBytesRoundTrip) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  uint32_t state = 12345;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    int len = iter % 23;
    for (int i = 0; i < len; ++i) {
      state = state * 1664525u + 1013904223u;
      s.push_back(
          static_cast<char>("ab c\xC3\xA9\xE2\x82\xF0<user>s"[(state >> 24) % 16] ^ ((state >> 8) & 1 ? 0 : 0x80)));
    }
    if (s.find("\xE2\x96\x81") != std::string::npos) continue;
    Ids ids = tok->encode(s, iter % 2 == 0, iter % 3 == 0);
    for (TokenId id : ids) ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < tok->vocab_size());
    if (s.find("<user>") == std::string::npos && utf8::is_valid(s)) {
      EXPECT_EQ(tok->decode(ids, true), s);
    }
  }
}

TEST(Spm, StreamingHoldsPartialCharacters) {
  auto tok = make(tiny_vocab());
  ASSERT_TRUE(tok);
  std::string text = "a \xE2\x82\xAC b \xF0\x9F\x98\x80!";  // euro sign, emoji: byte tokens
  Ids ids = tok->encode(text, true, false);
  StreamDecoder stream(*tok, /*skip_special=*/true);
  std::string joined;
  for (TokenId id : ids) {
    std::string chunk = stream.push(id);
    EXPECT_EQ(utf8::incomplete_suffix_length(chunk), 0u);
    EXPECT_TRUE(utf8::is_valid(chunk));
    joined += chunk;
  }
  joined += stream.flush();
  EXPECT_EQ(joined, text);
  EXPECT_EQ(joined, tok->decode(ids, true));
}

TEST(Spm, RejectsBadMetadata) {
  auto expect_error = [](SpmVocab v, const char* what) {
    auto r = make_spm_tokenizer(std::move(v));
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruptFile) << what;
  };
  SpmVocab v = tiny_vocab();
  v.scores.pop_back();
  expect_error(v, "scores shorter");
  v = tiny_vocab();
  v.types.push_back(1);
  expect_error(v, "types longer");
  v = tiny_vocab();
  v.types[5] = 7;
  expect_error(v, "type 7");
  v = tiny_vocab();
  v.scores[300 - 40] = std::nanf("");
  expect_error(v, "NaN score");
  v = tiny_vocab();
  v.special.bos = static_cast<TokenId>(v.tokens.size());
  expect_error(v, "bos out of range");
  v = tiny_vocab();
  v.special.eos = -7;
  expect_error(v, "eos negative");
  v = tiny_vocab();
  v.special.unk = 1 << 30;
  expect_error(v, "unk out of range");
  v = tiny_vocab();
  v.tokens[kByte0 + 1] = "<0xZZ>";
  expect_error(v, "bad byte token");
  v = tiny_vocab();
  v.special.bos = -1;
  expect_error(v, "add_bos without bos");
  expect_error(SpmVocab{}, "no tokens");
  // Empty scores/types mean "absent" (all 0 / all normal).
  v = tiny_vocab();
  v.scores.clear();
  v.types.clear();
  EXPECT_TRUE(make_spm_tokenizer(std::move(v)).ok());
}

}  // namespace
}  // namespace baleen
