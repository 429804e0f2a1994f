// safetensors reader: single files and sharded folders (model.safetensors.index.json), memory-mapped
// with zero-copy tensor views. Validates everything the reference implementation does (header size
// cap, header inside the file, known dtypes, overflow-checked shapes, byte length = elements x dtype
// size, offsets contiguous and covering the data section) plus duplicate names and index/shard
// agreement; a malformed file yields an Error naming the problem, never a crash.
// Used by HF-folder model loading, FP8 dequantization (io/fp8_weights.h), convert and `baleen inspect`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"

namespace baleen {

// Element types of the safetensors format, spelled as in the header ("F32", "BF16", "F8_E4M3", ...).
enum class SafetensorsDtype : uint8_t {
  kBool,
  kU8,
  kI8,
  kU16,
  kI16,
  kF16,
  kBF16,
  kU32,
  kI32,
  kF32,
  kU64,
  kI64,
  kF64,
  kF8E4M3,  // float8_e4m3fn (DeepSeek FP8 weights)
  kF8E5M2,
};

// The header spelling, e.g. "F8_E4M3".
const char* safetensors_dtype_name(SafetensorsDtype dtype);
// Parses a header spelling; nullopt for dtypes Baleen does not know.
std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name);
// Bytes per element (1, 2, 4 or 8).
uint32_t safetensors_dtype_size(SafetensorsDtype dtype);

// Header caps of the reference implementation.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
// Largest accepted shape entry / element count (keeps every byte count far from uint64 overflow).
constexpr uint64_t kSafetensorsMaxDim = uint64_t{1} << 53;
constexpr size_t kSafetensorsMaxRank = 16;

// A zero-copy view of one tensor; `data` points into the owning file's mapping and lives as long
// as the SafetensorsFile / SafetensorsModel it came from. Data may be unaligned.
struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;  // row-major, PyTorch order: a linear weight is [out, in]
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  uint64_t data_offset = 0;  // offset of `data` from the start of the data section
  std::string file;          // path of the file holding it (for messages)

  uint64_t n_elements() const;
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), static_cast<size_t>(n_bytes)}; }
  // "model.norm.weight BF16 [256]"
  std::string describe() const;
};

// One .safetensors file. Move-only (owns the mapping); views stay valid across moves.
class SafetensorsFile {
 public:
  // Maps and validates `path`. Errors: kIo/kNotFound from the OS; kCorruptFile for every format
  // violation (message names the tensor and the rule); kUnsupported for an unknown dtype.
  static Result<SafetensorsFile> open(const std::string& path);

  SafetensorsFile() = default;
  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::string& path() const { return file_.path(); }
  // Tensors sorted by name.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // nullptr when absent.
  const SafetensorsTensor* find(std::string_view name) const;
  // The header's "__metadata__" (string -> string); empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_bytes() const { return header_bytes_; }

 private:
  MappedFile file_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::map<std::string, std::string> metadata_;
  uint64_t header_bytes_ = 0;
};

// A whole checkpoint: one model.safetensors, or the shards named by model.safetensors.index.json.
class SafetensorsModel {
 public:
  // `path` is a folder (uses model.safetensors.index.json when present, else model.safetensors),
  // an index .json file, or a single .safetensors file. With an index, every shard must hold exactly
  // the tensors the weight_map assigns to it: a listed tensor missing from its shard, a tensor in a
  // shard the index does not assign to it (including the same tensor in two shards), a shard path
  // leaving the folder, or a missing shard file is an error naming the tensor/shard.
  static Result<SafetensorsModel> open(const std::string& path);
  static Result<SafetensorsModel> open_folder(const std::string& dir) { return open(dir); }

  SafetensorsModel() = default;
  SafetensorsModel(SafetensorsModel&&) noexcept = default;
  SafetensorsModel& operator=(SafetensorsModel&&) noexcept = default;

  // nullptr when absent.
  const SafetensorsTensor* find(std::string_view name) const;
  // All tensors of all shards, sorted by name.
  const std::vector<const SafetensorsTensor*>& tensors() const { return tensors_; }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // The index's "metadata" values that are strings or numbers (e.g. total_size), as text.
  const std::map<std::string, std::string>& index_metadata() const { return index_metadata_; }

 private:
  Status build_lookup();
  std::vector<SafetensorsFile> shards_;
  std::vector<const SafetensorsTensor*> tensors_;
  std::unordered_map<std::string, const SafetensorsTensor*> by_name_;
  std::map<std::string, std::string> index_metadata_;
};

// Widens a tensor to float32 (row-major). F32/F16/BF16 exactly, F8_E4M3 as raw e4m3 values (no block
// scale; see io/fp8_weights.h), integer types and BOOL by value conversion, F64 rounded.
// F8_E5M2 exactly (the top byte of an F16). Integers above 2^24 are rounded.
Result<std::vector<float>> to_f32(const SafetensorsTensor& tensor);

}  // namespace baleen
