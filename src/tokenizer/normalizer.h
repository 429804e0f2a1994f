// Text normalizers a tokenizer.json may name that Baleen supports: none, an empty Sequence, and
// Unicode NFC (Qwen2/Qwen3/R1-Distill-Qwen). NFC uses ICU (libicu); text already in NFC — all
// ASCII in practice — is recognised quickly and left untouched. Used by the BPE tokenizer.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace baleen {

enum class NormalizerKind { kNone, kNfc };

// Writes the normalized form of `text` (valid UTF-8) to *out. Thread-safe.
void normalize(NormalizerKind kind, std::string_view text, std::string* out);
// True when normalize() would return `text` unchanged (cheap check for the common case).
bool is_normalized(NormalizerKind kind, std::string_view text);

}  // namespace baleen
