// Pre-tokenization for byte-level BPE: splits text into the pieces BPE merges within, the way Hugging
// Face `tokenizers` does with a Sequence of `Split` pre-tokenizers (and ByteLevel(use_regex=true),
// which is a Split on the GPT-2 regex). Regexes are PCRE2 (UTF + UCP, JIT-compiled once at load);
// matching uses per-thread match data, so one PreTokenizer serves any number of threads.
// Also holds the regex sets llama.cpp names by `tokenizer.ggml.pre` (deepseek-v3, qwen2, ...).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace baleen {

// A compiled PCRE2 pattern. Matching semantics follow Oniguruma's Ruby syntax, which HF uses:
// `^`/`$` are line anchors (PCRE2_MULTILINE), `\s`, `\p{L}`... are Unicode-aware (PCRE2_UCP).
class Regex {
 public:
  static Result<std::unique_ptr<Regex>> compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Finds the leftmost match in subject at or after `start` (a code point boundary). The subject
  // must be valid UTF-8. Returns false when there is none. Thread-safe.
  bool find(std::string_view subject, size_t start, size_t* match_begin, size_t* match_end) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
  std::string pattern_;
};

// HF `SplitDelimiterBehavior`.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A Sequence of Split steps; each step splits every piece the previous step produced.
class PreTokenizer {
 public:
  // Appends a step. Errors: the pattern does not compile (message names it).
  Status add_split(std::string_view pattern, SplitBehavior behavior, bool invert);
  size_t num_steps() const { return steps_.size(); }
  std::vector<std::string> patterns() const;

  // Splits `text` (valid UTF-8) and calls fn(std::string_view piece) for each non-empty piece, in
  // order. With no steps the whole text is one piece. No allocation per piece.
  template <typename Fn>
  void split(std::string_view text, Fn&& fn) const {
    if (text.empty()) return;
    split_from(0, text, fn);
  }

 private:
  struct Step {
    std::unique_ptr<Regex> regex;
    SplitBehavior behavior;
    bool invert;
  };

  template <typename Fn>
  void split_from(size_t step, std::string_view piece, Fn& fn) const;

  std::vector<Step> steps_;
};

// The GPT-2 pattern HF's ByteLevel pre-tokenizer applies when use_regex is true.
extern const char* const kGpt2Pattern;

// The Split regexes (all Isolated, applied in sequence) for llama.cpp's `tokenizer.ggml.pre` names:
// gpt-2 / default, llama-bpe / llama3 / llama-v3, qwen2 / deepseek-r1-qwen, deepseek-llm, deepseek-coder,
// deepseek-v3. kUnsupported naming `pre` otherwise.
Result<std::vector<std::string>> pretokenizer_patterns_for(std::string_view pre);

// ---- implementation of the template ----

template <typename Fn>
void PreTokenizer::split_from(size_t step, std::string_view piece, Fn& fn) const {
  if (step == steps_.size()) {
    fn(piece);
    return;
  }
  const Step& s = steps_[step];
  // `emit` receives the (offset, length, is_match) runs that cover the piece, in order, and applies
  // the split behaviour with O(1) state; pieces go straight to the next step.
  size_t pend_begin = 0, pend_end = 0;
  bool have_pend = false, pend_match = false, prev_match = false;
  auto next = [&](size_t b, size_t e) {
    if (e > b) split_from(step + 1, piece.substr(b, e - b), fn);
  };
  auto emit = [&](size_t b, size_t e, bool m) {
    switch (s.behavior) {
      case SplitBehavior::kIsolated:
        next(b, e);
        break;
      case SplitBehavior::kRemoved:
        if (!m) next(b, e);
        break;
      case SplitBehavior::kContiguous:
        if (have_pend && pend_match == m) {
          pend_end = e;
        } else {
          if (have_pend) next(pend_begin, pend_end);
          pend_begin = b, pend_end = e, pend_match = m, have_pend = true;
        }
        break;
      case SplitBehavior::kMergedWithPrevious:
        if (m && !prev_match && have_pend) {
          pend_end = e;
        } else {
          if (have_pend) next(pend_begin, pend_end);
          pend_begin = b, pend_end = e, have_pend = true;
        }
        break;
      case SplitBehavior::kMergedWithNext:
        // A match joins the piece after it when that piece is not a match itself.
        if (have_pend) {
          if (!m) {
            next(pend_begin, e);
            have_pend = false;
          } else {
            next(pend_begin, pend_end);
            pend_begin = b, pend_end = e;
          }
        } else if (m) {
          pend_begin = b, pend_end = e, have_pend = true;
        } else {
          next(b, e);
        }
        break;
    }
    prev_match = m;
  };
  size_t pos = 0, search = 0;
  size_t mb = 0, me = 0;
  while (search <= piece.size() && s.regex->find(piece, search, &mb, &me)) {
    if (me == mb) {  // empty match: never a piece; move on by one code point
      size_t step_len = 1;
      while (mb + step_len < piece.size() && (static_cast<unsigned char>(piece[mb + step_len]) & 0xC0) == 0x80)
        ++step_len;
      search = mb + step_len;
      continue;
    }
    if (mb > pos) emit(pos, mb, s.invert);
    emit(mb, me, !s.invert);
    pos = search = me;
  }
  if (pos < piece.size()) emit(pos, piece.size(), s.invert);
  if (have_pend) next(pend_begin, pend_end);
}

}  // namespace baleen
