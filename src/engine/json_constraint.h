// JSON mode (OpenAI's response_format {"type": "json_object"}): a byte-level incremental recognizer
// of one RFC 8259 JSON text whose top-level value is an object (leading whitespace allowed), and the
// per-step token mask built on it. The recognizer is a pushdown automaton: a stack of open
// containers (bounded by a depth limit) plus a small scalar state (in a string / escape / \uXXXX
// digits / a UTF-8 sequence / a number / a literal). Strings must be valid UTF-8 (a character may be
// split across tokens), with no raw control characters (< 0x20); \u escapes of UTF-16 surrogates
// must form a high+low pair (RFC 8259 section 8.2; a lone surrogate is not valid Unicode and strict
// parsers such as nlohmann::json reject it). Numbers are limited, as section 6 permits, so that
// every accepted number is a finite nonzero-range double for any parser: at most kMaxNumberDigits
// integer and kMaxNumberDigits fraction digits, at most kMaxExponentDigits exponent digits. Runs of
// whitespace outside strings are at most kMaxWhitespaceRun bytes (a newline and 23 spaces of
// indentation), so a model cannot fill max_tokens with whitespace (the usual failure of unbounded
// JSON grammars; llama.cpp's json.gbnf bounds it likewise). Once the top-level object
// is closed only whitespace may follow and complete() is true.
//
// JsonTokenMask precomputes every vocabulary token's bytes once (per engine) and, per step, sets the
// logits of tokens that cannot continue the text to -inf: one pass over the vocabulary. Inside a
// string, tokens precomputed as "string-safe" (complete UTF-8, no '"', '\\' or control byte: they
// leave the string state as it was) pass at once; every other token goes through a 256-entry
// first-byte filter (and, for tokens starting with whitespace such as " the", a filter on the first
// byte after it), then is checked byte by byte with an early exit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace baleen {

class JsonRecognizer {
 public:
  static constexpr int kDefaultMaxDepth = 64;
  static constexpr int kMaxDepthLimit = 256;
  static constexpr int kMaxNumberDigits = 64;
  static constexpr int kMaxExponentDigits = 2;
  static constexpr int kMaxWhitespaceRun = 24;

  // max_depth: open containers at most, clamped to [1, kMaxDepthLimit].
  explicit JsonRecognizer(int max_depth = kDefaultMaxDepth);

  // Would appending `bytes` keep the text a valid prefix of a JSON object text? An empty span is
  // accepted. Does not change the state.
  bool accepts(std::string_view bytes) const;
  // Appends `bytes`; returns false (and leaves the state unspecified) if they are not accepted.
  bool advance(std::string_view bytes);
  // The top-level object has been closed.
  bool complete() const { return state_.mode == Mode::kDone; }
  // Inside a string, not within an escape or a UTF-8 character.
  bool in_string() const { return state_.mode == Mode::kString; }
  int depth() const { return static_cast<int>(stack_.size()); }
  void reset();

  enum class Mode : uint8_t {
    kStart,         // before the top-level '{' (whitespace allowed)
    kObjFirst,      // after '{': key or '}'
    kObjKey,        // after ',' in an object: key
    kColon,         // after a key
    kValue,         // after ':' or ',' in an array: a value
    kArrFirst,      // after '[': value or ']'
    kAfterValue,    // ',' or the closing bracket of the innermost container
    kString,        // inside a string
    kEscape,        // after a backslash
    kHex,           // inside \uXXXX (hex_left digits to go)
    kLowBackslash,  // after a high-surrogate escape: '\' must follow
    kLowU,          // ... then 'u'
    kUtf8,          // inside a multi-byte UTF-8 character
    kLiteral,       // inside true / false / null
    kNumMinus,      // after '-'
    kNumZero,       // after a leading 0
    kNumInt,        // integer digits (not starting with 0)
    kNumDot,        // after '.'
    kNumFrac,       // fraction digits
    kNumExp,        // after 'e' / 'E'
    kNumExpSign,    // after the exponent's sign
    kNumExpDigits,  // exponent digits
    kDone,          // the top-level object is complete (whitespace only)
  };

  // Everything but the container stack; small and trivially copyable so accepts() can run on a copy.
  struct State {
    Mode mode = Mode::kStart;
    bool key = false;        // the current string is an object key
    bool low = false;        // the current \uXXXX must be a low surrogate (DC00-DFFF)
    uint8_t hex_left = 0;    // kHex: digits still expected
    uint8_t hex_first = 0;   // kHex: value of the first digit (surrogate checks)
    uint8_t utf8_left = 0;   // kUtf8: continuation bytes still expected
    uint8_t utf8_lo = 0x80;  // kUtf8: allowed range of the next continuation byte
    uint8_t utf8_hi = 0xBF;
    uint8_t lit = 0;      // kLiteral: which literal (0 true, 1 false, 2 null)
    uint8_t lit_pos = 0;  // kLiteral: bytes matched so far
    uint8_t digits = 0;   // numbers: digits in the current part (integer, fraction, exponent)
    uint8_t ws_run = 0;   // whitespace bytes since the last other byte outside strings
  };

 private:
  State state_;
  std::vector<uint8_t> stack_;  // '{' or '[' per open container, innermost last
  int max_depth_;
};

// The vocabulary side of JSON mode, built once per engine from the model's tokenizer.
class JsonTokenMask {
 public:
  // n_vocab: the model's logit count (may exceed the tokenizer's vocabulary: those ids are never
  // allowed). Special/control tokens and tokens with no bytes are never allowed; the end ids are
  // the only tokens allowed once the recognizer is complete.
  JsonTokenMask(const Tokenizer& tok, int64_t n_vocab, std::vector<int64_t> end_ids);

  // Sets logits[id] = -inf for every id whose bytes `r` does not accept ([n_vocab] logits).
  // Returns the number of ids left allowed.
  int64_t apply(const JsonRecognizer& r, std::span<float> logits) const;
  // Whether `id` may follow the text `r` has seen (the same rule as apply).
  bool allowed(const JsonRecognizer& r, TokenId id) const;
  const std::string& bytes(TokenId id) const { return bytes_[static_cast<size_t>(id)]; }
  int64_t n_vocab() const { return static_cast<int64_t>(bytes_.size()); }

 private:
  static constexpr uint16_t kNever = 256;
  static constexpr uint16_t kNoWs = 257;
  std::vector<std::string> bytes_;  // [n_vocab]; empty: never allowed
  std::vector<uint16_t> first_;     // [n_vocab] first byte, kNever for tokens never allowed
  // [n_vocab] for tokens starting with whitespace: the first other byte (kNever: none; kNoWs when the
  // token does not start with whitespace). Whitespace leaves every state's options unchanged, so
  // the byte must be one that may follow a single whitespace byte.
  std::vector<uint16_t> after_ws_;
  std::vector<uint8_t> string_safe_;  // [n_vocab]
  std::vector<int64_t> end_ids_;
};

}  // namespace baleen
