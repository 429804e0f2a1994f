// Added tokens (special and user-defined) and the leftmost-longest matcher that finds them in text
// before BPE runs, with HF `tokenizers` AddedVocabulary semantics: at each position the longest
// token wins, scanning continues after a match, lstrip/rstrip swallow neighbouring whitespace and
// single_word tokens only match between non-word characters. Used by the BPE tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace baleen {

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;     // control token: is_special(), skipped by decode(skip_special)
  bool normalized = false;  // matched in normalized text (after the normalizer) instead of raw text
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// A byte trie over a set of added tokens.
class AddedTokenMatcher {
 public:
  // Indexes `tokens[i]` for every i in `which` (empty contents are ignored).
  void build(const std::vector<AddedToken>& tokens, const std::vector<size_t>& which);
  bool empty() const { return nodes_.size() <= 1; }

  struct Match {
    size_t begin;  // span to replace by the token (includes stripped whitespace)
    size_t end;
    size_t token;  // index into the vector given to build()
  };

  // Splits `text` into gaps and matches, calling on_text(std::string_view) for each non-empty gap
  // and on_token(size_t token_index) for each match, in order.
  template <typename OnText, typename OnToken>
  void split(std::string_view text, const std::vector<AddedToken>& tokens, OnText&& on_text, OnToken&& on_token) const {
    if (empty()) {
      if (!text.empty()) on_text(text);
      return;
    }
    size_t emitted = 0, pos = 0;
    Match m{};
    while (next_match(text, tokens, emitted, &pos, &m)) {
      if (m.begin > emitted) on_text(text.substr(emitted, m.begin - emitted));
      on_token(m.token);
      emitted = m.end;
    }
    if (emitted < text.size()) on_text(text.substr(emitted));
  }

 private:
  // Finds the next accepted match whose search starts at *pos; `emitted` is where the previous
  // accepted match ended (lstrip never reaches before it). Advances *pos.
  bool next_match(std::string_view text, const std::vector<AddedToken>& tokens, size_t emitted, size_t* pos,
                  Match* m) const;
  // Longest token starting exactly at `at`; -1 when none.
  int64_t longest_at(std::string_view text, size_t at, size_t* len) const;

  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int64_t token = -1;
  };
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace baleen
