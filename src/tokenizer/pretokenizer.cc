#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace baleen {
namespace {

// Per-thread PCRE2 state: match data (only ovector[0..1] is read) and a JIT stack large enough for
// long runs of whitespace or letters. Freed when the thread exits.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ThreadMatchState() {
    data = pcre2_match_data_create(16, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    if (stack) pcre2_jit_stack_free(stack);
    if (context) pcre2_match_context_free(context);
    if (data) pcre2_match_data_free(data);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &err_off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return make_error(ErrorCode::kInvalidArgument, "regex '%.*s' does not compile at offset %zu: %s",
                      static_cast<int>(pattern.size()), pattern.data(), static_cast<size_t>(err_off),
                      reinterpret_cast<const char*>(msg));
  }
  std::unique_ptr<Regex> re(new Regex());
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  re->pattern_ = std::string(pattern);
  return re;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::find(std::string_view subject, size_t start, size_t* match_begin, size_t* match_end) const {
  ThreadMatchState& st = thread_state();
  if (!st.data) return false;
  auto* code = static_cast<pcre2_code*>(code_);
  auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = jit_ ? pcre2_jit_match(code, subj, subject.size(), start, 0, st.data, st.context)
                : pcre2_match(code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK, st.data, st.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {  // pathological input: retry with the interpreter
    rc = pcre2_match(code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, st.data, nullptr);
  }
  if (rc < 0) return false;  // no match (or a match limit was hit: treat as no match)
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
  *match_begin = ov[0];
  *match_end = ov[1];
  return true;
}

Status PreTokenizer::add_split(std::string_view pattern, SplitBehavior behavior, bool invert) {
  BALEEN_ASSIGN_OR_RETURN(auto re, Regex::compile(pattern));
  steps_.push_back(Step{std::move(re), behavior, invert});
  return ok_status();
}

std::vector<std::string> PreTokenizer::patterns() const {
  std::vector<std::string> out;
  for (const Step& s : steps_) out.push_back(s.regex->pattern());
  return out;
}

// Source of the patterns below (facts, restated): HF tokenizers `pre_tokenizers/byte_level.rs` (the
// GPT-2 regex), the tokenizer.json files of the named models, and llama.cpp `src/llama-vocab.cpp`
// (`LLAMA_VOCAB_PRE_TYPE_*` regex_exprs) for which names map to which sets; see deepseek-spec §9.
const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Llama-3 (llama-bpe); Qwen2 is the same with single digits.
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Letters of the Latin, Greek, Cyrillic... scripts as DeepSeek-LLM's tokenizer.json lists them.
constexpr const char* kDeepseekLlmLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-"
    "ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

}  // namespace

Result<std::vector<std::string>> pretokenizer_patterns_for(std::string_view pre) {
  if (pre == "gpt-2" || pre == "default" || pre.empty()) return std::vector<std::string>{kGpt2Pattern};
  if (pre == "llama-bpe" || pre == "llama3") return std::vector<std::string>{kLlama3Pattern};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return std::vector<std::string>{kQwen2Pattern};
  if (pre == "deepseek-llm") {
    return std::vector<std::string>{"[\r\n]", kDeepseekLlmLetters, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$",
                                    "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"};
  }
  if (pre == "deepseek-coder") {
    return std::vector<std::string>{"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"};
  }
  if (pre == "deepseek-v3") {
    return std::vector<std::string>{
        "\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
        "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"};
  }
  return make_error(ErrorCode::kUnsupported, "unsupported pre-tokenizer '%.*s' (tokenizer.ggml.pre)",
                    static_cast<int>(pre.size()), pre.data());
}

}  // namespace baleen
