// SentencePiece-style tokenizer (GGUF `tokenizer.ggml.model` == "llama": Llama 1/2, TinyLlama,
// stories260K and the other llama2.c vocabularies). Encoding follows llama.cpp's SPM tokenizer
// (llm_tokenizer_spm: spaces -> U+2581, "▁" prefix, greedy bigram merge by score, <0xNN> byte
// fallback); decoding follows SentencePiece / Hugging Face (one leading space of the output is
// dropped). Built from GGUF metadata (Tokenizer::from_gguf dispatches here) or from plain vectors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace baleen {

class GgufFile;

// GGUF `tokenizer.ggml.token_type` values (llama.cpp llama_token_type).
enum class SpmTokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// The vocabulary of an SPM tokenizer as plain vectors (the GGUF metadata, already read).
struct SpmVocab {
  std::vector<std::string> tokens;  // piece text, spaces written as U+2581, bytes as "<0xNN>"
  std::vector<float> scores;        // merge priority (higher merges first); empty = all 0
  std::vector<int32_t> types;       // SpmTokenType values; empty = all kNormal
  SpecialTokenIds special;          // -1 = none; add_bos is the encode default callers may use
  bool add_space_prefix = true;     // prepend "▁" to text at the start and after special tokens
};

// Validates `vocab` and builds the tokenizer. Errors (kCorruptFile, naming the field): no tokens,
// scores/types length differs from tokens, a type outside 0..6, a NaN score, a special id out of
// range, a byte-type token whose text is not "<0xNN>", add_bos without a BOS id.
Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(SpmVocab vocab);

// Reads `tokenizer.ggml.{tokens,scores,token_type}`, `{bos,eos,unknown,padding}_token_id`
// (0xFFFFFFFF = none; an out-of-range padding id is ignored as llama.cpp does, other out-of-range
// ids are errors; absent bos/eos/unknown default to 1/2/0 as in llama.cpp), `add_bos_token`
// (default true), `add_eos_token` (default false) and `add_space_prefix` (default true).
// Errors: kNotFound when tokens are missing, kUnsupported when tokenizer.ggml.model is present and
// not "llama", kCorruptFile for malformed values (as make_spm_tokenizer(SpmVocab)).
Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(const GgufFile& gguf);

}  // namespace baleen
