// Tokenizer::from_gguf: builds the tokenizer from GGUF `tokenizer.ggml.*` metadata (keys as in
// ggml docs/gguf.md and llama.cpp's writer). "gpt2" vocabularies become a BpeTokenizer with the
// pre-tokenizer regexes llama.cpp associates with `tokenizer.ggml.pre`; "llama" (SentencePiece)
// vocabularies go to make_spm_tokenizer (spm.cc).
#include "io/gguf.h"
#include "tokenizer/bpe.h"

namespace baleen {
namespace {

// llama.cpp `llama_token_type` values stored in tokenizer.ggml.token_type.
enum GgufTokenType : int64_t {
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

TokenId optional_id(const GgufFile& gguf, std::string_view key, size_t n_vocab) {
  auto v = gguf.get_int(key);
  if (!v.ok() || *v < 0 || static_cast<uint64_t>(*v) >= n_vocab) return -1;
  return static_cast<TokenId>(*v);
}

Result<std::unique_ptr<Tokenizer>> gpt2_from_gguf(const GgufFile& gguf) {
  BALEEN_ASSIGN_OR_RETURN(std::vector<std::string> tokens, gguf.get_string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return make_error(ErrorCode::kCorruptFile, "GGUF tokenizer.ggml.tokens is empty");
  BALEEN_ASSIGN_OR_RETURN(std::vector<std::string> merges, gguf.get_string_array("tokenizer.ggml.merges"));
  std::vector<int64_t> types;
  if (gguf.find("tokenizer.ggml.token_type")) {
    BALEEN_ASSIGN_OR_RETURN(types, gguf.get_int_array("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return make_error(ErrorCode::kCorruptFile, "GGUF tokenizer.ggml.token_type has %zu entries for %zu tokens",
                        types.size(), tokens.size());
    }
  }
  std::string pre = "default";
  if (gguf.find("tokenizer.ggml.pre")) {
    BALEEN_ASSIGN_OR_RETURN(pre, gguf.get_string("tokenizer.ggml.pre"));
  }
  BALEEN_ASSIGN_OR_RETURN(std::vector<std::string> patterns, pretokenizer_patterns_for(pre));

  BpeTokenizerConfig cfg;
  for (const std::string& p : patterns) BALEEN_TRY(cfg.pre_tokenizer.add_split(p, SplitBehavior::kIsolated, false));
  cfg.strict_merges = false;  // llama.cpp ignores merges it cannot resolve
  // Llama-3's tokenizer.json sets BPE ignore_merges; GGUF has no key for it, so llama.cpp infers
  // it from the pre-tokenizer name (llama-vocab.cpp, LLAMA_VOCAB_PRE_TYPE_LLAMA3).
  cfg.ignore_merges = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
  cfg.merges.reserve(merges.size());
  for (const std::string& m : merges) {
    size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos || sp + 1 >= m.size()) {
      return make_error(ErrorCode::kCorruptFile, "GGUF tokenizer.ggml.merges entry '%s' is not 'left right'",
                        m.c_str());
    }
    cfg.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  for (size_t id = 0; id < tokens.size(); ++id) {
    int64_t type = types.empty() ? kTypeNormal : types[id];
    // Control, user-defined and unknown tokens are matched in the text as whole strings (llama.cpp
    // `cache_special_tokens`), only with parse_special.
    if (type == kTypeControl || type == kTypeUserDefined || type == kTypeUnknown) {
      AddedToken a;
      a.content = tokens[id];
      a.id = static_cast<TokenId>(id);
      a.special = type != kTypeUserDefined;
      cfg.added.push_back(std::move(a));
    }
    if (type == kTypeControl || type == kTypeUnknown) cfg.control_ids.push_back(static_cast<TokenId>(id));
  }
  cfg.vocab = std::move(tokens);
  size_t n = cfg.vocab.size();
  SpecialTokenIds sp;
  sp.bos = optional_id(gguf, "tokenizer.ggml.bos_token_id", n);
  sp.eos = optional_id(gguf, "tokenizer.ggml.eos_token_id", n);
  sp.unk = optional_id(gguf, "tokenizer.ggml.unknown_token_id", n);
  sp.pad = optional_id(gguf, "tokenizer.ggml.padding_token_id", n);
  auto add_bos = gguf.get_bool("tokenizer.ggml.add_bos_token");
  auto add_eos = gguf.get_bool("tokenizer.ggml.add_eos_token");
  sp.add_bos = add_bos.ok() ? *add_bos : sp.bos >= 0;  // llama.cpp's default for BPE vocabularies
  sp.add_eos = add_eos.ok() ? *add_eos : false;
  if (sp.bos < 0) sp.add_bos = false;
  if (sp.eos < 0) sp.add_eos = false;

  BALEEN_ASSIGN_OR_RETURN(auto tok, BpeTokenizer::create(std::move(cfg)));
  tok->set_special_ids(sp);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& gguf) {
  if (!gguf.find("tokenizer.ggml.model")) {
    return make_error(ErrorCode::kNotFound, "GGUF '%s' has no tokenizer.ggml.model", gguf.path().c_str());
  }
  BALEEN_ASSIGN_OR_RETURN(std::string model, gguf.get_string("tokenizer.ggml.model"));
  Result<std::unique_ptr<Tokenizer>> tok = make_error(ErrorCode::kInternal, "unreachable");
  if (model == "gpt2") {
    tok = gpt2_from_gguf(gguf);
  } else if (model == "llama") {
    tok = make_spm_tokenizer(gguf);
  } else {
    return make_error(ErrorCode::kUnsupported, "GGUF tokenizer.ggml.model '%s' is not supported (gpt2, llama)",
                      model.c_str());
  }
  if (!tok.ok()) return tok.error().with_context(gguf.path());
  return tok;
}

}  // namespace baleen
