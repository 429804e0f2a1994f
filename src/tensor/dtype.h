// The table of tensor element types Baleen reads: GGML's type ids with their block layouts
// (elements per block, bytes per block) exactly as ggml defines them, plus the safetensors dtypes.
// Used by the GGUF/safetensors readers to size tensors and by kernels to pick a dequantizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace baleen {

// Values are GGML's `enum ggml_type` ids as written in GGUF tensor infos.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ4_NL = 20,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;  // ggml's name, e.g. "q4_K"
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t type_size;     // bytes per block
  bool has_dequantize;    // a reference dequantize-to-F32 exists (kernels/ref/dequant.h)
};

// Info for a type id read from a file; nullopt for ids Baleen does not know.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type_id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);

}  // namespace baleen
