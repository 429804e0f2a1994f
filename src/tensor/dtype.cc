#include "tensor/dtype.h"

#include <array>

#include "core/assert.h"

namespace baleen {
namespace {

// Block layouts from ggml (ggml-common.h / docs/gguf.md): elements per block and bytes per block.
// K-quants use super-blocks of QK_K = 256 elements; the legacy quants blocks of 32.
constexpr std::array<GgmlTypeInfo, 21> kTypes = {{
    {GgmlType::kF32, "f32", 1, 4, true},         {GgmlType::kF16, "f16", 1, 2, true},
    {GgmlType::kQ4_0, "q4_0", 32, 18, true},      // f16 d, 16 B nibbles
    {GgmlType::kQ4_1, "q4_1", 32, 20, true},      // f16 d, f16 m, 16 B nibbles
    {GgmlType::kQ5_0, "q5_0", 32, 22, true},      // f16 d, 4 B high bits, 16 B nibbles
    {GgmlType::kQ5_1, "q5_1", 32, 24, true},      // f16 d, f16 m, 4 B high bits, 16 B nibbles
    {GgmlType::kQ8_0, "q8_0", 32, 34, true},      // f16 d, 32 x int8
    {GgmlType::kQ8_1, "q8_1", 32, 36, true},      // f16 d, f16 s (= d * sum q), 32 x int8
    {GgmlType::kQ2_K, "q2_K", 256, 84, true},     // 16 B scales, 64 B quants, f16 d, f16 dmin
    {GgmlType::kQ3_K, "q3_K", 256, 110, true},    // 32 B hmask, 64 B quants, 12 B scales, f16 d
    {GgmlType::kQ4_K, "q4_K", 256, 144, true},    // f16 d, f16 dmin, 12 B scales, 128 B quants
    {GgmlType::kQ5_K, "q5_K", 256, 176, true},    // f16 d, f16 dmin, 12 B scales, 32 B qh, 128 B ql
    {GgmlType::kQ6_K, "q6_K", 256, 210, true},    // 128 B ql, 64 B qh, 16 x int8 scales, f16 d
    {GgmlType::kQ8_K, "q8_K", 256, 292, true},    // f32 d, 256 x int8, 16 x int16 bsums
    {GgmlType::kIQ4_NL, "iq4_nl", 32, 18, true},  // f16 d, 16 B nibbles into a fixed 16-entry table
    {GgmlType::kI8, "i8", 1, 1, false},          {GgmlType::kI16, "i16", 1, 2, false},
    {GgmlType::kI32, "i32", 1, 4, false},        {GgmlType::kI64, "i64", 1, 8, false},
    {GgmlType::kF64, "f64", 1, 8, false},        {GgmlType::kBF16, "bf16", 1, 2, true},
}};

}  // namespace

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type_id) {
  for (const GgmlTypeInfo& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  for (const GgmlTypeInfo& t : kTypes) {
    if (t.type == type) return t;
  }
  BALEEN_ASSERT(false, "GgmlType %u missing from the type table", static_cast<uint32_t>(type));
  return kTypes[0];
}

}  // namespace baleen
