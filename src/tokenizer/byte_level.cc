#include "tokenizer/byte_level.h"

#include <array>

#include "core/utf8.h"

namespace baleen::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> to_cp{};
  std::array<int16_t, 512> from_cp{};  // every mapped code point is < 512
  std::array<std::string, 256> utf8{};
};

bool shows_itself(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

Tables build() {
  Tables t;
  t.from_cp.fill(-1);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    char32_t cp = shows_itself(b) ? static_cast<char32_t>(b) : next++;
    t.to_cp[b] = cp;
    t.from_cp[cp] = static_cast<int16_t>(b);
    t.utf8[b] = utf8::encode(cp);
  }
  return t;
}

const Tables& tables() {
  static const Tables t = build();
  return t;
}

}  // namespace

char32_t byte_to_code_point(uint8_t b) { return tables().to_cp[b]; }

std::optional<uint8_t> code_point_to_byte(char32_t cp) {
  if (cp >= 512) return std::nullopt;
  int16_t b = tables().from_cp[cp];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

void encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (char c : bytes) out += t.utf8[static_cast<uint8_t>(c)];
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  encode(bytes, out);
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    size_t len = utf8::decode(text, pos, &cp);
    if (cp == utf8::kReplacement) return std::nullopt;  // invalid UTF-8 (or a literal U+FFFD: not in the table)
    auto b = code_point_to_byte(cp);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    pos += len;
  }
  return out;
}

}  // namespace baleen::byte_level
