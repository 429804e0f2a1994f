// The JSON recognizer's transition function (RFC 8259 grammar, sections 2-8) and the token mask.
#include "engine/json_constraint.h"

#include <algorithm>
#include <array>
#include <limits>

namespace baleen {
namespace {

using Mode = JsonRecognizer::Mode;
using State = JsonRecognizer::State;

// The real container stack (advance).
struct VectorStack {
  std::vector<uint8_t>& v;
  size_t size() const { return v.size(); }
  uint8_t top() const { return v.back(); }
  void push(uint8_t c) { v.push_back(c); }
  void pop() { v.pop_back(); }
};

// A copy-free view for accepts(): pops below the base hide entries of the recognizer's stack, pushes
// go to a local array (at most kMaxDepthLimit, since the depth limit bounds them).
struct OverlayStack {
  const std::vector<uint8_t>& base;
  size_t base_len;
  size_t n_pushed = 0;
  std::array<uint8_t, JsonRecognizer::kMaxDepthLimit> pushed;  // left uninitialised on purpose
  explicit OverlayStack(const std::vector<uint8_t>& b) : base(b), base_len(b.size()) {}
  size_t size() const { return base_len + n_pushed; }
  uint8_t top() const { return n_pushed > 0 ? pushed[n_pushed - 1] : base[base_len - 1]; }
  void push(uint8_t c) { pushed[n_pushed++] = c; }
  void pop() {
    if (n_pushed > 0) {
      --n_pushed;
    } else {
      --base_len;
    }
  }
};

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr const char* kLiterals[3] = {"true", "false", "null"};

template <typename Stack>
bool open_container(State& s, Stack& st, int max_depth, uint8_t c) {
  if (static_cast<int>(st.size()) >= max_depth) return false;
  st.push(c);
  s.mode = c == '{' ? Mode::kObjFirst : Mode::kArrFirst;
  return true;
}

template <typename Stack>
void close_container(State& s, Stack& st) {
  st.pop();
  s.mode = st.size() == 0 ? Mode::kDone : Mode::kAfterValue;
}

// The first byte of a value (RFC 8259 section 3: object, array, string, number, literal).
template <typename Stack>
bool begin_value(State& s, Stack& st, int max_depth, uint8_t c) {
  switch (c) {
    case '{':
    case '[':
      return open_container(s, st, max_depth, c);
    case '"':
      s.mode = Mode::kString;
      s.key = false;
      return true;
    case '-':
      s.mode = Mode::kNumMinus;
      return true;
    case '0':
      s.mode = Mode::kNumZero;
      s.digits = 1;
      return true;
    case 't':
    case 'f':
    case 'n':
      s.mode = Mode::kLiteral;
      s.lit = c == 't' ? 0 : c == 'f' ? 1 : 2;
      s.lit_pos = 1;
      return true;
    default:
      if (c >= '1' && c <= '9') {
        s.mode = Mode::kNumInt;
        s.digits = 1;
        return true;
      }
      return false;
  }
}

// The first byte of a multi-byte UTF-8 character: its length and the range of its second byte
// (RFC 3629 section 4: no overlong forms, no surrogates, nothing above U+10FFFF).
bool begin_utf8(State& s, uint8_t c) {
  if (c >= 0xC2 && c <= 0xDF) {
    s.utf8_left = 1, s.utf8_lo = 0x80, s.utf8_hi = 0xBF;
  } else if (c == 0xE0) {
    s.utf8_left = 2, s.utf8_lo = 0xA0, s.utf8_hi = 0xBF;
  } else if (c == 0xED) {
    s.utf8_left = 2, s.utf8_lo = 0x80, s.utf8_hi = 0x9F;
  } else if (c >= 0xE1 && c <= 0xEF) {
    s.utf8_left = 2, s.utf8_lo = 0x80, s.utf8_hi = 0xBF;
  } else if (c == 0xF0) {
    s.utf8_left = 3, s.utf8_lo = 0x90, s.utf8_hi = 0xBF;
  } else if (c >= 0xF1 && c <= 0xF3) {
    s.utf8_left = 3, s.utf8_lo = 0x80, s.utf8_hi = 0xBF;
  } else if (c == 0xF4) {
    s.utf8_left = 3, s.utf8_lo = 0x80, s.utf8_hi = 0x8F;
  } else {
    return false;
  }
  s.mode = Mode::kUtf8;
  return true;
}

// Whitespace between tokens of the grammar, in runs of at most kMaxWhitespaceRun bytes.
bool whitespace(State& s) { return ++s.ws_run <= JsonRecognizer::kMaxWhitespaceRun; }

// One byte. Returns false if the text with it is no longer a prefix of a JSON object text.
template <typename Stack>
bool step(State& s, Stack& st, int max_depth, uint8_t c) {
  if (!is_ws(c)) s.ws_run = 0;  // whitespace inside strings never counts (whitespace() is not called)
  for (;;) {
    switch (s.mode) {
      case Mode::kStart:
        if (is_ws(c)) return whitespace(s);
        return c == '{' && open_container(s, st, max_depth, c);
      case Mode::kObjFirst:
      case Mode::kObjKey:
        if (is_ws(c)) return whitespace(s);
        if (c == '"') {
          s.mode = Mode::kString;
          s.key = true;
          return true;
        }
        if (c == '}' && s.mode == Mode::kObjFirst) {
          close_container(s, st);
          return true;
        }
        return false;
      case Mode::kColon:
        if (is_ws(c)) return whitespace(s);
        if (c != ':') return false;
        s.mode = Mode::kValue;
        return true;
      case Mode::kArrFirst:
        if (c == ']') {
          close_container(s, st);
          return true;
        }
        [[fallthrough]];
      case Mode::kValue:
        if (is_ws(c)) return whitespace(s);
        return begin_value(s, st, max_depth, c);
      case Mode::kAfterValue:
        if (is_ws(c)) return whitespace(s);
        if (c == ',') {
          s.mode = st.top() == '{' ? Mode::kObjKey : Mode::kValue;
          return true;
        }
        if ((c == '}' && st.top() == '{') || (c == ']' && st.top() == '[')) {
          close_container(s, st);
          return true;
        }
        return false;
      case Mode::kString:
        if (c == '"') {
          s.mode = s.key ? Mode::kColon : Mode::kAfterValue;
          return true;
        }
        if (c == '\\') {
          s.mode = Mode::kEscape;
          return true;
        }
        if (c < 0x20) return false;  // control characters must be escaped (section 7)
        if (c < 0x80) return true;
        return begin_utf8(s, c);
      case Mode::kUtf8:
        if (c < s.utf8_lo || c > s.utf8_hi) return false;
        s.utf8_lo = 0x80, s.utf8_hi = 0xBF;
        if (--s.utf8_left == 0) s.mode = Mode::kString;
        return true;
      case Mode::kEscape:
        switch (c) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            s.mode = Mode::kString;
            return true;
          case 'u':
            s.mode = Mode::kHex;
            s.hex_left = 4;
            s.low = false;
            return true;
          default:
            return false;
        }
      case Mode::kLowBackslash:
        if (c != '\\') return false;
        s.mode = Mode::kLowU;
        return true;
      case Mode::kLowU:
        if (c != 'u') return false;
        s.mode = Mode::kHex;
        s.hex_left = 4;
        s.low = true;
        return true;
      case Mode::kHex: {
        const int v = hex_value(c);
        if (v < 0) return false;
        const int pos = 4 - s.hex_left;
        if (s.low) {
          // The second half of a pair: DC00-DFFF.
          if (pos == 0 && v != 0xD) return false;
          if (pos == 1 && v < 0xC) return false;
        } else if (pos == 0) {
          s.hex_first = static_cast<uint8_t>(v);
        } else if (pos == 1 && s.hex_first == 0xD) {
          if (v >= 0xC) return false;        // a lone low surrogate
          if (v >= 0x8) s.hex_first = 0x10;  // a high surrogate: a low one must follow
        }
        if (--s.hex_left > 0) return true;
        if (!s.low && s.hex_first == 0x10) {
          s.mode = Mode::kLowBackslash;
        } else {
          s.mode = Mode::kString;
        }
        s.low = false;
        return true;
      }
      case Mode::kLiteral: {
        const char* lit = kLiterals[s.lit];
        if (c != static_cast<uint8_t>(lit[s.lit_pos])) return false;
        if (lit[++s.lit_pos] == '\0') s.mode = Mode::kAfterValue;
        return true;
      }
      // Numbers (section 6): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
      case Mode::kNumMinus:
        if (!is_digit(c)) return false;
        s.mode = c == '0' ? Mode::kNumZero : Mode::kNumInt;
        s.digits = 1;
        return true;
      case Mode::kNumZero:
      case Mode::kNumInt:
        if (is_digit(c) && s.mode == Mode::kNumInt) return ++s.digits <= JsonRecognizer::kMaxNumberDigits;
        if (c == '.') {
          s.mode = Mode::kNumDot;
          return true;
        }
        if (c == 'e' || c == 'E') {
          s.mode = Mode::kNumExp;
          return true;
        }
        s.mode = Mode::kAfterValue;  // the number ended; c belongs to what follows
        continue;
      case Mode::kNumDot:
        if (!is_digit(c)) return false;
        s.mode = Mode::kNumFrac;
        s.digits = 1;
        return true;
      case Mode::kNumFrac:
        if (is_digit(c)) return ++s.digits <= JsonRecognizer::kMaxNumberDigits;
        if (c == 'e' || c == 'E') {
          s.mode = Mode::kNumExp;
          return true;
        }
        s.mode = Mode::kAfterValue;
        continue;
      case Mode::kNumExp:
        if (c == '+' || c == '-') {
          s.mode = Mode::kNumExpSign;
          return true;
        }
        [[fallthrough]];
      case Mode::kNumExpSign:
        if (!is_digit(c)) return false;
        s.mode = Mode::kNumExpDigits;
        s.digits = 1;
        return true;
      case Mode::kNumExpDigits:
        if (is_digit(c)) return ++s.digits <= JsonRecognizer::kMaxExponentDigits;
        s.mode = Mode::kAfterValue;
        continue;
      case Mode::kDone:
        return is_ws(c) && whitespace(s);
    }
    return false;
  }
}

}  // namespace

JsonRecognizer::JsonRecognizer(int max_depth) : max_depth_(std::clamp(max_depth, 1, kMaxDepthLimit)) {
  stack_.reserve(static_cast<size_t>(max_depth_));
}

void JsonRecognizer::reset() {
  state_ = State{};
  stack_.clear();
}

bool JsonRecognizer::accepts(std::string_view bytes) const {
  State s = state_;
  OverlayStack st(stack_);
  for (char ch : bytes) {
    if (!step(s, st, max_depth_, static_cast<uint8_t>(ch))) return false;
  }
  return true;
}

bool JsonRecognizer::advance(std::string_view bytes) {
  VectorStack st{stack_};
  for (char ch : bytes) {
    if (!step(state_, st, max_depth_, static_cast<uint8_t>(ch))) return false;
  }
  return true;
}

JsonTokenMask::JsonTokenMask(const Tokenizer& tok, int64_t n_vocab, std::vector<int64_t> end_ids)
    : bytes_(static_cast<size_t>(std::max<int64_t>(n_vocab, 0))),
      first_(bytes_.size(), kNever),
      after_ws_(bytes_.size(), kNoWs),
      string_safe_(bytes_.size(), 0),
      end_ids_(std::move(end_ids)) {
  const auto n_tok = static_cast<int64_t>(tok.vocab_size());
  JsonRecognizer in_string;
  in_string.advance("{\"");
  for (int64_t id = 0; id < n_vocab && id < n_tok; ++id) {
    const auto t = static_cast<TokenId>(id);
    if (tok.is_special(t)) continue;
    const auto i = static_cast<size_t>(id);
    bytes_[i] = tok.token_to_bytes(t);
    if (bytes_[i].empty()) continue;
    first_[i] = static_cast<uint8_t>(bytes_[i][0]);
    if (is_ws(static_cast<uint8_t>(bytes_[i][0]))) {
      const size_t k = bytes_[i].find_first_not_of(" \t\n\r");
      after_ws_[i] = k == std::string::npos ? kNever : static_cast<uint8_t>(bytes_[i][k]);
    }
    // Safe inside a string: accepted there and still in the plain string state afterwards.
    JsonRecognizer probe = in_string;
    string_safe_[i] = probe.advance(bytes_[i]) && probe.in_string() ? 1 : 0;
  }
}

bool JsonTokenMask::allowed(const JsonRecognizer& r, TokenId id) const {
  if (id < 0 || id >= n_vocab()) return false;
  if (r.complete()) return std::find(end_ids_.begin(), end_ids_.end(), int64_t{id}) != end_ids_.end();
  const std::string& b = bytes_[static_cast<size_t>(id)];
  return !b.empty() && r.accepts(b);
}

int64_t JsonTokenMask::apply(const JsonRecognizer& r, std::span<float> logits) const {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = std::min(logits.size(), bytes_.size());
  for (size_t i = n; i < logits.size(); ++i) logits[i] = kNegInf;
  int64_t n_allowed = 0;
  if (r.complete()) {
    for (size_t i = 0; i < n; ++i) {
      const bool end = std::find(end_ids_.begin(), end_ids_.end(), static_cast<int64_t>(i)) != end_ids_.end();
      if (end) {
        ++n_allowed;
      } else {
        logits[i] = kNegInf;
      }
    }
    return n_allowed;
  }
  // Which single bytes may come next: most tokens are rejected by their first byte alone.
  std::array<uint8_t, kNever + 1> first_ok;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    first_ok[static_cast<size_t>(b)] = r.accepts(std::string_view(&c, 1)) ? 1 : 0;
  }
  first_ok[kNever] = 0;
  // Which bytes may follow one whitespace byte (kNever: a token of whitespace only, checked fully).
  std::array<uint8_t, kNoWs + 1> ws_then_ok;
  for (int b = 0; b < 256; ++b) {
    const char two[2] = {' ', static_cast<char>(b)};
    ws_then_ok[static_cast<size_t>(b)] = r.accepts(std::string_view(two, 2)) ? 1 : 0;
  }
  ws_then_ok[kNever] = 1;
  ws_then_ok[kNoWs] = 1;
  const uint8_t safe_ok = r.in_string() ? 1 : 0;
  // Branch-free filters (the tokens passing them are few, except inside strings where most are
  // string-safe); only a token that passes and is not settled yet is checked byte by byte.
  for (size_t i = 0; i < n; ++i) {
    const uint8_t safe = string_safe_[i] & safe_ok;
    const uint8_t pass = first_ok[first_[i]] & ws_then_ok[after_ws_[i]];
    bool ok = safe != 0;
    if ((pass & ~safe) != 0) ok = bytes_[i].size() == 1 || r.accepts(bytes_[i]);
    n_allowed += ok;
    logits[i] = ok ? logits[i] : kNegInf;
  }
  return n_allowed;
}

}  // namespace baleen
