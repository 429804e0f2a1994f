#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdio>

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

// Letters assigned after Unicode 14, the version of Debian 12's PCRE2 (10.42): CJK Extension H
// (U+31350..U+323AF, Unicode 15.0) and Extension I (U+2EBF0..U+2EE5D, Unicode 15.1). HF's regex
// engine knows them as \p{L}; without this, a space before such a character splits differently.
constexpr const char* kNewLetters = "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}";

bool pcre2_unicode_before_15_1() {
  char version[32] = {};
  if (pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, version) < 0) return true;
  int major = 0, minor = 0;
  std::sscanf(version, "%d.%d", &major, &minor);
  return major < 15 || (major == 15 && minor < 1);
}

// Adds kNewLetters wherever the pattern says \p{L}: inside a character class as extra ranges,
// outside as a class of its own.
std::string add_new_letters(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (pattern.compare(i, 5, "\\p{L}") == 0) {
        out += in_class ? std::string("\\p{L}") + kNewLetters : std::string("[\\p{L}") + kNewLetters + "]";
        i += 4;
      } else {
        out += c;
        out += pattern[++i];
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // a leading ] is literal
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern) {
  static const bool old_unicode = pcre2_unicode_before_15_1();
  std::string effective = old_unicode ? add_new_letters(pattern) : std::string(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(effective.data()), effective.size(),
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

// DeepSeek-LLM's letter class (Latin, Greek, Cyrillic, ... letters), punctuation class and CJK
// ranges, as its tokenizer.json and llama.cpp list them (escaped to keep the source ASCII).
constexpr const char* kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
    "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
    "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
    "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
    "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr const char* kDeepseekLlmPunct = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
constexpr const char* kDeepseekLlmCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
// DeepSeek-V3: CJK unified ideographs U+4E00-U+9FA5, Hiragana, Katakana (deepseek-spec 9.1).
constexpr const char* kDeepseekV3Cjk = "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+";

}  // namespace

Result<std::vector<std::string>> pretokenizer_patterns_for(std::string_view pre) {
  if (pre == "gpt-2" || pre == "default" || pre.empty()) return std::vector<std::string>{kGpt2Pattern};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") return std::vector<std::string>{kLlama3Pattern};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return std::vector<std::string>{kQwen2Pattern};
  if (pre == "deepseek-llm") {
    return std::vector<std::string>{"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct,
                                    "\\s+$",  kDeepseekLlmCjk,     "\\p{N}+"};
  }
  if (pre == "deepseek-coder") {
    return std::vector<std::string>{"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kDeepseekLlmCjk, "\\p{N}"};
  }
  if (pre == "deepseek-v3") {
    return std::vector<std::string>{
        "\\p{N}{1,3}", kDeepseekV3Cjk,
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
        "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"};
  }
  return make_error(ErrorCode::kUnsupported, "unsupported pre-tokenizer '%.*s' (tokenizer.ggml.pre)",
                    static_cast<int>(pre.size()), pre.data());
}

}  // namespace baleen
