// make_spm_tokenizer(const GgufFile&): reads the `tokenizer.ggml.*` metadata into an SpmVocab.
// Kept apart from spm.cc so that the vector-built tokenizer links without the GGUF reader.
#include <cmath>
#include <cstdint>

#include "io/gguf.h"
#include "tokenizer/spm.h"

namespace baleen {
namespace {

constexpr int64_t kNoToken = 0xFFFFFFFF;  // what converters write for "no such token"

// Reads an optional token id key. Absent -> `fallback` if it is a valid id, else none.
// 0xFFFFFFFF / -1 -> none. Out of range -> error, or none when `ignore_out_of_range`.
Result<TokenId> read_token_id(const GgufFile& gguf, const char* key, TokenId fallback, size_t n_tokens,
                              bool ignore_out_of_range) {
  if (gguf.find(key) == nullptr) {
    return fallback >= 0 && static_cast<size_t>(fallback) < n_tokens ? fallback : TokenId{-1};
  }
  auto value = gguf.get_int(key);
  if (!value.ok()) return value.error();
  int64_t v = *value;
  if (v == kNoToken || v == -1) return TokenId{-1};
  if (v < 0 || static_cast<uint64_t>(v) >= n_tokens) {
    if (ignore_out_of_range) return TokenId{-1};
    return make_error(ErrorCode::kCorruptFile, "%s = %lld is out of range (vocab size %zu)", key,
                      static_cast<long long>(v), n_tokens);
  }
  return static_cast<TokenId>(v);
}

Result<bool> read_bool(const GgufFile& gguf, const char* key, bool fallback) {
  if (gguf.find(key) == nullptr) return fallback;
  return gguf.get_bool(key);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(const GgufFile& gguf) {
  if (gguf.find("tokenizer.ggml.model") != nullptr) {
    BALEEN_ASSIGN_OR_RETURN(std::string model, gguf.get_string("tokenizer.ggml.model"));
    if (model != "llama") {
      return make_error(ErrorCode::kUnsupported, "tokenizer.ggml.model is '%s', not the SPM model 'llama'",
                        model.c_str());
    }
  }

  SpmVocab vocab;
  {
    auto tokens = gguf.get_string_array("tokenizer.ggml.tokens");
    if (!tokens.ok()) return tokens.error().with_context("SPM tokenizer");
    vocab.tokens = std::move(tokens).value();
  }
  const size_t n = vocab.tokens.size();

  if (gguf.find("tokenizer.ggml.scores") != nullptr) {
    BALEEN_ASSIGN_OR_RETURN(std::vector<double> scores, gguf.get_number_array("tokenizer.ggml.scores"));
    vocab.scores.reserve(scores.size());
    for (double s : scores) vocab.scores.push_back(static_cast<float>(s));
  }
  if (gguf.find("tokenizer.ggml.token_type") != nullptr) {
    BALEEN_ASSIGN_OR_RETURN(std::vector<int64_t> types, gguf.get_int_array("tokenizer.ggml.token_type"));
    vocab.types.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < INT32_MIN || types[i] > INT32_MAX) {
        return make_error(ErrorCode::kCorruptFile, "tokenizer.ggml.token_type[%zu] = %lld is not a token type", i,
                          static_cast<long long>(types[i]));
      }
      vocab.types.push_back(static_cast<int32_t>(types[i]));
    }
  }

  // llama.cpp's defaults for SPM vocabs: unk 0, bos 1, eos 2, add_bos true, add_space_prefix true.
  SpecialTokenIds& s = vocab.special;
  BALEEN_ASSIGN_OR_RETURN(s.bos, read_token_id(gguf, "tokenizer.ggml.bos_token_id", 1, n, false));
  BALEEN_ASSIGN_OR_RETURN(s.eos, read_token_id(gguf, "tokenizer.ggml.eos_token_id", 2, n, false));
  BALEEN_ASSIGN_OR_RETURN(s.unk, read_token_id(gguf, "tokenizer.ggml.unknown_token_id", 0, n, false));
  BALEEN_ASSIGN_OR_RETURN(s.pad, read_token_id(gguf, "tokenizer.ggml.padding_token_id", -1, n, true));

  const bool has_add_bos = gguf.find("tokenizer.ggml.add_bos_token") != nullptr;
  BALEEN_ASSIGN_OR_RETURN(s.add_bos, read_bool(gguf, "tokenizer.ggml.add_bos_token", true));
  BALEEN_ASSIGN_OR_RETURN(s.add_eos, read_bool(gguf, "tokenizer.ggml.add_eos_token", false));
  // Defaulted add_bos quietly turns off without a BOS; an explicit true without one is an error
  // (make_spm_tokenizer reports it).
  if (!has_add_bos && s.bos < 0) s.add_bos = false;
  BALEEN_ASSIGN_OR_RETURN(vocab.add_space_prefix, read_bool(gguf, "tokenizer.ggml.add_space_prefix", true));

  return make_spm_tokenizer(std::move(vocab));
}

}  // namespace baleen
