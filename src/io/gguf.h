// GGUF reader (versions 2 and 3) over a memory-mapped file, with zero-copy tensor views.
// Every count, length, offset and shape product read from the file is overflow-checked and bounded
// by the file size before use; a malformed file yields an Error naming what is wrong, never a crash.
// Format: github.com/ggml-org/ggml docs/gguf.md. Used by model loading, the tokenizer (vocab
// metadata) and `baleen inspect`. The writer lives in io/gguf_writer.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"
#include "tensor/dtype.h"

namespace baleen {

// GGUF metadata value type ids (gguf.md `gguf_metadata_value_type`).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufValue;
struct GgufArray {
  GgufType elem_type = GgufType::kUint8;
  std::vector<GgufValue> items;  // nested arrays allowed
};

struct GgufValue {
  GgufType type = GgufType::kUint8;
  // Integers of every width are held in `u` (unsigned types, bool) or `i` (signed types);
  // kFloat32/kFloat64 in `f`; kString in `s`; kArray in `arr`.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::shared_ptr<GgufArray> arr;

  bool is_integer() const;
  // Value as int64 if it is an integer type that fits; nullopt otherwise.
  std::optional<int64_t> as_int() const;
  // Value as double if numeric (integer or float).
  std::optional<double> as_number() const;
  std::string to_display_string(size_t max_items = 8) const;  // for `baleen inspect`
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<uint64_t> ne;  // ggml order: ne[0] is the contiguous (row) dimension
  uint64_t n_elements = 0;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping
};

class GgufFile {
 public:
  // Maps and parses a GGUF file. Errors: kIo (cannot open), kCorruptFile (format violation with the
  // offending field named), kUnsupported (version or tensor type Baleen does not handle).
  static Result<GgufFile> open(const std::string& path);
  // Parses an already mapped file (takes ownership).
  static Result<GgufFile> parse(MappedFile file);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section
  const std::string& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: kNotFound when missing, kCorruptFile when of the wrong type (message names key).
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;    // any integer type
  Result<double> get_number(std::string_view key) const;  // any numeric type
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<double>> get_number_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  // "general.architecture", or "" when absent.
  std::string architecture() const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace baleen
