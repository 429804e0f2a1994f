// STOPGAP for the SPM tests only: definitions of Tokenizer::decode (the default) and StreamDecoder
// that tokenizer.h declares but whose home, src/tokenizer/tokenizer.cc, belongs to the BPE branch
// and has not landed in main yet. Include from exactly one translation unit per test executable.
// Delete this file and its includes once main defines these symbols (they would then clash).
#pragma once

#include <span>
#include <string>

#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

namespace baleen {

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  for (TokenId id : ids) {
    if (skip_special && is_special(id)) continue;
    out += token_to_bytes(id);
  }
  return out;
}

namespace stopgap {
// Appends the complete characters of `s`, invalid bytes as U+FFFD.
inline void append_sanitized(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    size_t n = utf8::decode(s, i, &cp);
    if (cp == utf8::kReplacement && n == 1) {
      utf8::append(out, cp);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
}
}  // namespace stopgap

// The first id(s) go through decode() so that tokenizer-specific start-of-text rules (SPM drops
// the leading space) apply; once some text has come out, ids are rendered with token_to_bytes.
std::string StreamDecoder::push(TokenId id) {
  if (first_) {
    std::string text = tok_.decode(std::span<const TokenId>(&id, 1), skip_special_);
    if (!text.empty()) first_ = false;
    pending_ += text;
  } else if (!(skip_special_ && tok_.is_special(id))) {
    pending_ += tok_.token_to_bytes(id);
  }
  size_t keep = utf8::incomplete_suffix_length(pending_);
  std::string out;
  stopgap::append_sanitized(out, std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  stopgap::append_sanitized(out, pending_);
  pending_.clear();
  return out;
}

}  // namespace baleen
