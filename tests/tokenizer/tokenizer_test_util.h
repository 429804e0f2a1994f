// Helpers shared by the tokenizer tests: reading llama.cpp's vocab test vectors (.inp/.out) and
// checking the streaming decoder against Tokenizer::decode.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

namespace baleen::testing {

// .inp: each string followed by "\n__ggml_vocab_test__\n"; the piece after the last separator is empty.
inline std::vector<std::string> read_vocab_inp(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.ok()) << path;
  std::vector<std::string> out;
  if (!text.ok()) return out;
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (true) {
    size_t next = text->find(sep, pos);
    if (next == std::string::npos) break;
    out.push_back(text->substr(pos, next - pos));
    pos = next + sep.size();
  }
  EXPECT_EQ(pos, text->size()) << "trailing text after the last separator in " << path;
  return out;
}

// .out: one line per string, each id written as " %d"; an empty line is no tokens.
inline std::vector<std::vector<TokenId>> read_vocab_out(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.ok()) << path;
  std::vector<std::vector<TokenId>> out;
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<TokenId> ids;
    long v = 0;
    while (ls >> v) ids.push_back(static_cast<TokenId>(v));
    out.push_back(std::move(ids));
  }
  return out;
}

// Pushes ids one by one; the chunks plus flush() must equal decode(ids) (valid UTF-8 input), and
// no chunk may end inside a UTF-8 sequence or contain invalid UTF-8.
inline ::testing::AssertionResult stream_matches_decode(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  StreamDecoder dec(tok);
  std::string all;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string chunk = dec.push(ids[i]);
    if (utf8::incomplete_suffix_length(chunk) != 0 || !utf8::is_valid(chunk)) {
      return ::testing::AssertionFailure() << "chunk " << i << " is not complete valid UTF-8";
    }
    all += chunk;
  }
  all += dec.flush();
  std::string want = tok.decode(ids, false);
  if (all != want) return ::testing::AssertionFailure() << "stream '" << all << "' != decode '" << want << "'";
  return ::testing::AssertionSuccess();
}

inline std::string ids_str(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += " " + std::to_string(id);
  return s;
}

}  // namespace baleen::testing
