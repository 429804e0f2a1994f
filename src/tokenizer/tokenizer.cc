// Tokenizer defaults shared by every implementation and the streaming decoder. Loading lives in
// tokenizer_load.cc so that users of this file do not pull in the GGUF reader.
#include "tokenizer/tokenizer.h"

#include "core/utf8.h"

namespace baleen {
namespace {

// Appends s to out with every byte that is not part of a well-formed sequence replaced by U+FFFD.
void append_valid(std::string_view s, std::string& out) {
  if (utf8::is_valid(s)) {
    out.append(s);
    return;
  }
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = 0;
    size_t len = utf8::decode(s, pos, &cp);
    if (cp == utf8::kReplacement) {
      utf8::append(out, utf8::kReplacement);
    } else {
      out.append(s.substr(pos, len));
    }
    pos += len;
  }
}

}  // namespace

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  for (TokenId id : ids) {
    if (skip_special && is_special(id)) continue;
    out += token_to_bytes(id);
  }
  return out;
}

std::string StreamDecoder::push(TokenId id) {
  if (first_) {
    pending_ += tok_.decode(std::span<const TokenId>(&id, 1), skip_special_);
    if (!pending_.empty()) first_ = false;
  } else if (!(skip_special_ && tok_.is_special(id))) {
    pending_ += tok_.token_to_bytes(id);
  }
  size_t keep = utf8::incomplete_suffix_length(pending_);
  std::string out;
  append_valid(std::string_view(pending_).substr(0, pending_.size() - keep), out);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  append_valid(pending_, out);
  pending_.clear();
  return out;
}

}  // namespace baleen
