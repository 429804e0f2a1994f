#include "tokenizer/added_tokens.h"

#include <unicode/uchar.h>
#include <algorithm>

#include "core/utf8.h"

namespace baleen {
namespace {

// Rust regex `\s`: Unicode White_Space (HF strips with `\s*`).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Rust regex `\w`: Alphabetic, marks, decimal numbers, connector punctuation, join controls.
bool is_word_char(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC)) return true;
  int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK ||
         t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION;
}

// Start of the code point that ends at `end` (end > 0).
size_t prev_cp_start(std::string_view s, size_t end) {
  size_t p = end - 1;
  while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80 && end - p < 4) --p;
  return p;
}

}  // namespace

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens, const std::vector<size_t>& which) {
  nodes_.assign(1, Node{});
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
  for (size_t idx : which) {
    const std::string& s = tokens[idx].content;
    if (s.empty()) continue;
    first_byte_[static_cast<uint8_t>(s[0])] = true;
    int32_t node = 0;
    for (char ch : s) {
      uint8_t b = static_cast<uint8_t>(ch);
      auto& kids = nodes_[node].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), b, [](const auto& kv, uint8_t v) { return kv.first < v; });
      if (it != kids.end() && it->first == b) {
        node = it->second;
      } else {
        int32_t child = static_cast<int32_t>(nodes_.size());
        kids.insert(it, {b, child});
        nodes_.push_back(Node{});
        node = child;
      }
    }
    // The same content twice: the later entry wins, as in HF's map from content to token.
    nodes_[node].token = static_cast<int64_t>(idx);
  }
}

int64_t AddedTokenMatcher::longest_at(std::string_view text, size_t at, size_t* len) const {
  int32_t node = 0;
  int64_t best = -1;
  for (size_t i = at; i < text.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(text[i]);
    const auto& kids = nodes_[node].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), b, [](const auto& kv, uint8_t v) { return kv.first < v; });
    if (it == kids.end() || it->first != b) break;
    node = it->second;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      *len = i + 1 - at;
    }
  }
  return best;
}

bool AddedTokenMatcher::next_match(std::string_view text, const std::vector<AddedToken>& tokens, size_t emitted,
                                   size_t* pos, Match* m) const {
  for (size_t at = *pos; at < text.size(); ++at) {
    if (!first_byte_[static_cast<uint8_t>(text[at])]) continue;
    size_t len = 0;
    int64_t idx = longest_at(text, at, &len);
    if (idx < 0) continue;
    size_t begin = at, end = at + len;
    *pos = end;  // like an Aho-Corasick iterator, a rejected match is consumed too
    const AddedToken& t = tokens[static_cast<size_t>(idx)];
    if (t.single_word) {
      char32_t cp = 0;
      bool word_before = begin > 0 && (utf8::decode(text, prev_cp_start(text, begin), &cp), is_word_char(cp));
      bool word_after = end < text.size() && (utf8::decode(text, end, &cp), is_word_char(cp));
      if (word_before || word_after) {
        at = end - 1;
        continue;
      }
    }
    if (t.lstrip) {
      while (begin > emitted) {
        size_t p = prev_cp_start(text, begin);
        char32_t cp = 0;
        utf8::decode(text, p, &cp);
        if (!is_white_space(cp) || p < emitted) break;
        begin = p;
      }
    }
    if (t.rstrip) {
      while (end < text.size()) {
        char32_t cp = 0;
        size_t n = utf8::decode(text, end, &cp);
        if (!is_white_space(cp)) break;
        end += n;
      }
      *pos = end;
    }
    *m = Match{begin, end, static_cast<size_t>(idx)};
    return true;
  }
  *pos = text.size();
  return false;
}

}  // namespace baleen
