// GGUF v3 writer: metadata of every GGUF value type (including nested arrays) and tensors given
// as raw bytes of any ggml type, laid out with the file's alignment. Used by `baleen convert` and
// by tests to generate fixtures. Not thread-safe; build one file per writer.
// Format: github.com/ggml-org/ggml docs/gguf.md (the reader is io/gguf.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/gguf.h"
#include "tensor/dtype.h"

namespace baleen {

// Metadata half of a GGUF writer, shared by GgufWriter (whole file in memory) and
// GgufStreamWriter (io/gguf_stream_writer.h, tensor data streamed to disk).
// One tensor as the GGUF header describes it (the data's byte count included).
struct GgufTensorDecl {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<uint64_t> ne;
  uint64_t n_bytes = 0;
};

// Checks a tensor declaration (name length, at most 4 dims, ne[0] a multiple of the type's block
// size, element count overflow) and returns the byte count its data must have.
// Errors: kInvalidArgument naming the tensor.
Result<uint64_t> gguf_tensor_bytes(const std::string& name, GgmlType type, const std::vector<uint64_t>& ne);

// The serialised file up to the data section: header, metadata, tensor infos, zero padding to
// the alignment. offsets[k]: tensor k's offset in the data section (each aligned; no padding after
// the last tensor); data_size: the data section's length. Shared by both writers so they produce
// identical bytes. Errors: kInvalidArgument for a malformed value or general.alignment.
struct GgufLayout {
  std::string header;
  std::vector<uint64_t> offsets;
  uint64_t alignment = 32;
  uint64_t data_size = 0;
  uint64_t file_size() const { return header.size() + data_size; }
};
Result<GgufLayout> gguf_layout(const std::vector<std::pair<std::string, GgufValue>>& kv,
                               const std::vector<GgufTensorDecl>& tensors);

class GgufMetadataWriter {
 public:
  // Metadata setters. Setting an existing key replaces its value in place (file order is the
  // order of first insertion).
  void set_u8(const std::string& key, uint8_t v);
  void set_i8(const std::string& key, int8_t v);
  void set_u16(const std::string& key, uint16_t v);
  void set_i16(const std::string& key, int16_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_i64(const std::string& key, int64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_array(const std::string& key, GgufArray v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  // Any value (as read by GgufFile, e.g. when copying metadata from another file).
  void set_value(const std::string& key, GgufValue v);
  // Writes `general.alignment` (u32); tensor data is padded to it. Default alignment: 32.
  void set_alignment(uint32_t alignment) { set_u32("general.alignment", alignment); }

  size_t n_metadata() const { return kv_.size(); }

 protected:
  std::vector<std::pair<std::string, GgufValue>> kv_;
};

class GgufWriter : public GgufMetadataWriter {
 public:
  // Adds a tensor: ne in ggml order (ne[0] contiguous), `bytes` exactly
  // ne[0]/block_size*type_size*ne[1]*... long. Errors (kInvalidArgument): duplicate or over-long
  // name, more than 4 dims, ne[0] not a multiple of the block size, byte count mismatch.
  Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, std::string_view bytes);
  Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                    uint64_t n_bytes);

  // The whole file. Errors: kInvalidArgument for a malformed value (array item type differing
  // from its element type) or an invalid general.alignment.
  Result<std::string> serialize() const;
  Status write(const std::string& path) const;

  size_t n_tensors() const { return decls_.size(); }

 private:
  std::vector<GgufTensorDecl> decls_;  // name, type, shape, byte count
  std::vector<std::string> bytes_;     // data of decls_[k]
};

// Value constructors, convenient for building arrays: gguf_u32(7), gguf_string("a"), ...
GgufValue gguf_u8(uint8_t v);
GgufValue gguf_i8(int8_t v);
GgufValue gguf_u16(uint16_t v);
GgufValue gguf_i16(int16_t v);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_u64(uint64_t v);
GgufValue gguf_i64(int64_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_f64(double v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string(std::string v);
GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> items);

}  // namespace baleen
