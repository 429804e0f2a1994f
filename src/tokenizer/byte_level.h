// GPT-2 byte-level mapping: every byte 0..255 is shown as one printable code point so that a
// byte-level BPE vocabulary can be stored as text ("Ġthe" = " the"). Used by the BPE tokenizer
// to turn raw bytes into vocabulary strings and back.
// Table definition (a fact, not code): openai/gpt-2 encoder.py `bytes_to_unicode()` — bytes
// '!'..'~', '¡'..'¬' and '®'..'ÿ' map to the code point of the same value; the remaining 68 bytes
// map, in increasing byte order, to U+0100, U+0101, ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace baleen::byte_level {

// Code point that shows byte b.
char32_t byte_to_code_point(uint8_t b);
// Byte shown by code point cp, or nullopt when cp is not in the table.
std::optional<uint8_t> code_point_to_byte(char32_t cp);

// Appends the byte-level text (UTF-8 of the mapped code points) of `bytes` to out.
void encode(std::string_view bytes, std::string& out);
std::string encode(std::string_view bytes);

// Maps byte-level text back to bytes. Returns nullopt when `text` is not valid UTF-8 or contains a
// code point outside the table (the caller then usually uses the text as is, as HF's ByteLevel
// decoder does per token).
std::optional<std::string> decode(std::string_view text);

}  // namespace baleen::byte_level
