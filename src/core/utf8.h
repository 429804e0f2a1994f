// UTF-8 helpers shared by the tokenizers, the JSON-facing code and the streaming decoder:
// decoding one code point with validation, encoding, and finding where an incomplete trailing
// sequence begins (so a stream never emits half a character).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace baleen::utf8 {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point at s[pos]. Returns its length in bytes (1..4) and stores the code point in
// *cp; on an invalid or truncated sequence stores kReplacement and returns 1.
size_t decode(std::string_view s, size_t pos, char32_t* cp);

// Appends the UTF-8 encoding of cp (cp must be <= 0x10FFFF and not a surrogate; otherwise U+FFFD).
void append(std::string& out, char32_t cp);
std::string encode(char32_t cp);

// True when s is entirely well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF).
bool is_valid(std::string_view s);

// Number of bytes at the end of s that form the start of a UTF-8 sequence that is not yet complete
// (0 when s ends on a character boundary or the tail cannot become valid).
size_t incomplete_suffix_length(std::string_view s);

// Splits s into code points (invalid bytes become U+FFFD).
std::u32string to_u32(std::string_view s);

}  // namespace baleen::utf8
