#include "tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

namespace baleen {
namespace {

const icu::Normalizer2* nfc() {
  static const icu::Normalizer2* n = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* p = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? p : nullptr;
  }();
  return n;
}

// Below U+0300 every code point is NFC-stable (no decomposition, no composition with what
// precedes); UTF-8 lead bytes below 0xCC encode only such code points.
bool trivially_nfc(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0xCC) return false;
  }
  return true;
}

}  // namespace

bool is_normalized(NormalizerKind kind, std::string_view text) {
  if (kind == NormalizerKind::kNone || trivially_nfc(text)) return true;
  const icu::Normalizer2* n = nfc();
  if (!n) return true;
  UErrorCode status = U_ZERO_ERROR;
  bool ok = n->isNormalizedUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), status);
  return U_SUCCESS(status) ? ok : true;
}

void normalize(NormalizerKind kind, std::string_view text, std::string* out) {
  out->clear();
  if (is_normalized(kind, text)) {
    out->assign(text);
    return;
  }
  UErrorCode status = U_ZERO_ERROR;
  icu::StringByteSink<std::string> sink(out);
  nfc()->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink, nullptr, status);
  if (U_FAILURE(status)) out->assign(text);
}

}  // namespace baleen
