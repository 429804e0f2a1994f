// Byte-level BPE tokenizer (GPT-2 style), byte-exact with Hugging Face `tokenizers`: added tokens
// are split out first, the rest is normalized (optional NFC), pre-tokenized by regex Splits, and each
// piece is merged with the BPE rank table (lowest rank first, leftmost among equal ranks). Built by
// tokenizer_json.cc (tokenizer.json) and gguf_vocab.cc (GGUF `tokenizer.ggml.*`, model "gpt2").
//
// Invalid UTF-8 input: HF only ever sees Rust strings, so Baleen decides: every byte that is not part
// of a well-formed UTF-8 sequence is replaced by U+FFFD before tokenizing (what a client decoding
// the bytes lossily would have sent). encode() never fails.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace baleen {

// Everything a BPE tokenizer is built from, whatever the file format.
struct BpeTokenizerConfig {
  // Vocabulary as stored (byte-level text, e.g. "Ġthe"), indexed by id; "" for ids with no entry.
  std::vector<std::string> vocab;
  // Merge pairs in rank order (rank = index), as vocabulary strings.
  std::vector<std::pair<std::string, std::string>> merges;
  // Tokens matched in the text before BPE. Their ids may lie inside or beyond `vocab`.
  std::vector<AddedToken> added;
  // Ids (besides special added tokens) that count as special/control (GGUF token_type 2 and 3).
  std::vector<TokenId> control_ids;

  PreTokenizer pre_tokenizer;
  bool add_prefix_space = false;  // ByteLevel(add_prefix_space): prepend " " to each text segment
  NormalizerKind normalizer = NormalizerKind::kNone;
  bool ignore_merges = false;  // a piece that is itself in the vocabulary becomes that token
  bool byte_fallback = false;  // unknown bytes become <0xNN> tokens
  std::optional<std::string> unk_token;
  // Merges that name unknown tokens or yield a string not in the vocabulary: an error (tokenizer.json,
  // as HF) or skipped (GGUF, as llama.cpp).
  bool strict_merges = true;
  SpecialTokenIds special;
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Errors: kCorruptFile naming the bad merge / token; kInvalidArgument for an empty vocabulary.
  static Result<std::unique_ptr<BpeTokenizer>> create(BpeTokenizerConfig config);

  std::vector<TokenId> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string token_to_bytes(TokenId id) const override;
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override;
  std::string_view token_text(TokenId id) const override;
  std::optional<TokenId> token_id(std::string_view text) const override;
  size_t vocab_size() const override { return text_.size(); }
  bool is_special(TokenId id) const override;

  // Appends the BPE ids of one pre-tokenized piece (raw bytes) to `out`. Exposed for tests/benchmarks.
  void encode_piece(std::string_view bytes, std::vector<TokenId>& out) const;
  // Appends the ids of `text` (no added-token matching, no BOS).
  void encode_plain(std::string_view text, std::vector<TokenId>& out) const;
  const PreTokenizer& pre_tokenizer() const { return pre_; }
  size_t num_merges() const { return num_merges_; }
  void set_special_ids(const SpecialTokenIds& ids) { special_ = ids; }
  // Pieces of up to this many symbols merge with a rank array, longer ones with a heap; both give
  // the same ids. Tests lower it to check the heap path against the array path.
  void set_small_word_limit(size_t n) { small_word_limit_ = n; }

 private:
  BpeTokenizer() = default;
  Status init_merges(const BpeTokenizerConfig& config);
  void encode_segment(std::string_view text, bool parse_special, std::vector<TokenId>& out) const;
  void encode_normalized(std::string_view text, std::vector<TokenId>& out) const;
  void merge_small(size_t n, std::vector<TokenId>& out) const;
  void merge_large(size_t n, std::vector<TokenId>& out) const;

  struct MergeEntry {
    uint64_t key = kEmptyKey;  // (left id << 32) | right id
    uint32_t rank = 0;
    TokenId merged = -1;
  };
  static constexpr uint64_t kEmptyKey = ~0ull;
  // Rank and result of merging (a, b); false when the pair does not merge.
  bool find_merge(TokenId a, TokenId b, uint32_t* rank, TokenId* merged) const {
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> merge_shift_);
    while (true) {
      const MergeEntry& e = merge_table_[i];
      if (e.key == key) {
        *rank = e.rank;
        *merged = e.merged;
        return true;
      }
      if (e.key == kEmptyKey) return false;
      i = (i + 1) & merge_mask_;
    }
  }
  void insert_merge(TokenId a, TokenId b, uint32_t rank, TokenId merged);

  std::vector<std::string> text_;   // id -> vocabulary text
  std::vector<std::string> bytes_;  // id -> bytes it decodes to
  std::vector<uint8_t> flags_;      // id -> kFlag*
  static constexpr uint8_t kFlagSpecial = 1, kFlagAdded = 2;
  // Heterogeneous lookup by string_view (no temporary strings on the hot path).
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;
  StringMap vocab_to_id_;  // model vocabulary (what merges and byte symbols refer to)
  StringMap added_to_id_;  // added tokens by content
  StringMap bytes_to_id_;  // model vocabulary by decoded bytes, for ignore_merges

  std::array<TokenId, 256> byte_id_{};      // byte -> id of its single-character token, -1 if none
  std::array<TokenId, 256> fallback_id_{};  // byte -> id of "<0xNN>", -1 if none
  TokenId unk_id_ = -1;
  std::vector<MergeEntry> merge_table_;
  size_t merge_mask_ = 0;
  int merge_shift_ = 64;
  size_t num_merges_ = 0;

  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_;   // added tokens matched in raw text (normalized=false)
  AddedTokenMatcher norm_;  // added tokens matched after normalization (normalized=true)
  PreTokenizer pre_;
  bool add_prefix_space_ = false;
  NormalizerKind normalizer_ = NormalizerKind::kNone;
  bool ignore_merges_ = false;
  size_t small_word_limit_ = 48;
};

}  // namespace baleen
