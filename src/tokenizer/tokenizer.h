// The tokenizer interface every model uses: text <-> token ids, byte-exact with Hugging Face.
// Built from tokenizer.json (+ tokenizer_config.json), from GGUF `tokenizer.ggml.*` metadata, or
// from an HF folder. Implementations: byte-level BPE (gpt2-style, with the DeepSeek/Qwen2/Llama-3
// pre-tokenizers) and SentencePiece-style (llama / stories260K vocab). Thread-safe for concurrent
// encode/decode after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace baleen {

class GgufFile;

using TokenId = int32_t;

struct SpecialTokenIds {
  TokenId bos = -1;  // -1 = none
  TokenId eos = -1;
  TokenId pad = -1;
  TokenId unk = -1;
  bool add_bos = false;  // default for encode(..., add_bos = default)
  bool add_eos = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads from a tokenizer.json file (reads tokenizer_config.json beside it when present), a GGUF
  // file, or an HF folder containing tokenizer.json.
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& path);
  static Result<std::unique_ptr<Tokenizer>> from_tokenizer_json(const std::string& path);
  // Same from the texts of tokenizer.json and tokenizer_config.json ("" when there is none).
  static Result<std::unique_ptr<Tokenizer>> from_tokenizer_json_text(std::string_view tokenizer_json,
                                                                     std::string_view config_json = {});
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& gguf);

  // Encodes `text`. With parse_special, added/special token strings in the text become their ids
  // (what HF `encode(text, add_special_tokens=...)` does with every added token). Without, ALL
  // added/special token strings are tokenized as plain text — use this for untrusted text such as
  // chat message content (DeepSeek-V3's tokenizer.json marks `<｜User｜>` non-special, so merely
  // skipping special tokens would not stop role injection). add_bos prepends BOS (if the vocab has
  // one). Bytes that are not valid UTF-8 are treated as U+FFFD; never fails.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;

  // The raw bytes a token stands for (byte-level BPE mapped back to bytes; SPM pieces with U+2581
  // as space and <0xNN> byte tokens as bytes). Special tokens give their text. Out-of-range -> "".
  virtual std::string token_to_bytes(TokenId id) const = 0;

  // Concatenated bytes of `ids`; may contain invalid UTF-8 if the ids split a character.
  // skip_special drops control/special tokens. SPM tokenizers strip the leading space after BOS.
  virtual std::string decode(std::span<const TokenId> ids, bool skip_special) const;

  // The token's string as stored in the vocabulary (e.g. "Ġthe", "▁the", "<｜User｜>").
  virtual std::string_view token_text(TokenId id) const = 0;
  virtual std::optional<TokenId> token_id(std::string_view text) const = 0;
  virtual size_t vocab_size() const = 0;
  virtual bool is_special(TokenId id) const = 0;

  const SpecialTokenIds& special_ids() const { return special_; }

 protected:
  SpecialTokenIds special_;
};

// SentencePiece ("llama") vocabularies in GGUF; defined in spm.cc. Tokenizer::from_gguf calls it
// when `tokenizer.ggml.model` is "llama".
Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(const GgufFile& gguf);

// Incremental detokenizer for streaming: push ids one at a time and get back only complete UTF-8
// characters; bytes of a character split across tokens are held until it completes. flush()
// returns whatever is left (invalid bytes as U+FFFD). Bytes that can never become valid UTF-8 are
// replaced by U+FFFD in push() too, so every chunk is valid UTF-8. Until the first text is produced,
// tokens go through Tokenizer::decode (so an SPM tokenizer strips its leading space), afterwards
// through token_to_bytes. Not thread-safe (one per stream).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false) : tok_(tok), skip_special_(skip_special) {}
  std::string push(TokenId id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace baleen
