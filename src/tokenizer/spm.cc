// SentencePiece-style tokenizer. The encoding algorithm is the one llama.cpp uses for SPM vocabs
// (src/llama-vocab.cpp, llm_tokenizer_spm_session, and llama_vocab::impl::tokenize), re-written
// from its description:
//   1. The text is split into fragments at special-token strings (user-defined tokens always;
//      control and unknown tokens only with parse_special), longest token text first.
//   2. Each text fragment gets a leading " " when add_space_prefix is set and it is the first
//      fragment or follows a special token; then every ' ' becomes U+2581.
//   3. One symbol per UTF-8 character (length from the lead byte; no validation). All adjacent
//      pairs whose concatenation is a vocab entry go into a max-heap by score (ties: leftmost).
//      The best pair is merged, stale entries are skipped, and the new neighbours are queued.
//   4. A final symbol that is a vocab entry is emitted; otherwise each byte becomes its <0xNN>
//      token (or the single-byte token), else <unk>.
// (llama.cpp also keeps a "rev_merge" map to re-split symbols that are not tokens, but a merged
// symbol is always a token, so only unmerged characters reach the byte fallback.)
#include "tokenizer/spm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <queue>
#include <string_view>
#include <unordered_map>

namespace baleen {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

// UTF-8 sequence length from the lead byte, as llama.cpp's unicode_len_utf8 (continuation and
// invalid lead bytes count as 1).
size_t utf8_char_len(unsigned char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int hi = hex_digit(text[3]);
  int lo = hex_digit(text[4]);
  if (hi < 0 || lo < 0) return -1;
  return hi * 16 + lo;
}

class SpmTokenizer final : public Tokenizer {
 public:
  // `vocab` must have been validated by make_spm_tokenizer.
  explicit SpmTokenizer(SpmVocab vocab)
      : tokens_(std::move(vocab.tokens)),
        scores_(std::move(vocab.scores)),
        types_(std::move(vocab.types)),
        add_space_prefix_(vocab.add_space_prefix) {
    special_ = vocab.special;
    const size_t n = tokens_.size();
    if (scores_.empty()) scores_.assign(n, 0.0f);
    if (types_.empty()) types_.assign(n, static_cast<int32_t>(SpmTokenType::kNormal));

    token_to_id_.reserve(n);
    pieces_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const auto id = static_cast<TokenId>(i);
      token_to_id_[tokens_[i]] = id;  // a repeated text maps to its last id, as in llama.cpp
      switch (type(id)) {
        case SpmTokenType::kNormal:
          pieces_[i] = replace_all(tokens_[i], kSpaceMarker, " ");
          break;
        case SpmTokenType::kByte:
          pieces_[i] = std::string(1, static_cast<char>(parse_byte_token(tokens_[i])));
          break;
        case SpmTokenType::kUnknown:
        case SpmTokenType::kControl:
        case SpmTokenType::kUserDefined:
          pieces_[i] = tokens_[i];
          break;
        case SpmTokenType::kUndefined:
        case SpmTokenType::kUnused:
          break;  // llama.cpp renders these as nothing
      }
      SpmTokenType t = type(id);
      if ((t == SpmTokenType::kUserDefined || t == SpmTokenType::kControl || t == SpmTokenType::kUnknown) &&
          !tokens_[i].empty()) {
        special_matchers_.push_back(id);
      }
    }
    // Longest text first, so that "<|im_start|>" wins over "<"; ties by id for determinism.
    std::stable_sort(special_matchers_.begin(), special_matchers_.end(),
                     [&](TokenId a, TokenId b) { return tokens_[a].size() > tokens_[b].size(); });

    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      TokenId id = lookup(name);
      if (id < 0) id = lookup(std::string_view(reinterpret_cast<const char*>(&b), 1));
      byte_ids_[b] = id;
    }
  }

  std::vector<TokenId> encode(std::string_view text, bool add_bos, bool parse_special) const override {
    std::vector<TokenId> out;
    if (add_bos && special_.bos >= 0) out.push_back(special_.bos);

    // Split into raw-text fragments and special tokens (llama.cpp tokenizer_st_partition).
    struct Fragment {
      TokenId id;  // -1 = raw text
      size_t offset;
      size_t length;
    };
    std::vector<Fragment> fragments;
    if (!text.empty()) fragments.push_back({-1, 0, text.size()});
    std::vector<Fragment> next;
    for (TokenId sid : special_matchers_) {
      SpmTokenType t = type(sid);
      if (!parse_special && (t == SpmTokenType::kControl || t == SpmTokenType::kUnknown)) continue;
      const std::string& needle = tokens_[sid];
      next.clear();
      for (const Fragment& f : fragments) {
        if (f.id >= 0) {
          next.push_back(f);
          continue;
        }
        size_t pos = f.offset;
        const size_t end = f.offset + f.length;
        while (true) {
          size_t hit = text.find(needle, pos);
          if (hit == std::string_view::npos || hit + needle.size() > end) break;
          if (hit > pos) next.push_back({-1, pos, hit - pos});
          next.push_back({sid, 0, 0});
          pos = hit + needle.size();
        }
        if (pos < end) next.push_back({-1, pos, end - pos});
      }
      fragments.swap(next);
    }

    bool prev_special = true;  // the first fragment gets the space prefix too
    std::string buf;
    for (const Fragment& f : fragments) {
      if (f.id >= 0) {
        out.push_back(f.id);
        prev_special = true;
        continue;
      }
      buf.clear();
      if (add_space_prefix_ && prev_special) buf.push_back(' ');
      buf.append(text.substr(f.offset, f.length));
      encode_fragment(replace_all(buf, " ", kSpaceMarker), out);
      prev_special = false;
    }
    return out;
  }

  std::string token_to_bytes(TokenId id) const override { return in_range(id) ? pieces_[id] : std::string(); }

  // Concatenated pieces; with add_space_prefix one leading space of the result is dropped (the
  // one the encoder added). This is SentencePiece's and Hugging Face's rule (their Strip decoder
  // runs after Fuse), and llama2.c's for text after BOS. llama.cpp's detokenize differs when the
  // ids start with BOS: it spends its strip on the BOS and keeps the space.
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override {
    std::string out;
    for (TokenId id : ids) {
      if (!in_range(id) || (skip_special && is_special(id))) continue;
      out += pieces_[id];
    }
    if (add_space_prefix_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }

  std::string_view token_text(TokenId id) const override {
    return in_range(id) ? std::string_view(tokens_[id]) : std::string_view();
  }

  std::optional<TokenId> token_id(std::string_view text) const override {
    TokenId id = lookup(text);
    if (id < 0) return std::nullopt;
    return id;
  }

  size_t vocab_size() const override { return tokens_.size(); }

  bool is_special(TokenId id) const override {
    if (!in_range(id)) return false;
    SpmTokenType t = type(id);
    return t == SpmTokenType::kControl || t == SpmTokenType::kUnknown;
  }

 private:
  bool in_range(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < tokens_.size(); }
  SpmTokenType type(TokenId id) const { return static_cast<SpmTokenType>(types_[id]); }

  TokenId lookup(std::string_view text) const {
    auto it = token_to_id_.find(text);
    return it == token_to_id_.end() ? -1 : it->second;
  }

  // Steps 3 and 4 of the file comment on one escaped fragment.
  void encode_fragment(std::string_view text, std::vector<TokenId>& out) const {
    struct Symbol {
      int prev;
      int next;
      size_t offset;
      size_t length;  // 0 once merged into its left neighbour
    };
    struct Bigram {
      int left;
      int right;
      float score;
      size_t length;
    };
    // Max-heap on score; among equal scores the smaller `left` comes first.
    auto lower = [](const Bigram& a, const Bigram& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };

    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t offset = 0; offset < text.size();) {
      size_t len = std::min(utf8_char_len(static_cast<unsigned char>(text[offset])), text.size() - offset);
      int index = static_cast<int>(symbols.size());
      offset += len;
      symbols.push_back({index - 1, offset == text.size() ? -1 : index + 1, offset - len, len});
    }

    std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
    auto try_add = [&](int left, int right) {
      if (left < 0 || right < 0) return;
      std::string_view pair = text.substr(symbols[left].offset, symbols[left].length + symbols[right].length);
      TokenId id = lookup(pair);
      if (id < 0) return;
      queue.push({left, right, scores_[id], pair.size()});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
      Bigram b = queue.top();
      queue.pop();
      Symbol& left = symbols[b.left];
      Symbol& right = symbols[b.right];
      if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;  // stale
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }

    for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
      std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
      TokenId id = lookup(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      bool unk_emitted = false;
      for (char c : piece) {
        TokenId byte_id = byte_ids_[static_cast<unsigned char>(c)];
        if (byte_id >= 0) {
          out.push_back(byte_id);
          unk_emitted = false;
        } else if (special_.unk >= 0 && !unk_emitted) {
          out.push_back(special_.unk);  // one <unk> per run of unrepresentable bytes
          unk_emitted = true;
        }
      }
    }
  }

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> types_;
  bool add_space_prefix_;
  std::vector<std::string> pieces_;  // bytes each token decodes to
  TokenMap token_to_id_;
  std::vector<TokenId> special_matchers_;  // user-defined, control, unknown; longest text first
  std::array<TokenId, 256> byte_ids_{};    // byte -> <0xNN> token (or 1-byte token), -1 = none
};

Status check_special_id(const char* what, TokenId id, size_t n) {
  if (id == -1) return ok_status();
  if (id < 0 || static_cast<size_t>(id) >= n) {
    return make_error(ErrorCode::kCorruptFile, "%s token id %d out of range (vocab size %zu)", what, id, n);
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(SpmVocab vocab) {
  const size_t n = vocab.tokens.size();
  if (n == 0) return make_error(ErrorCode::kCorruptFile, "SPM vocab: tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) {
    return make_error(ErrorCode::kCorruptFile, "SPM vocab: %zu tokens exceed the int32 id range", n);
  }
  if (!vocab.scores.empty() && vocab.scores.size() != n) {
    return make_error(ErrorCode::kCorruptFile, "SPM vocab: tokenizer.ggml.scores has %zu entries, tokens has %zu",
                      vocab.scores.size(), n);
  }
  if (!vocab.types.empty() && vocab.types.size() != n) {
    return make_error(ErrorCode::kCorruptFile, "SPM vocab: tokenizer.ggml.token_type has %zu entries, tokens has %zu",
                      vocab.types.size(), n);
  }
  for (size_t i = 0; i < vocab.scores.size(); ++i) {
    if (std::isnan(vocab.scores[i])) {
      return make_error(ErrorCode::kCorruptFile, "SPM vocab: score of token %zu is NaN", i);
    }
  }
  for (size_t i = 0; i < vocab.types.size(); ++i) {
    int32_t t = vocab.types[i];
    if (t < 0 || t > static_cast<int32_t>(SpmTokenType::kByte)) {
      return make_error(ErrorCode::kCorruptFile, "SPM vocab: token %zu has unknown token_type %d", i, t);
    }
    if (t == static_cast<int32_t>(SpmTokenType::kByte) && parse_byte_token(vocab.tokens[i]) < 0) {
      return make_error(ErrorCode::kCorruptFile, "SPM vocab: byte token %zu has text '%s', expected <0xNN>", i,
                        vocab.tokens[i].c_str());
    }
  }
  const SpecialTokenIds& s = vocab.special;
  BALEEN_TRY(check_special_id("SPM vocab: bos", s.bos, n));
  BALEEN_TRY(check_special_id("SPM vocab: eos", s.eos, n));
  BALEEN_TRY(check_special_id("SPM vocab: unknown", s.unk, n));
  BALEEN_TRY(check_special_id("SPM vocab: padding", s.pad, n));
  if (s.add_bos && s.bos < 0)
    return make_error(ErrorCode::kCorruptFile, "SPM vocab: add_bos is set but there is no BOS id");
  if (s.add_eos && s.eos < 0)
    return make_error(ErrorCode::kCorruptFile, "SPM vocab: add_eos is set but there is no EOS id");
  return std::unique_ptr<Tokenizer>(std::make_unique<SpmTokenizer>(std::move(vocab)));
}

}  // namespace baleen
